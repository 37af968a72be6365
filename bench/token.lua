-- wrk script: POST /oauth/token (client_credentials, client_secret_basic), rotating through
-- the Authorization header values in $BENCH_CREDS (one per line; one line = one client).
-- Prints one machine-readable RESULT line for bench/run.
local creds = {}
for line in io.lines(os.getenv("BENCH_CREDS")) do
  if #line > 0 then creds[#creds + 1] = line end
end

local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

local reqs, i = {}, 0
function init(args)
  -- Pre-format every request once; threads start at different clients.
  for k, auth in ipairs(creds) do
    reqs[k] = wrk.format("POST", "/oauth/token",
      { ["Authorization"] = auth, ["Content-Type"] = "application/x-www-form-urlencoded" },
      "grant_type=client_credentials")
  end
  i = ((id or 0) * math.floor(#reqs / 2)) % #reqs
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end

-- The RESULT line (bench/run runs wrk from the repository root).
dofile("bench/report.lua")
