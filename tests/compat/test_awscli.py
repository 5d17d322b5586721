"""The `aws` CLI (awscli package) encrypting and decrypting files."""

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

AWS = str(Path(sys.executable).parent / "aws")


def aws(server, *args) -> dict:
    out = subprocess.run(
        [AWS, "kms", *args, "--output", "json"],
        env=server.process_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else {}


def test_cli_encrypt_decrypt_files(server, tmp_path):
    key = aws(server, "create-key", "--description", "from the aws cli")["KeyMetadata"]["Arn"]
    aws(server, "create-alias", "--alias-name", "alias/cli", "--target-key-id", key)
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"the CLI can use Strongroom\n")
    enc = aws(
        server, "encrypt", "--key-id", "alias/cli", "--plaintext", f"fileb://{secret}",
        "--encryption-context", "purpose=cli-test",
    )
    assert enc["KeyId"] == key
    blob = tmp_path / "secret.enc"
    blob.write_bytes(base64.b64decode(enc["CiphertextBlob"]))
    dec = aws(server, "decrypt", "--ciphertext-blob", f"fileb://{blob}", "--encryption-context", "purpose=cli-test")
    assert base64.b64decode(dec["Plaintext"]) == secret.read_bytes()
    assert dec["KeyId"] == key


def test_cli_reports_aws_errors(server):
    out = subprocess.run(
        [AWS, "kms", "describe-key", "--key-id", "alias/nope"],
        env=server.process_env(), capture_output=True, text=True, timeout=60,
    )
    assert out.returncode != 0
    assert "NotFoundException" in out.stderr
