"""The AWS Encryption SDK for Python, configured only through the environment
(`AWS_ENDPOINT_URL_KMS` and credentials), exactly as an application would."""

import os

import aws_encryption_sdk
import pytest
from aws_encryption_sdk import CommitmentPolicy
from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError
from cryptography.exceptions import InvalidSignature


@pytest.fixture()
def sdk_env(server, monkeypatch):
    for k in [k for k in os.environ if k.startswith("AWS_")]:
        monkeypatch.delenv(k)
    for k, v in server.env.items():
        monkeypatch.setenv(k, v)
    return server


def provider(*arns):
    return aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(key_ids=list(arns))


def test_round_trip_with_strict_provider(sdk_env, key_arn):
    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    message = b"envelope-encrypted by the AWS Encryption SDK " * 100
    ciphertext, header = client.encrypt(
        source=message, key_provider=provider(key_arn), encryption_context={"app": "compat"}
    )
    assert message not in ciphertext
    assert header.encryption_context["app"] == "compat"
    plaintext, dec_header = client.decrypt(source=ciphertext, key_provider=provider(key_arn))
    assert plaintext == message
    assert dec_header.encryption_context["app"] == "compat"


def test_multiple_keys_and_wrong_key(sdk_env, kms, key_arn):
    second = kms.create_key()["KeyMetadata"]["Arn"]
    third = kms.create_key()["KeyMetadata"]["Arn"]
    client = aws_encryption_sdk.EncryptionSDKClient(commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)
    ciphertext, _ = client.encrypt(source=b"two keys", key_provider=provider(key_arn, second))
    # Either key alone decrypts (the data key was wrapped under both).
    assert client.decrypt(source=ciphertext, key_provider=provider(second))[0] == b"two keys"
    with pytest.raises(AWSEncryptionSDKClientError):
        client.decrypt(source=ciphertext, key_provider=provider(third))
    tampered = bytearray(ciphertext)
    tampered[-40] ^= 1  # inside the footer's ECDSA signature
    with pytest.raises((AWSEncryptionSDKClientError, InvalidSignature)):
        client.decrypt(source=bytes(tampered), key_provider=provider(key_arn))
