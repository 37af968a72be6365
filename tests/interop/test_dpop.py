"""Interop: DPoP (RFC 9449) with openid-client 6 / oauth4webapi making the proofs, against the
real binary, with and without server nonces (dpop_rp.mjs)."""

import json
import pathlib
import subprocess

import pytest

from conftest import admin, start_tessera, stop_tessera

HERE = pathlib.Path(__file__).parent
ARTIFACTS = HERE.parent.parent / "artifacts"


@pytest.fixture(scope="module", params=["plain", "nonces"])
def dpop_server(request):
    extra = {"TESSERA_DPOP_REQUIRE_NONCE": "true"} if request.param == "nonces" else {}
    base, proc = start_tessera(**extra)
    yield base, request.param
    stop_tessera(proc)


def test_openid_client_gets_dpop_bound_tokens_and_uses_them_at_userinfo(dpop_server):
    server, mode = dpop_server
    admin(server, "POST", "/admin/v1/tenants", {"id": "dp", "name": "DPoP"})
    user = admin(server, "POST", "/admin/v1/tenants/dp/users",
                 {"email": "ann@example.com", "password": "correct horse battery"})
    admin(server, "POST", "/admin/v1/tenants/dp/clients", {
        "client_id": "dpop-spa", "name": "SPA", "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "scopes": ["openid", "email", "offline_access"],
        "redirect_uris": ["http://127.0.0.1:9/cb"], "dpop_bound_access_tokens": True})
    cc = admin(server, "POST", "/admin/v1/tenants/dp/clients", {
        "client_id": "dpop-svc", "name": "Service", "grant_types": ["client_credentials"],
        "scopes": ["read"]})

    out = subprocess.run(
        ["node", str(HERE / "dpop_rp.mjs"), server, "dpop-spa", "http://127.0.0.1:9/cb",
         "ann@example.com", "correct horse battery", "dpop-svc", cc["client_secret"]],
        cwd=HERE, capture_output=True, text=True, timeout=60)

    assert out.returncode == 0, out.stderr
    print(out.stdout)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"openid-client-dpop-{mode}.json").write_text(out.stdout)
    r = json.loads(out.stdout)
    jkt = {"jkt": r["key_thumbprint"]}
    assert r["code_token_type"].lower() == "dpop" and r["code_access_cnf"] == jkt
    assert r["userinfo"]["sub"] == user["id"] and r["userinfo"]["email"] == "ann@example.com"
    assert r["refreshed_token_type"].lower() == "dpop" and r["refreshed_access_cnf"] == jkt
    assert r["bearer_status"] == 401 and r["bearer_challenge"].startswith("DPoP ")
    assert r["cc_token_type"].lower() == "dpop" and r["cc_access_cnf"] == jkt
