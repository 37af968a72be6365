"""Interop: an independent, widely used OAuth client library (Authlib) fetches tokens from the
real `tessera` binary using discovery only, and verifies them against the published JWKS."""

import json
import time

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.jose import JsonWebKey, jwt
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from conftest import cli


def verify(base, token, client_id):
    meta = requests.get(f"{base}/.well-known/openid-configuration").json()
    jwks = JsonWebKey.import_key_set(requests.get(meta["jwks_uri"]).json())
    claims = jwt.decode(token, jwks, claims_options={"iss": {"essential": True, "value": meta["issuer"]}})
    claims.validate()
    assert claims["client_id"] == client_id
    assert claims["sub"] == client_id
    assert claims.header["typ"] == "at+jwt"
    return claims


def test_authlib_fetches_a_client_credentials_token_with_basic_auth_and_verifies_it(server):
    client = cli(server, "client", "create", "--name", "authlib", "--client-id", "authlib-basic", "--scope", "read", "--scope", "write")
    meta = requests.get(f"{server}/.well-known/oauth-authorization-server").json()
    session = OAuth2Session(client["client_id"], client["client_secret"], scope="read write",
                            token_endpoint_auth_method="client_secret_basic")
    token = session.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    assert token["token_type"] == "Bearer"
    assert token["scope"] == "read write"
    claims = verify(server, token["access_token"], "authlib-basic")
    assert claims["exp"] - claims["iat"] == token["expires_in"]


def test_authlib_client_secret_post_and_introspection_agree(server):
    client = cli(server, "client", "create", "--name", "authlib", "--client-id", "authlib-post", "--scope", "read")
    meta = requests.get(f"{server}/.well-known/openid-configuration").json()
    session = OAuth2Session(client["client_id"], client["client_secret"], token_endpoint_auth_method="client_secret_post")
    token = session.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    verify(server, token["access_token"], "authlib-post")
    r = requests.post(meta["introspection_endpoint"], data={"token": token["access_token"]},
                      auth=(client["client_id"], client["client_secret"]))
    assert r.json()["active"] is True
    requests.post(meta["revocation_endpoint"], data={"token": token["access_token"]},
                  auth=(client["client_id"], client["client_secret"])).raise_for_status()
    r = requests.post(meta["introspection_endpoint"], data={"token": token["access_token"]},
                      auth=(client["client_id"], client["client_secret"]))
    assert r.json() == {"active": False}


def test_authlib_private_key_jwt_client_authentication(server, tmp_path):
    key = JsonWebKey.generate_key("RSA", 2048, is_private=True)
    public = key.as_dict(is_private=False)
    public["kid"] = "interop-1"
    jwks_file = tmp_path / "jwks.json"
    jwks_file.write_text(json.dumps({"keys": [public]}))
    cli(server, "client", "create", "--name", "pkj", "--client-id", "authlib-pkj", "--scope", "read",
        "--auth-method", "private_key_jwt", "--jwks-file", str(jwks_file))
    meta = requests.get(f"{server}/.well-known/openid-configuration").json()
    session = OAuth2Session("authlib-pkj", key.as_pem(is_private=True), token_endpoint_auth_method="private_key_jwt")
    # SPEC 7.1 refuses assertions usable for more than 300 s; Authlib's default is an hour.
    session.register_client_auth_method(
        PrivateKeyJWT(meta["token_endpoint"], claims={"exp": int(time.time()) + 120}))
    token = session.fetch_token(meta["token_endpoint"], grant_type="client_credentials")
    verify(server, token["access_token"], "authlib-pkj")
