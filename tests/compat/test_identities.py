"""Users, roles (temporary credentials), grants and the audit trail through
boto3 and the real `strongroom admin` binary, against a running
`strongroom dev`."""

import json
import subprocess

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import strongroom_bin


def admin(server, *args, check=True):
    out = subprocess.run(
        [strongroom_bin(), "admin", "--data-dir", server.dir.name, *args],
        capture_output=True, text=True, timeout=60,
    )
    if check:
        assert out.returncode == 0, out.stderr
    return out


def client(server, creds):
    return boto3.client(
        "kms",
        endpoint_url=server.endpoint,
        region_name=server.env["AWS_REGION"],
        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=creds.get("AWS_SESSION_TOKEN"),
        config=Config(retries={"max_attempts": 1}),
    )


def creds_of(text):
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("#"))


def code(e):
    return e.value.response["Error"]["Code"]


def test_users_roles_grants_and_audit(server, kms, tmp_path):
    key = kms.create_key(Description="identities")["KeyMetadata"]["Arn"]
    account = key.split(":")[4]
    policy = tmp_path / "alice.json"
    policy.write_text(json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": f"arn:aws:kms:*:{account}:key/*"}]}))
    alice_arn = admin(server, "create-principal", "--account-id", account, "--kind", "user",
                      "--name", "alice-py", "--policy", f"@{policy}", "--tag", "team=blue").stdout.strip()
    assert alice_arn == f"arn:aws:iam::{account}:user/alice-py"
    alice = client(server, creds_of(admin(server, "create-access-key", "--principal", alice_arn).stdout))
    blob = alice.encrypt(KeyId=key, Plaintext=b"from alice")["CiphertextBlob"]
    assert alice.decrypt(CiphertextBlob=blob)["Plaintext"] == b"from alice"
    with pytest.raises(ClientError) as e:
        alice.create_key()
    assert code(e) == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        alice.generate_data_key(KeyId=key, KeySpec="AES_256", EncryptionContext={"app": "x"})
    assert code(e) == "AccessDeniedException"
    assert alice_arn in e.value.response["Error"]["Message"]

    # A grant opens GenerateDataKey for alice, only with app=x, until retired.
    grant = kms.create_grant(KeyId=key, GranteePrincipal=alice_arn, RetiringPrincipal=alice_arn,
                             Operations=["GenerateDataKey"],
                             Constraints={"EncryptionContextSubset": {"app": "x"}})
    dk = alice.generate_data_key(KeyId=key, KeySpec="AES_256", EncryptionContext={"app": "x"},
                                 GrantTokens=[grant["GrantToken"]])
    assert len(dk["Plaintext"]) == 32
    grants = [g for page in kms.get_paginator("list_grants").paginate(KeyId=key) for g in page["Grants"]]
    assert [g["GrantId"] for g in grants] == [grant["GrantId"]]
    assert grants[0]["Constraints"] == {"EncryptionContextSubset": {"app": "x"}}
    alice.retire_grant(GrantToken=grant["GrantToken"])
    with pytest.raises(ClientError) as e:
        alice.generate_data_key(KeyId=key, KeySpec="AES_256", EncryptionContext={"app": "x"})
    assert code(e) == "AccessDeniedException"

    # A role: temporary credentials that need their session token.
    admin(server, "create-principal", "--account-id", account, "--kind", "role", "--name", "worker",
          "--policy", f"@{policy}")
    out = admin(server, "assume-role", "--role", f"arn:aws:iam::{account}:role/worker",
                "--session-name", "job-7", "--duration", "900").stdout
    temp = creds_of(out)
    assert temp["AWS_ACCESS_KEY_ID"].startswith("ASIA") and temp["AWS_SESSION_TOKEN"]
    role = client(server, temp)
    assert role.decrypt(CiphertextBlob=role.encrypt(KeyId=key, Plaintext=b"r")["CiphertextBlob"])["Plaintext"] == b"r"
    with pytest.raises(ClientError) as e:
        client(server, {**temp, "AWS_SESSION_TOKEN": "d3Jvbmc="}).encrypt(KeyId=key, Plaintext=b"r")
    assert code(e) == "UnrecognizedClientException"
    with pytest.raises(ClientError) as e:
        client(server, {k: v for k, v in temp.items() if k != "AWS_SESSION_TOKEN"}).encrypt(KeyId=key, Plaintext=b"r")
    assert code(e) == "UnrecognizedClientException"

    # The audit trail: intact, queryable by principal, and usage is metered.
    verify = admin(server, "audit", "verify")
    assert "intact" in verify.stdout
    lines = admin(server, "audit", "query", "--principal", alice_arn).stdout.splitlines()
    events = [json.loads(l)["event"] for l in lines]
    assert {e["eventName"] for e in events} >= {"Encrypt", "Decrypt", "GenerateDataKey", "RetireGrant"}
    assert all(e["userIdentity"]["type"] == "IAMUser" for e in events)
    session = f"arn:aws:sts::{account}:assumed-role/worker/job-7"
    assert admin(server, "audit", "query", "--principal", session, "--operation", "Encrypt").stdout.strip()
    usage = json.loads(admin(server, "usage", "--account", account, "--json").stdout)
    key_id = key.rsplit("/", 1)[1]
    assert sum(u["requests"] for u in usage if u["operation"] == "Encrypt" and u["key"] == key_id) == 2
