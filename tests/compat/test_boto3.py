"""boto3 against strongroom dev: the operations of the spine, and their errors."""

import base64

import pytest
from botocore.exceptions import ClientError


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def test_create_describe_and_arn_shape(kms, server):
    meta = kms.create_key(Description="boto3", KeyUsage="ENCRYPT_DECRYPT", KeySpec="SYMMETRIC_DEFAULT")["KeyMetadata"]
    assert meta["Arn"] == f"arn:aws:kms:us-east-1:{meta['AWSAccountId']}:key/{meta['KeyId']}"
    assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True
    assert meta["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["Description"] == "boto3"


def test_encrypt_decrypt_with_context(kms, key_arn):
    ctx = {"tenant": "acme", "doc": "42"}
    enc = kms.encrypt(KeyId=key_arn, Plaintext=b"hello strongroom", EncryptionContext=ctx)
    assert enc["KeyId"] == key_arn
    assert enc["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=dict(reversed(list(ctx.items()))))
    assert dec["Plaintext"] == b"hello strongroom"
    assert dec["KeyId"] == key_arn
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext={"tenant": "acme"})
    assert error_code(e) == "InvalidCiphertextException"


def test_data_keys_and_reencrypt(kms, key_arn):
    dk = kms.generate_data_key(KeyId=key_arn, KeySpec="AES_256")
    assert len(dk["Plaintext"]) == 32
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    other = kms.create_key()["KeyMetadata"]["Arn"]
    re = kms.re_encrypt(CiphertextBlob=dk["CiphertextBlob"], DestinationKeyId=other)
    assert re["SourceKeyId"] == key_arn and re["KeyId"] == other
    assert kms.decrypt(CiphertextBlob=re["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
    wp = kms.generate_data_key_without_plaintext(KeyId=key_arn, NumberOfBytes=64)
    assert "Plaintext" not in wp
    assert len(kms.decrypt(CiphertextBlob=wp["CiphertextBlob"])["Plaintext"]) == 64
    assert len(kms.generate_random(NumberOfBytes=1024)["Plaintext"]) == 1024


def test_aliases_and_paging(kms, key_arn):
    kms.create_alias(AliasName="alias/boto3-app", TargetKeyId=key_arn)
    enc = kms.encrypt(KeyId="alias/boto3-app", Plaintext=b"x")
    assert enc["KeyId"] == key_arn
    names = [a["AliasName"] for a in kms.get_paginator("list_aliases").paginate(PaginationConfig={"PageSize": 1}).search("Aliases")]
    assert "alias/boto3-app" in names
    keys = list(kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 1}).search("Keys"))
    assert key_arn in [k["KeyArn"] for k in keys]
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName="alias/boto3-app", TargetKeyId=key_arn)
    assert error_code(e) == "AlreadyExistsException"
    kms.delete_alias(AliasName="alias/boto3-app")


def test_lifecycle_errors(kms, key_arn):
    kms.disable_key(KeyId=key_arn)
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key_arn, Plaintext=b"x")
    assert error_code(e) == "DisabledException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    kms.enable_key(KeyId=key_arn)
    resp = kms.schedule_key_deletion(KeyId=key_arn, PendingWindowInDays=7)
    assert resp["KeyState"] == "PendingDeletion" and resp["PendingWindowInDays"] == 7
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key_arn, Plaintext=b"x")
    assert error_code(e) == "KMSInvalidStateException"
    assert kms.cancel_key_deletion(KeyId=key_arn)["KeyId"] == key_arn
    assert kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyState"] == "Disabled"
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId="alias/does-not-exist")
    assert error_code(e) == "NotFoundException"


def test_wrong_secret_is_refused(server):
    bad = server.client()
    bad._request_signer._credentials.secret_key = "not-the-secret-at-all"
    with pytest.raises(ClientError) as e:
        bad.list_keys()
    assert error_code(e) == "InvalidSignatureException"


def test_boto3_over_tls(tls_server):
    kms = tls_server.client()
    assert tls_server.endpoint.startswith("https://localhost:")
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    blob = kms.encrypt(KeyId=arn, Plaintext=b"tls")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"tls"
    assert base64.b64encode(blob)  # a real binary blob came back
