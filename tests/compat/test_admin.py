"""`strongroom admin` (the real binary) on the data directory of a running
`strongroom dev`: new accounts and access keys work at once, and accounts are
isolated from each other."""

import subprocess
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import strongroom_bin


def admin(server, *args) -> str:
    out = subprocess.run(
        [strongroom_bin(), "admin", "--data-dir", server.dir.name, *args],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_new_account_and_access_key_are_usable_and_isolated(server, kms):
    account = admin(server, "create-account").strip()
    assert len(account) == 12 and account.isdigit()
    creds = dict(line.split("=", 1) for line in admin(server, "create-access-key", "--account-id", account).split())
    other = boto3.client(
        "kms",
        endpoint_url=server.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=creds["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}),
    )
    arn = other.create_key()["KeyMetadata"]["Arn"]
    assert f":{account}:key/" in arn
    root_key = kms.create_key()["KeyMetadata"]["Arn"]
    # By ARN another account's key is reached and its default policy refuses;
    # by bare id it is not even found (a bare id names the caller's own keys).
    with pytest.raises(ClientError) as e:
        other.describe_key(KeyId=root_key)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        other.describe_key(KeyId=root_key.rsplit("/", 1)[1])
    assert e.value.response["Error"]["Code"] == "NotFoundException"
    listing = admin(server, "list-accounts")
    assert account in listing and creds["AWS_ACCESS_KEY_ID"] in listing
    # The secret printed once is stored nowhere in clear (database, WAL, anything).
    for path in Path(server.dir.name).rglob("*"):
        if path.is_file():
            assert creds["AWS_SECRET_ACCESS_KEY"].encode() not in path.read_bytes(), path


def test_admin_rejects_bad_input(server):
    out = subprocess.run(
        [strongroom_bin(), "admin", "--data-dir", server.dir.name, "create-access-key", "--account-id", "999999999999"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode != 0 and "does not exist" in out.stderr
    out = subprocess.run(
        [strongroom_bin(), "admin", "--data-dir", server.dir.name, "create-account", "--account-id", "12ab"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode != 0 and "12 digits" in out.stderr
