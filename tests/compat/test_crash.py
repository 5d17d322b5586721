"""Acknowledged writes survive a crash: `strongroom dev` is killed with
SIGKILL right after its answers, then restarted on the same data directory."""

import tempfile

from conftest import DevServer


def test_writes_acknowledged_before_sigkill_survive():
    data = tempfile.TemporaryDirectory(prefix="strongroom-crash-")
    first = DevServer(data_dir=data)
    kms = first.client()
    arn = kms.create_key(Description="crash")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/crash", TargetKeyId=arn)
    blob = kms.encrypt(KeyId="alias/crash", Plaintext=b"durable")["CiphertextBlob"]
    disabled = kms.create_key()["KeyMetadata"]["Arn"]
    kms.disable_key(KeyId=disabled)
    first.kill()

    second = DevServer(data_dir=data)
    try:
        kms = second.client()
        assert second.env["AWS_ACCESS_KEY_ID"] == first.env["AWS_ACCESS_KEY_ID"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"durable"
        assert kms.describe_key(KeyId="alias/crash")["KeyMetadata"]["Arn"] == arn
        assert kms.describe_key(KeyId=disabled)["KeyMetadata"]["KeyState"] == "Disabled"
    finally:
        second.stop()
