"""Interop: node-oidc-provider (panva's OpenID certified provider, oidc_op.mjs) as a tenant's
upstream OpenID provider of the real binary. Its ID token is exchanged at
`/auth/user/oidcToken`, and "sign in with" on Tessera's login page runs end to end through the
provider's own login and consent pages to a Tessera code and token. The provider listens on
127.0.0.1 over http, which Tessera only reaches because `upstream.allowed_networks` allows it
(SPEC §7.1); without the allowance the same registration is refused."""

import base64
import hashlib
import html
import json
import pathlib
import re
import secrets
import subprocess
import threading
import urllib.parse

import pytest
import requests

from conftest import ADMIN_TOKEN, admin, free_port, start_tessera, stop_tessera

HERE = pathlib.Path(__file__).parent
CLIENT_AT_OP = "tessera-at-node-op"
EMAIL = "ann@example.com"
APP_REDIRECT = "http://127.0.0.1:9/cb"


def pkce():
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def claims_of(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def form_of(page, action_part):
    """The first form whose action contains `action_part`: (action, {name: value} of its inputs)."""
    for m in re.finditer(r'<form[^>]*action="([^"]*)"[^>]*>(.*?)</form>', page, re.S):
        action = html.unescape(m.group(1))
        if action_part in action:
            fields = {}
            for tag in re.findall(r"<(?:input|button)[^>]*>", m.group(2)):
                name = re.search(r'name="([^"]*)"', tag)
                value = re.search(r'value="([^"]*)"', tag)
                if name:
                    fields[html.unescape(name.group(1))] = html.unescape(value.group(1)) if value else ""
            return action, fields
    raise AssertionError(f"no form with action {action_part!r} in:\n{page[:2000]}")


def through_the_provider(session, url, op, stop_at):
    """Follows the provider's redirects and answers its login and consent pages as the user
    `EMAIL`, until a redirect leaves for `stop_at`; returns that URL. Bounded."""
    method, data = "GET", None
    for _ in range(12):
        r = session.request(method, url, data=data, allow_redirects=False, timeout=10)
        if r.is_redirect:
            url = urllib.parse.urljoin(url, r.headers["location"])
            if url.startswith(stop_at):
                return url
            assert url.startswith(op), f"the provider sent the browser to {url}"
            method, data = "GET", None
            continue
        assert r.status_code == 200, f"{r.status_code} at {url}: {r.text[:500]}"
        action, fields = form_of(r.text, "/interaction/")
        if fields.get("prompt") == "login":
            fields.update(login=EMAIL, password="any password")
        url, method, data = urllib.parse.urljoin(url, action), "POST", fields
    raise AssertionError("the provider never sent the browser back")


@pytest.fixture(scope="module")
def tessera():
    base, proc = start_tessera(TESSERA_UPSTREAM_ALLOWED_NETWORKS="127.0.0.0/8")
    yield base
    stop_tessera(proc)


@pytest.fixture(scope="module")
def op(tessera):
    port = free_port()
    callback = f"{tessera}/login/upstream/callback"
    proc = subprocess.Popen(["node", str(HERE / "oidc_op.mjs"), str(port), CLIENT_AT_OP, callback],
                            cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    watchdog = threading.Timer(30, proc.kill)
    watchdog.start()
    seen = []
    for line in proc.stdout:  # warnings (runtime, development keys) come first
        seen.append(line)
        if line.startswith("ready "):
            break
    watchdog.cancel()
    if not seen or not seen[-1].startswith("ready "):
        proc.kill()
        raise RuntimeError("node-oidc-provider did not start:\n" + "".join(seen))
    issuer = seen[-1].split()[1]
    # Keep reading its output so that the pipe never fills.
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    yield issuer
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def tenant(tessera, op):
    """Tenant `nodeop` trusts the provider and has the user, a calling client and a login client."""
    admin(tessera, "POST", "/admin/v1/tenants", {"id": "nodeop", "name": "Node OP"})
    admin(tessera, "POST", "/admin/v1/tenants/nodeop/users", {"email": EMAIL, "name": "Ann"})
    caller = admin(tessera, "POST", "/admin/v1/tenants/nodeop/clients", {
        "client_id": "nodeop-app", "name": "App", "grant_types": ["client_credentials"], "scopes": []})
    admin(tessera, "POST", "/admin/v1/tenants/nodeop/clients", {
        "client_id": "nodeop-spa", "name": "SPA", "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code"], "scopes": ["openid", "email"],
        "redirect_uris": [APP_REDIRECT]})
    admin(tessera, "POST", "/admin/v1/tenants/nodeop/upstreams",
          {"id": "node", "issuer": op, "client_id": CLIENT_AT_OP, "name": "Node OP"})
    return caller


def test_the_provider_is_refused_as_an_upstream_without_the_allowance(op):
    base, proc = start_tessera()
    try:
        admin(base, "POST", "/admin/v1/tenants", {"id": "strict", "name": "Strict"})
        r = requests.post(f"{base}/admin/v1/tenants/strict/upstreams",
                          json={"issuer": op, "client_id": CLIENT_AT_OP},
                          headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=10)
        assert r.status_code == 400, r.text
        assert [e["pointer"] for e in r.json()["karmoErrors"]] == ["/issuer"]
    finally:
        stop_tessera(proc)


def test_an_id_token_from_node_oidc_provider_becomes_a_tessera_user_token(tessera, op, tenant):
    # The ID token, as any relying party of the provider gets it: code flow with PKCE.
    callback = f"{tessera}/login/upstream/callback"
    verifier, challenge = pkce()
    nonce = secrets.token_urlsafe(16)
    authorize = f"{op}/auth?" + urllib.parse.urlencode({
        "client_id": CLIENT_AT_OP, "response_type": "code", "redirect_uri": callback,
        "scope": "openid email profile", "state": "s1", "nonce": nonce,
        "code_challenge": challenge, "code_challenge_method": "S256"})
    back = through_the_provider(requests.Session(), authorize, op, callback)
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)["code"][0]
    r = requests.post(f"{op}/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": callback,
        "client_id": CLIENT_AT_OP, "code_verifier": verifier}, timeout=10)
    assert r.status_code == 200, r.text
    id_token = r.json()["id_token"]
    assert claims_of(id_token)["email"] == EMAIL

    bearer = requests.post(f"{tessera}/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(tenant["client_id"], tenant["client_secret"]), timeout=10).json()["access_token"]
    r = requests.post(f"{tessera}/auth/user/oidcToken", json={"oidc_token": id_token},
                      headers={"Authorization": f"Bearer {bearer}"}, timeout=10)
    assert r.status_code == 200, r.text
    claims = claims_of(r.json()["access_token"])
    assert (claims["token_use"], claims["email"], claims["tenant_id"]) == ("user", EMAIL, "nodeop")


def test_sign_in_with_node_oidc_provider_runs_through_its_pages_to_a_tessera_code(tessera, op, tenant):
    s = requests.Session()
    verifier, challenge = pkce()
    authorize = f"{tessera}/oauth/authorize?" + urllib.parse.urlencode({
        "client_id": "nodeop-spa", "response_type": "code", "redirect_uri": APP_REDIRECT,
        "scope": "openid email", "state": "app-state", "nonce": "app-nonce",
        "code_challenge": challenge, "code_challenge_method": "S256"})
    page = s.get(authorize, timeout=10)
    assert page.status_code == 200 and "Sign in with Node OP" in page.text, page.text[:2000]
    action, fields = form_of(page.text, "/login/upstream")
    fields["upstream"] = "node"
    out = s.post(urllib.parse.urljoin(tessera, action), data=fields, allow_redirects=False, timeout=10)
    assert out.status_code == 303, out.text
    to_op = out.headers["location"]
    assert to_op.startswith(f"{op}/auth?")

    back = through_the_provider(s, to_op, op, f"{tessera}/login/upstream/callback")
    done = s.get(back, allow_redirects=False, timeout=10)
    assert done.status_code == 303, done.text
    to_app = done.headers["location"]
    assert to_app.startswith(APP_REDIRECT), to_app
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(to_app).query)
    assert q["state"] == ["app-state"]

    r = requests.post(f"{tessera}/oauth/token", data={
        "grant_type": "authorization_code", "code": q["code"][0], "redirect_uri": APP_REDIRECT,
        "client_id": "nodeop-spa", "code_verifier": verifier}, timeout=10)
    assert r.status_code == 200, r.text
    id_claims = claims_of(r.json()["id_token"])
    assert (id_claims["iss"], id_claims["email"], id_claims["nonce"]) == (tessera, EMAIL, "app-nonce")
    events = admin(tessera, "GET", "/admin/v1/audit?limit=1000")["items"]
    assert any(e["event"] == "login.succeeded" and e["actor"] == "upstream:node" for e in events)
