-- wrk script: POST /oauth/token (client_credentials, client_secret_basic) with a DPoP proof,
-- each proof used once: $BENCH_PROOFS holds one per line (examples/dpop_proofs.rs), thread k
-- of n takes lines k, k+n, k+2n, … Running out of proofs would replay them (and be refused),
-- so make more than the run can use. The client is the first line of $BENCH_CREDS.
local auth
for line in io.lines(os.getenv("BENCH_CREDS")) do
  if #line > 0 then auth = line; break end
end

local threads = 0
function setup(thread)
  thread:set("id", threads)
  thread:set("n", 0)
  threads = threads + 1
end

local reqs, i = {}, 0
function init(args)
  local k = 0
  local step = tonumber(os.getenv("BENCH_THREADS") or "1")
  for proof in io.lines(os.getenv("BENCH_PROOFS")) do
    if k % step == (id or 0) and #proof > 0 then
      reqs[#reqs + 1] = wrk.format("POST", "/oauth/token",
        { ["Authorization"] = auth, ["DPoP"] = proof,
          ["Content-Type"] = "application/x-www-form-urlencoded" },
        "grant_type=client_credentials")
    end
    k = k + 1
  end
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end

-- The RESULT line (bench/run runs wrk from the repository root).
dofile("bench/report.lua")
