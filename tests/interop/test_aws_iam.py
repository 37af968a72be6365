"""The `aws_iam` service binding (SPEC §4) against moto's STS and IAM server: proofs are
signed by botocore exactly as `vault login -method=aws` builds them, with access keys of IAM
users that moto created; Tessera forwards them to moto's STS, which answers the caller's ARN.
(moto does not check SigV4 signatures; everything else — the wire format, forwarding, ARN
mapping, the server-id header — is real.)"""

import base64
import json
import os
import subprocess
import sys

import boto3
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import admin, free_port, start_tessera, stop_tessera, wait_ready

SERVER_ID = "tessera-interop"
STS_BODY = "Action=GetCallerIdentity&Version=2011-06-15"


@pytest.fixture(scope="module")
def moto():
    port = free_port()
    exe = os.path.join(os.path.dirname(sys.executable), "moto_server")
    proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_ready(f"{url}/moto-api/", proc)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def tessera(moto):
    base, proc = start_tessera(TESSERA_S2S_STS_ENDPOINT=f"{moto}/", TESSERA_S2S_AWS_IAM_SERVER_ID=SERVER_ID)
    yield base
    stop_tessera(proc)


def iam_user(moto, name):
    """Creates an IAM user in moto; returns (its ARN, its credentials)."""
    iam = boto3.client("iam", endpoint_url=moto, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def proof(creds, server_id=SERVER_ID, body=STS_BODY):
    """The Vault-style login fields for a presigned sts:GetCallerIdentity request."""
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    if server_id is not None:
        headers["X-Tessera-AWS-IAM-Server-ID"] = server_id
    request = AWSRequest(method="POST", url="https://sts.amazonaws.com/", data=body, headers=headers)
    SigV4Auth(creds, "sts", "us-east-1").add_auth(request)
    b64 = lambda s: base64.b64encode(s.encode()).decode()
    return {
        "iam_http_request_method": "POST",
        "iam_request_url": b64(request.url),
        "iam_request_body": b64(body),
        "iam_request_headers": b64(json.dumps({k: [v] for k, v in request.headers.items()})),
    }


def claims(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_a_service_proves_its_aws_identity_with_a_presigned_get_caller_identity(tessera, moto):
    arn, creds = iam_user(moto, "orders-ci")
    admin(tessera, "POST", "/admin/v1/services",
          {"name": "orders", "bindings": [{"type": "aws_iam", "arn": arn}]})
    r = requests.post(f"{tessera}/v1/auth/token", json=proof(creds))
    assert r.status_code == 200, r.text
    c = claims(r.json()["access_token"])
    assert (c["sub"], c["token_use"], c["aud"]) == ("orders", "service", "pouch-services")

    # The same fields form-encoded work too (both bodies are first-class on this route).
    r = requests.post(f"{tessera}/v1/auth/token", data=proof(creds))
    assert r.status_code == 200, r.text


def test_an_identity_no_service_is_bound_to_gets_401(tessera, moto):
    _, creds = iam_user(moto, "stranger")
    r = requests.post(f"{tessera}/v1/auth/token", json=proof(creds))
    assert r.status_code == 401, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["karmoCode"] == "40100209"


def test_a_proof_without_this_servers_id_is_refused(tessera, moto):
    arn, creds = iam_user(moto, "billing-ci")
    admin(tessera, "POST", "/admin/v1/services",
          {"name": "billing", "bindings": [{"type": "aws_iam", "arn": arn}]})
    for server_id in (None, "vault.example.com"):
        r = requests.post(f"{tessera}/v1/auth/token", json=proof(creds, server_id=server_id))
        assert r.status_code == 401, (server_id, r.text)
    assert requests.post(f"{tessera}/v1/auth/token", json=proof(creds)).status_code == 200


def test_only_a_get_caller_identity_request_is_ever_forwarded(tessera, moto):
    _, creds = iam_user(moto, "sneaky")
    fields = proof(creds, body="Action=CreateUser&Version=2010-05-08&UserName=evil")
    r = requests.post(f"{tessera}/v1/auth/token", json=fields)
    assert r.status_code == 400, r.text
    assert r.json()["karmoErrors"][0]["pointer"] == "/iam_request_body"
    iam = boto3.client("iam", endpoint_url=moto, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    assert "evil" not in [u["UserName"] for u in iam.list_users()["Users"]]


def test_an_assumed_role_matches_an_exact_role_binding_before_any_pattern(tessera, moto):
    # A catch-all pattern on assumed-role sessions, and an exact binding on the role itself.
    iam = boto3.client("iam", endpoint_url=moto, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]})
    role_arn = iam.create_role(RoleName="payments", AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    account = role_arn.split(":")[4]
    admin(tessera, "POST", "/admin/v1/services",
          {"name": "any-session", "bindings": [{"type": "aws_iam", "arn": f"arn:aws:sts::{account}:assumed-role/*"}]})
    admin(tessera, "POST", "/admin/v1/services",
          {"name": "payments", "bindings": [{"type": "aws_iam", "arn": role_arn}]})
    _, user_creds = iam_user(moto, "payments-ci")
    sts = boto3.client("sts", endpoint_url=moto, region_name="us-east-1",
                       aws_access_key_id=user_creds.access_key, aws_secret_access_key=user_creds.secret_key)
    c = sts.assume_role(RoleArn=role_arn, RoleSessionName="i-0abc")["Credentials"]
    creds = Credentials(c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    r = requests.post(f"{tessera}/v1/auth/token", json=proof(creds))
    assert r.status_code == 200, r.text
    assert claims(r.json()["access_token"])["sub"] == "payments"
