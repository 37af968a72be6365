"""Shared fixtures of the interop tests: the real `tessera` binary on a free port, and the
admin API and CLI against it."""

import json
import os
import socket
import subprocess
import tempfile
import time

import pytest
import requests

BIN = os.environ.get("TESSERA_BIN", os.path.join(os.path.dirname(__file__), "..", "..", "target", "debug", "tessera"))
ADMIN_TOKEN = "interop-admin-token-0123456789abcdef0123456789"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    workdir = tempfile.mkdtemp(prefix="tessera-interop-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(TESSERA_LISTEN=f"127.0.0.1:{port}", TESSERA_ISSUER=base, TESSERA_ADMIN_TOKEN=ADMIN_TOKEN)
    log = open(os.path.join(workdir, "server.log"), "w")
    proc = subprocess.Popen([BIN, "serve"], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(200):
        try:
            if requests.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except requests.ConnectionError:
            time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("tessera did not become ready")
    yield base
    proc.terminate()
    assert proc.wait(timeout=30) == 0, "SIGTERM exits 0"


def cli(base, *args):
    env = dict(os.environ, TESSERA_URL=base, TESSERA_ADMIN_TOKEN=ADMIN_TOKEN)
    out = subprocess.run([BIN, *args, "--json"], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def admin(base, method, path, body=None):
    """An admin API call with the bootstrap token; returns the JSON answer."""
    r = requests.request(method, f"{base}{path}", json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert r.status_code < 300, r.text
    return r.json() if r.content else None
