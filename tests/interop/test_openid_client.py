"""Interop: Node's openid-client, an independent certified OpenID Connect relying party, runs the
authorization code + PKCE flow against the real binary from discovery only (oidc_rp.mjs)."""

import json
import pathlib
import subprocess

from conftest import admin

HERE = pathlib.Path(__file__).parent
ARTIFACTS = HERE.parent.parent / "artifacts"


def test_openid_client_completes_the_code_flow_with_pkce_and_verifies_the_id_token(server):
    admin(server, "POST", "/admin/v1/tenants", {"id": "rp", "name": "RP"})
    user = admin(server, "POST", "/admin/v1/tenants/rp/users",
                 {"email": "ann@example.com", "name": "Ann Example", "password": "correct horse battery"})
    admin(server, "POST", "/admin/v1/tenants/rp/clients", {
        "client_id": "node-rp", "name": "Node RP", "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "scopes": ["openid", "profile", "email", "offline_access"],
        "redirect_uris": ["http://127.0.0.1:9/cb"]})

    out = subprocess.run(
        ["node", str(HERE / "oidc_rp.mjs"), server, "node-rp", "http://127.0.0.1:9/cb",
         "ann@example.com", "correct horse battery"],
        cwd=HERE, capture_output=True, text=True, timeout=60)

    assert out.returncode == 0, out.stderr
    print(out.stdout)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "openid-client-output.json").write_text(out.stdout)
    result = json.loads(out.stdout)
    claims = result["id_token_claims"]
    assert claims["iss"] == server
    assert claims["aud"] == "node-rp"
    assert claims["sub"] == user["id"]
    assert claims["email"] == "ann@example.com" and claims["name"] == "Ann Example"
    assert "at_hash" in claims and "nonce" in claims and "auth_time" in claims
    assert result["userinfo"] == {"sub": user["id"], "name": "Ann Example",
                                  "email": "ann@example.com", "email_verified": False}
    assert result["refresh_rotated"] is True
    assert result["refreshed_id_token_sub"] == user["id"]


def run_par_rp(server, client_id, secret):
    out = subprocess.run(
        ["node", str(HERE / "oidc_rp_par.mjs"), server, client_id, secret, "http://127.0.0.1:9/cb",
         "par@example.com", "correct horse battery"],
        cwd=HERE, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    print(out.stdout)
    return json.loads(out.stdout)


def test_openid_client_pushes_its_authorization_request_and_completes_the_flow(server):
    admin(server, "POST", "/admin/v1/tenants", {"id": "par", "name": "PAR"})
    user = admin(server, "POST", "/admin/v1/tenants/par/users",
                 {"email": "par@example.com", "name": "Pat", "password": "correct horse battery"})
    web = admin(server, "POST", "/admin/v1/tenants/par/clients", {
        "client_id": "node-par-web", "name": "Node PAR web", "token_endpoint_auth_method": "client_secret_basic",
        "require_pushed_authorization_requests": True,
        "grant_types": ["authorization_code"], "scopes": ["openid", "profile", "email"],
        "redirect_uris": ["http://127.0.0.1:9/cb"]})
    admin(server, "POST", "/admin/v1/tenants/par/clients", {
        "client_id": "node-par-spa", "name": "Node PAR SPA", "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code"], "scopes": ["openid", "profile", "email"],
        "redirect_uris": ["http://127.0.0.1:9/cb"]})

    results = {
        "confidential": run_par_rp(server, "node-par-web", web["client_secret"]),
        "public": run_par_rp(server, "node-par-spa", "-"),
    }

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "openid-client-par-output.json").write_text(json.dumps(results, indent=2))
    for name, result in results.items():
        assert result["par_endpoint"] == f"{server}/oauth/par", name
        # RFC 9126 §4: the browser carries only client_id and request_uri.
        assert result["authorization_query"] == ["client_id", "request_uri"], name
        assert result["request_uri"].startswith("urn:ietf:params:oauth:request_uri:"), name
        assert "code_challenge" not in result["posted_request"], name
        claims = result["id_token_claims"]
        assert claims["iss"] == server and claims["sub"] == user["id"], name
        assert claims["aud"] == {"confidential": "node-par-web", "public": "node-par-spa"}[name]
        assert result["token_type"].lower() == "bearer", name
        # Used once: the second use is an error page, never a redirect.
        assert result["again_status"] == 400 and result["again_location"] is None, name
