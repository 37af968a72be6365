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
