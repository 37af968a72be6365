"""Mutual TLS (RFC 8705) against the real binary with Python's `requests` (OpenSSL): the
server terminates TLS itself (`tls.cert`, `tls.key`, `tls.client_ca`), a client authenticates
with `tls_client_auth` by presenting its certificate (`cert=(crt, key)`), and its token is
bound to that certificate (`cnf."x5t#S256"`). Every key and certificate is made here with
`cryptography`; none is checked in."""

import base64
import datetime
import hashlib
import ipaddress
import json
import os
import subprocess
import tempfile
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conftest import ADMIN_TOKEN, BIN, free_port, stop_tessera


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def name(*pairs):
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


def issue(subject, key, issuer_name, issuer_key, *, ca=False, sans=(), eku=None):
    """A certificate for `key`, signed by `issuer_key` (itself when self-signed)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        b = b.add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    if eku:
        b = b.add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def write(path, cert, key):
    with open(path + ".crt", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(path + ".key", "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return path + ".crt", path + ".key"


@pytest.fixture(scope="module")
def pki():
    d = tempfile.mkdtemp(prefix="tessera-mtls-")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = name((NameOID.COMMON_NAME, "Interop Test CA"))
    ca = issue(ca_name, ca_key, ca_name, ca_key, ca=True)
    ca_path, _ = write(os.path.join(d, "ca"), ca, ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = issue(
        name((NameOID.COMMON_NAME, "127.0.0.1")), server_key, ca_name, ca_key,
        sans=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))], eku=ExtendedKeyUsageOID.SERVER_AUTH,
    )
    server_crt, server_key_path = write(os.path.join(d, "server"), server, server_key)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = issue(
        name((NameOID.ORGANIZATION_NAME, "Acme, Inc."), (NameOID.COMMON_NAME, "billing-batch")),
        client_key, ca_name, ca_key,
        sans=[x509.UniformResourceIdentifier("spiffe://example.org/ns/prod/sa/billing")],
        eku=ExtendedKeyUsageOID.CLIENT_AUTH,
    )
    client_crt, client_key_path = write(os.path.join(d, "client"), client, client_key)
    return {
        "dir": d,
        "ca": ca_path,
        "server": (server_crt, server_key_path),
        "client": (client_crt, client_key_path),
        "client_der": client.public_bytes(serialization.Encoding.DER),
    }


@pytest.fixture(scope="module")
def tls_server(pki):
    port = free_port()
    base = f"https://127.0.0.1:{port}"
    workdir = tempfile.mkdtemp(prefix="tessera-interop-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(
        TESSERA_LISTEN=f"127.0.0.1:{port}",
        TESSERA_ADMIN_TOKEN=ADMIN_TOKEN,
        TESSERA_TLS_CERT=pki["server"][0],
        TESSERA_TLS_KEY=pki["server"][1],
        TESSERA_TLS_CLIENT_CA=pki["ca"],
    )
    log = open(os.path.join(workdir, "server.log"), "w")
    proc = subprocess.Popen([BIN, "serve"], cwd=workdir, env=env, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(400):
        try:
            if requests.get(f"{base}/readyz", verify=pki["ca"], timeout=1).status_code == 200:
                break
        except requests.exceptions.ConnectionError:
            pass
        time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("tessera did not become ready over TLS")
    yield base
    stop_tessera(proc)


def admin_post(base, ca, path, body):
    r = requests.post(f"{base}{path}", json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, verify=ca)
    assert r.status_code == 201, r.text
    return r.json()


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_the_issuer_is_https_and_discovery_announces_mutual_tls(tls_server, pki):
    m = requests.get(f"{tls_server}/.well-known/oauth-authorization-server", verify=pki["ca"]).json()
    assert m["issuer"] == tls_server, "without TESSERA_ISSUER the issuer follows the TLS listener"
    assert "tls_client_auth" in m["token_endpoint_auth_methods_supported"]
    assert "self_signed_tls_client_auth" in m["token_endpoint_auth_methods_supported"]
    assert m["tls_client_certificate_bound_access_tokens"] is True


def test_tls_client_auth_gets_a_certificate_bound_token_with_requests(tls_server, pki):
    admin_post(tls_server, pki["ca"], "/admin/v1/tenants/default/clients", {
        "client_id": "billing-batch", "name": "Billing batch", "grant_types": ["client_credentials"],
        "scopes": ["read"], "token_endpoint_auth_method": "tls_client_auth",
        # RFC 4514, most specific first; the comma in the organization escaped.
        "tls_client_auth_subject_dn": "CN=billing-batch,O=Acme\\, Inc.",
        "tls_client_certificate_bound_access_tokens": True,
    })
    r = requests.post(
        f"{tls_server}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "billing-batch", "scope": "read"},
        cert=pki["client"], verify=pki["ca"],
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer"
    c = claims(body["access_token"])
    assert c["client_id"] == "billing-batch"
    assert c["iss"] == tls_server
    assert c["cnf"]["x5t#S256"] == b64url(hashlib.sha256(pki["client_der"]).digest())

    # Without the certificate: the same 401 invalid_client as any failed authentication.
    r = requests.post(
        f"{tls_server}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "billing-batch"},
        verify=pki["ca"],
    )
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_client"


def test_tls_client_auth_refuses_the_subject_dn_in_the_certificates_order(tls_server, pki):
    # What `openssl x509 -subject` prints by default: the ASN.1 order, not RFC 4514's.
    admin_post(tls_server, pki["ca"], "/admin/v1/tenants/default/clients", {
        "client_id": "billing-reversed", "name": "Billing, DN reversed", "grant_types": ["client_credentials"],
        "scopes": ["read"], "token_endpoint_auth_method": "tls_client_auth",
        "tls_client_auth_subject_dn": "O=Acme\\, Inc., CN=billing-batch",
    })
    r = requests.post(
        f"{tls_server}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "billing-reversed"},
        cert=pki["client"], verify=pki["ca"],
    )
    assert r.status_code == 401, r.text
    assert r.json()["error"] == "invalid_client"


def test_tls_client_auth_by_san_uri(tls_server, pki):
    admin_post(tls_server, pki["ca"], "/admin/v1/tenants/default/clients", {
        "client_id": "billing-spiffe", "name": "Billing by SPIFFE ID", "grant_types": ["client_credentials"],
        "scopes": ["read"], "token_endpoint_auth_method": "tls_client_auth",
        "tls_client_auth_san_uri": "spiffe://example.org/ns/prod/sa/billing",
    })
    r = requests.post(
        f"{tls_server}/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "billing-spiffe"},
        cert=pki["client"], verify=pki["ca"],
    )
    assert r.status_code == 200, r.text
    assert "cnf" not in claims(r.json()["access_token"]), "not a bound client"
