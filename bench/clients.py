#!/usr/bin/env python3
"""Creates N client_credentials clients through the admin API (as an operator would) and
writes one `Authorization` header value per client to OUT, for bench/token.lua.

    bench/clients.py BASE_URL ADMIN_TOKEN COUNT PREFIX OUT

Secrets are imported: 256 random bits as hex, so the server hashes them with the fast keyed
hash exactly like the secrets it generates (README: Secrets)."""
import base64, http.client, json, secrets, sys, threading, urllib.parse

base, token, count, prefix, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
u = urllib.parse.urlparse(base)
creds = [None] * count
failures = []

def work(start, step):
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    for i in range(start, count, step):
        cid, secret = f"{prefix}{i:05d}", secrets.token_hex(32)
        body = json.dumps({"client_id": cid, "name": cid, "grant_types": ["client_credentials"],
                           "scopes": ["read"], "default_scopes": ["read"], "client_secret": secret})
        conn.request("POST", "/admin/v1/tenants/default/clients", body,
                     {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        r = conn.getresponse()
        r.read()
        if r.status != 201:
            failures.append((cid, r.status))
            continue
        creds[i] = "Basic " + base64.b64encode(f"{cid}:{secret}".encode()).decode()

threads = [threading.Thread(target=work, args=(k, 4)) for k in range(4)]
for t in threads: t.start()
for t in threads: t.join()
if failures:
    sys.exit(f"creating clients failed: {failures[:5]} ({len(failures)} in all)")
with open(out, "w") as f:
    f.write("\n".join(creds) + "\n")
