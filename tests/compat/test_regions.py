"""Regions and test credentials with boto3: clients in four regions (one in
aws-cn, one in aws-us-gov) each see only their own keys, aliases and
grants; `--region` restricts what `dev` serves; the fixed fake credentials
test suites use (`test`/`test`, moto's `FOOBARKEY`) work against `dev` with
signatures still checked, and `serve` has no way to take them."""

import subprocess

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import DevServer, strongroom_bin

REGIONS = {
    "us-east-1": "aws",
    "eu-west-1": "aws",
    "cn-north-1": "aws-cn",
    "us-gov-west-1": "aws-us-gov",
}


def client(server, region, key_id=None, secret=None):
    return boto3.client(
        "kms",
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id=key_id or server.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=secret or server.env["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}),
    )


def error(call, *args, **kwargs):
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    return e.value.response["Error"]


@pytest.fixture(scope="module")
def every_region():
    s = DevServer()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def made(every_region):
    """In each region: a key, alias/app to it, a grant, a ciphertext."""
    out = {}
    for region in REGIONS:
        kms = client(every_region, region)
        meta = kms.create_key(Description=region)["KeyMetadata"]
        account = meta["AWSAccountId"]
        kms.create_alias(AliasName="alias/app", TargetKeyId=meta["KeyId"])
        grant = kms.create_grant(
            KeyId=meta["KeyId"],
            GranteePrincipal=f"arn:aws:iam::{account}:role/app",
            RetiringPrincipal=f"arn:aws:iam::{account}:root",
            Operations=["Encrypt"],
        )["GrantId"]
        blob = kms.encrypt(KeyId="alias/app", Plaintext=region.encode())["CiphertextBlob"]
        out[region] = dict(kms=kms, meta=meta, grant=grant, blob=blob, account=account)
    return out


def test_each_region_names_its_keys_in_its_partition(made):
    for region, partition in REGIONS.items():
        arn = made[region]["meta"]["Arn"]
        assert arn.startswith(f"arn:{partition}:kms:{region}:{made[region]['account']}:key/"), arn


def test_each_region_sees_only_its_own_keys_aliases_and_grants(made):
    for region, m in made.items():
        kms, meta = m["kms"], m["meta"]
        assert [k["KeyArn"] for k in kms.list_keys()["Keys"]] == [meta["Arn"]]
        for key_id in (meta["KeyId"], meta["Arn"], "alias/app"):
            assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"] == meta["Arn"]
        aliases = [(a["AliasName"], a.get("TargetKeyId")) for a in kms.list_aliases()["Aliases"]]
        assert aliases == [("alias/app", meta["KeyId"])]
        assert [g["GrantId"] for g in kms.list_grants(KeyId=meta["Arn"])["Grants"]] == [m["grant"]]
        retirable = kms.list_retirable_grants(RetiringPrincipal=f"arn:aws:iam::{m['account']}:root")
        assert [g["GrantId"] for g in retirable["Grants"]] == [m["grant"]]
        assert kms.decrypt(CiphertextBlob=m["blob"])["Plaintext"] == region.encode()


def test_another_regions_key_is_not_found_by_id_or_arn_and_its_ciphertext_is_invalid(made):
    for region, m in made.items():
        kms = m["kms"]
        for other_region, other in made.items():
            if other_region == region:
                continue
            e = error(kms.describe_key, KeyId=other["meta"]["KeyId"])
            assert e["Code"] == "NotFoundException"
            assert e["Message"] == f"Key '{other['meta']['KeyId']}' does not exist"
            e = error(kms.describe_key, KeyId=other["meta"]["Arn"])
            assert (e["Code"], e["Message"]) == ("NotFoundException", f"Invalid arn {other_region}")
            assert error(kms.decrypt, CiphertextBlob=other["blob"])["Code"] == "InvalidCiphertextException"
            assert error(kms.disable_key, KeyId=other["meta"]["KeyId"])["Code"] == "NotFoundException"
    # The refusals changed nothing.
    for m in made.values():
        meta = m["kms"].describe_key(KeyId=m["meta"]["KeyId"])["KeyMetadata"]
        assert meta["KeyState"] == "Enabled"


def test_a_restricted_dev_refuses_unserved_regions():
    s = DevServer("--region", "eu-west-1", "--region", "cn-north-1")
    try:
        assert s.env["AWS_REGION"] == "eu-west-1"
        for region in ("us-east-1", "us-gov-west-1"):
            e = error(client(s, region).create_key)
            assert e["Code"] == "InvalidSignatureException"
            assert e["Message"] == f"Credential should be scoped to a valid region, not '{region}'."
        for region in ("eu-west-1", "cn-north-1"):
            kms = client(s, region)
            kms.create_key()
            assert len(kms.list_keys()["Keys"]) == 1
    finally:
        s.stop()


@pytest.mark.parametrize("key_id,secret", [("test", "test"), ("FOOBARKEY", "FOOBARSECRET")])
def test_fixed_fake_credentials_work_against_dev_with_signatures_checked(key_id, secret):
    s = DevServer("--access-key-id", key_id, "--secret-access-key", secret)
    try:
        assert s.env["AWS_ACCESS_KEY_ID"] == key_id
        kms = client(s, "ap-southeast-2", key_id, secret)
        arn = kms.create_key()["KeyMetadata"]["Arn"]
        assert ":kms:ap-southeast-2:" in arn
        e = error(client(s, "ap-southeast-2", key_id, "wrong-secret").create_key)
        assert e["Code"] == "InvalidSignatureException"
        assert len(kms.list_keys()["Keys"]) == 1
    finally:
        s.stop()


def test_twelve_digit_access_key_ids_pick_the_account_when_asked():
    s = DevServer("--access-key-id", "test", "--secret-access-key", "test",
                  "--account-from-access-key")
    try:
        a = client(s, "us-east-1", "111111111111", "test")
        b = client(s, "us-east-1", "222222222222", "test")
        arn = a.create_key()["KeyMetadata"]["Arn"]
        assert arn.startswith("arn:aws:kms:us-east-1:111111111111:key/"), arn
        assert len(a.list_keys()["Keys"]) == 1
        assert b.list_keys()["Keys"] == []
        # The signature is still checked against the root secret.
        e = error(client(s, "us-east-1", "333333333333", "not-test").list_keys)
        assert e["Code"] == "InvalidSignatureException"
    finally:
        s.stop()


def test_serve_and_admin_have_no_way_to_take_fake_credentials(every_region):
    # `serve` serves only access keys `strongroom admin` made (AWS's rules):
    # it has no option to choose one.
    out = subprocess.run(
        [strongroom_bin(), "serve", "--access-key-id", "test", "--secret-access-key", "test"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode != 0 and "--access-key-id" in out.stderr, out.stderr
    # A frontend that was not given them does not know them.
    e = error(client(every_region, "us-east-1", "test", "test").list_keys)
    assert e["Code"] == "UnrecognizedClientException"
