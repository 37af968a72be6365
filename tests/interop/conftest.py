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


def start_tessera(**extra_env):
    """Starts `tessera serve` on a free port with `extra_env`; returns (base URL, process)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    workdir = tempfile.mkdtemp(prefix="tessera-interop-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(TESSERA_LISTEN=f"127.0.0.1:{port}", TESSERA_ISSUER=base, TESSERA_ADMIN_TOKEN=ADMIN_TOKEN)
    env.update(extra_env)
    log = open(os.path.join(workdir, "server.log"), "w")
    proc = subprocess.Popen([BIN, "serve"], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    wait_ready(f"{base}/readyz", proc)
    return base, proc


def wait_ready(url, proc):
    """Waits until `url` answers 200; kills `proc` and fails if it never does."""
    for _ in range(400):
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{url} did not become ready")


def stop_tessera(proc):
    proc.terminate()
    assert proc.wait(timeout=30) == 0, "SIGTERM exits 0"


@pytest.fixture(scope="module")
def server():
    base, proc = start_tessera()
    yield base
    stop_tessera(proc)


def cli(base, *args):
    env = dict(os.environ, TESSERA_URL=base, TESSERA_ADMIN_TOKEN=ADMIN_TOKEN)
    out = subprocess.run([BIN, *args, "--json"], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def admin(base, method, path, body=None):
    """An admin API call with the bootstrap token; returns the JSON answer."""
    r = requests.request(method, f"{base}{path}", json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert r.status_code < 300, r.text
    return r.json() if r.content else None
