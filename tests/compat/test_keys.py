"""boto3 against strongroom dev: key management beyond the spine (tags, rotation)."""

import pytest
from botocore.exceptions import ClientError


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_tags_with_the_paginator(kms, key_arn):
    kms.tag_resource(KeyId=key_arn, Tags=[{"TagKey": f"k{i}", "TagValue": str(i)} for i in range(7)])
    kms.untag_resource(KeyId=key_arn, TagKeys=["k3"])
    pages = kms.get_paginator("list_resource_tags").paginate(KeyId=key_arn, PaginationConfig={"PageSize": 2})
    tags = [(t["TagKey"], t["TagValue"]) for page in pages for t in page["Tags"]]
    assert tags == [(f"k{i}", str(i)) for i in range(7) if i != 3]
    with pytest.raises(ClientError) as e:
        kms.tag_resource(KeyId=key_arn, Tags=[{"TagKey": "aws:x", "TagValue": "y"}])
    assert error_code(e) == "TagException"


def test_rotation_with_boto3(kms, key_arn):
    old = kms.encrypt(KeyId=key_arn, Plaintext=b"v1")["CiphertextBlob"]
    kms.enable_key_rotation(KeyId=key_arn, RotationPeriodInDays=180)
    status = kms.get_key_rotation_status(KeyId=key_arn)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 180
    assert "NextRotationDate" in status
    for _ in range(3):
        kms.rotate_key_on_demand(KeyId=key_arn)
    pages = kms.get_paginator("list_key_rotations").paginate(KeyId=key_arn, PaginationConfig={"PageSize": 2})
    kinds = [r["RotationType"] for page in pages for r in page["Rotations"]]
    assert kinds == ["ON_DEMAND"] * 3
    new = kms.encrypt(KeyId=key_arn, Plaintext=b"v4")["CiphertextBlob"]
    assert new[17:21] == (4).to_bytes(4, "big")
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"v1"
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"v4"
    # (boto3 validates RotationPeriodInDays itself; the server's own check
    # is tested through aws-sdk-kms, which sends what it is given.)
    kms.disable_key_rotation(KeyId=key_arn)
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is False


def test_hmac_keys_with_boto3(kms):
    key = kms.create_key(KeySpec="HMAC_512", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    assert key["MacAlgorithms"] == ["HMAC_SHA_512"] and "EncryptionAlgorithms" not in key
    mac = kms.generate_mac(KeyId=key["Arn"], Message=b"m", MacAlgorithm="HMAC_SHA_512")["Mac"]
    assert len(mac) == 64
    assert kms.verify_mac(KeyId=key["Arn"], Message=b"m", MacAlgorithm="HMAC_SHA_512", Mac=mac)["MacValid"] is True
    with pytest.raises(ClientError) as e:
        kms.verify_mac(KeyId=key["Arn"], Message=b"n", MacAlgorithm="HMAC_SHA_512", Mac=mac)
    assert error_code(e) == "KMSInvalidMacException"
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key["Arn"], Plaintext=b"x")
    assert error_code(e) == "InvalidKeyUsageException"
