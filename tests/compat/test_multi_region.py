"""Multi-Region keys with boto3 (and the AWS Encryption SDK's MRK-aware
provider), end to end in three regions of one `dev`:
an `mrk-` key made in us-east-1, replicated to eu-west-1 and ap-southeast-2;
ciphertexts, signatures and MACs that work in every region; the primary
moved; rotation reaching the replicas; per-region state; refusals that
change nothing; and a `--region`-restricted `dev` that replicates only
where it serves."""

import os
import re

import aws_encryption_sdk
import boto3
import pytest
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.key_providers.kms import MRKAwareStrictAwsKmsMasterKeyProvider
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import DevServer

HOME, AWAY, FAR = "us-east-1", "eu-west-1", "ap-southeast-2"


def client(server, region):
    return boto3.client(
        "kms",
        endpoint_url=server.endpoint,
        region_name=region,
        aws_access_key_id=server.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=server.env["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 1}),
    )


def error(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    return e.value.response["Error"]


def config(kms, key):
    c = kms.describe_key(KeyId=key)["KeyMetadata"]["MultiRegionConfiguration"]
    return c["MultiRegionKeyType"], c["PrimaryKey"]["Region"], sorted(r["Region"] for r in c["ReplicaKeys"])


@pytest.fixture(scope="module")
def dev():
    s = DevServer()
    yield s
    s.stop()


def test_replicas_share_the_id_and_the_material(dev):
    us, eu, ap = (client(dev, r) for r in (HOME, AWAY, FAR))
    meta = us.create_key(MultiRegion=True, Description="primary")["KeyMetadata"]
    key = meta["KeyId"]
    assert re.fullmatch(r"mrk-[0-9a-f]{32}", key), key
    assert meta["Arn"].endswith(f":{HOME}:{meta['AWSAccountId']}:key/{key}")
    assert meta["MultiRegion"] is True
    assert meta["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
    blob = us.encrypt(KeyId=key, Plaintext=b"from home", EncryptionContext={"app": "mrk"})["CiphertextBlob"]

    out = us.replicate_key(KeyId=key, ReplicaRegion=AWAY, Description="away",
                           Tags=[{"TagKey": "site", "TagValue": "eu"}])
    replica = out["ReplicaKeyMetadata"]
    assert replica["KeyId"] == key and replica["Arn"].startswith(f"arn:aws:kms:{AWAY}:")
    assert replica["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert out["ReplicaTags"] == [{"TagKey": "site", "TagValue": "eu"}]
    assert meta["AWSAccountId"] in out["ReplicaPolicy"]
    us.replicate_key(KeyId=meta["Arn"], ReplicaRegion=FAR)
    assert config(us, key) == ("PRIMARY", HOME, [FAR, AWAY])
    assert config(ap, key) == ("REPLICA", HOME, [FAR, AWAY])

    for kms in (eu, ap):
        plain = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "mrk"})
        assert plain["Plaintext"] == b"from home"
        assert plain["KeyId"].startswith(f"arn:aws:kms:{kms.meta.region_name}:")
    back = eu.encrypt(KeyId=key, Plaintext=b"from away")["CiphertextBlob"]
    assert us.decrypt(CiphertextBlob=back, KeyId=key)["Plaintext"] == b"from away"
    re_enc = ap.re_encrypt(CiphertextBlob=back, DestinationKeyId=key)["CiphertextBlob"]
    assert us.decrypt(CiphertextBlob=re_enc)["Plaintext"] == b"from away"

    # Per-region: disabling one copy leaves the others alone.
    eu.disable_key(KeyId=key)
    assert error(eu.encrypt, KeyId=key, Plaintext=b"x")["Code"] == "DisabledException"
    assert ap.decrypt(CiphertextBlob=blob, EncryptionContext={"app": "mrk"})["Plaintext"] == b"from home"
    eu.enable_key(KeyId=key)
    assert us.list_resource_tags(KeyId=key)["Tags"] == []


def test_signing_and_mac_keys_replicate(dev):
    us, eu = client(dev, HOME), client(dev, AWAY)
    signer = us.create_key(MultiRegion=True, KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    us.replicate_key(KeyId=signer, ReplicaRegion=AWAY)
    sig = eu.sign(KeyId=signer, Message=b"m", SigningAlgorithm="ECDSA_SHA_384")["Signature"]
    assert us.verify(KeyId=signer, Message=b"m", Signature=sig, SigningAlgorithm="ECDSA_SHA_384")["SignatureValid"]
    mac_key = us.create_key(MultiRegion=True, KeySpec="HMAC_384", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["KeyId"]
    us.replicate_key(KeyId=mac_key, ReplicaRegion=AWAY)
    mac = us.generate_mac(KeyId=mac_key, Message=b"m", MacAlgorithm="HMAC_SHA_384")["Mac"]
    assert eu.verify_mac(KeyId=mac_key, Message=b"m", Mac=mac, MacAlgorithm="HMAC_SHA_384")["MacValid"]


def test_the_primary_moves_and_rotation_reaches_replicas(dev):
    us, eu = client(dev, HOME), client(dev, AWAY)
    key = us.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    eu_arn = us.replicate_key(KeyId=key, ReplicaRegion=AWAY)["ReplicaKeyMetadata"]["Arn"]
    old = us.encrypt(KeyId=key, Plaintext=b"v1")["CiphertextBlob"]
    us.rotate_key_on_demand(KeyId=key)
    assert len(eu.list_key_rotations(KeyId=key)["Rotations"]) == 1
    new = us.encrypt(KeyId=key, Plaintext=b"v2")["CiphertextBlob"]
    assert eu.decrypt(CiphertextBlob=new)["Plaintext"] == b"v2"
    assert eu.decrypt(CiphertextBlob=old)["Plaintext"] == b"v1"
    assert error(eu.rotate_key_on_demand, KeyId=key)["Code"] == "UnsupportedOperationException"
    assert error(eu.enable_key_rotation, KeyId=key)["Code"] == "UnsupportedOperationException"

    # The primary cannot be deleted while it has a replica; move it first.
    e = error(us.schedule_key_deletion, KeyId=key, PendingWindowInDays=7)
    assert e["Code"] == "UnsupportedOperationException" and "replica" in e["Message"]
    us.update_primary_region(KeyId=key, PrimaryRegion=AWAY)
    assert config(eu, key) == ("PRIMARY", AWAY, [HOME])
    assert config(us, key)[0] == "REPLICA"
    assert error(us.update_primary_region, KeyId=key, PrimaryRegion=AWAY)["Code"] == "UnsupportedOperationException"
    eu.rotate_key_on_demand(KeyId=eu_arn)
    assert len(us.list_key_rotations(KeyId=key)["Rotations"]) == 2
    gone = us.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert gone["KeyState"] == "PendingDeletion"
    assert eu.decrypt(CiphertextBlob=new)["Plaintext"] == b"v2"


def test_refusals_change_nothing(dev):
    us, eu = client(dev, HOME), client(dev, AWAY)
    key = us.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
    us.replicate_key(KeyId=key, ReplicaRegion=AWAY)
    single = us.create_key()["KeyMetadata"]["KeyId"]
    cases = [
        (us, key, AWAY, "AlreadyExistsException"),
        (eu, key, FAR, "UnsupportedOperationException"),
        (us, single, AWAY, "UnsupportedOperationException"),
        (us, key, "cn-north-1", "UnsupportedOperationException"),
        (us, key, "us-iso-east-1", "UnsupportedOperationException"),
        (us, key, HOME, "ValidationException"),
        (us, key, "eu-west", "ValidationException"),
        (us, key, "EU-WEST-2", "ValidationException"),
        (us, key, "x" * 33, "ValidationException"),
    ]
    for kms, k, region, want in cases:
        assert error(kms.replicate_key, KeyId=k, ReplicaRegion=region)["Code"] == want, region
    assert config(us, key) == ("PRIMARY", HOME, [AWAY])
    assert key not in [k["KeyId"] for k in client(dev, FAR).list_keys()["Keys"]]
    e = error(us.create_key, MultiRegion=True, Origin="EXTERNAL")
    assert e["Code"] == "UnsupportedOperationException"


def test_a_restricted_dev_replicates_only_where_it_serves():
    s = DevServer("--region", HOME, "--region", AWAY)
    try:
        us = client(s, HOME)
        key = us.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
        e = error(us.replicate_key, KeyId=key, ReplicaRegion=FAR)
        assert e["Code"] == "UnsupportedOperationException"
        assert us.replicate_key(KeyId=key, ReplicaRegion=AWAY)["ReplicaKeyMetadata"]["KeyId"] == key
        assert config(client(s, AWAY), key) == ("REPLICA", HOME, [AWAY])
    finally:
        s.stop()


def test_the_encryption_sdks_mrk_aware_provider_decrypts_in_the_other_region(dev, monkeypatch):
    """Encrypted with the us-east-1 ARN, decrypted naming only the eu-west-1
    replica's ARN: the SDK's MRK-aware strict provider treats them as one key."""
    us = client(dev, HOME)
    home_arn = us.create_key(MultiRegion=True)["KeyMetadata"]["Arn"]
    away_arn = us.replicate_key(KeyId=home_arn, ReplicaRegion=AWAY)["ReplicaKeyMetadata"]["Arn"]
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(k)
    for k, v in dev.env.items():
        monkeypatch.setenv(k, v)
    sdk = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    message = b"written in one region, read in another " * 50
    ciphertext, _ = sdk.encrypt(
        source=message,
        key_provider=MRKAwareStrictAwsKmsMasterKeyProvider(key_ids=[home_arn]),
    )
    plaintext, header = sdk.decrypt(
        source=ciphertext,
        key_provider=MRKAwareStrictAwsKmsMasterKeyProvider(key_ids=[away_arn]),
    )
    assert plaintext == message
    # A single-Region key of the other region is no stand-in.
    other = client(dev, AWAY).create_key()["KeyMetadata"]["Arn"]
    with pytest.raises(aws_encryption_sdk.exceptions.AWSEncryptionSDKClientError):
        sdk.decrypt(
            source=ciphertext,
            key_provider=MRKAwareStrictAwsKmsMasterKeyProvider(key_ids=[other]),
        )
