"""`strongroom kms` (the real binary) against strongroom dev, and its files
interoperating with boto3 both ways."""

import json
import subprocess

from conftest import strongroom_bin


def run(server, *args, stdin=b""):
    return subprocess.run(
        [strongroom_bin(), "kms", *args], input=stdin, env=server.process_env(), capture_output=True, timeout=60
    )


def ok(server, *args, stdin=b"") -> bytes:
    out = run(server, *args, stdin=stdin)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout


def test_create_encrypt_decrypt_and_interop(server, kms, tmp_path):
    arn = ok(server, "create-key", "--description", "from strongroom kms").decode().strip()
    assert arn.startswith("arn:aws:kms:us-east-1:")
    assert arn in ok(server, "list-keys").decode().split()
    meta = json.loads(ok(server, "describe-key", "--key-id", arn))
    assert meta["Description"] == "from strongroom kms"

    blob = tmp_path / "note.enc"
    ok(server, "encrypt", "--key-id", arn, "--context", "team=ops", "--out", str(blob), stdin=b"runbook secret")
    assert b"runbook secret" not in blob.read_bytes()
    assert ok(server, "decrypt", "--context", "team=ops", "--in", str(blob)) == b"runbook secret"
    # The file is a plain KMS ciphertext blob: boto3 decrypts it, and the CLI decrypts boto3's.
    assert kms.decrypt(CiphertextBlob=blob.read_bytes(), EncryptionContext={"team": "ops"})["Plaintext"] == b"runbook secret"
    theirs = kms.encrypt(KeyId=arn, Plaintext=b"from boto3")["CiphertextBlob"]
    assert ok(server, "decrypt", "--key-id", arn, stdin=theirs) == b"from boto3"


def test_errors_are_reported_with_aws_types(server, tmp_path):
    arn = ok(server, "create-key").decode().strip()
    blob = ok(server, "encrypt", "--key-id", arn, "--context", "a=1", stdin=b"x")
    bad = run(server, "decrypt", "--context", "a=2", stdin=blob)
    assert bad.returncode != 0
    assert b"InvalidCiphertextException" in bad.stderr
    missing = run(server, "describe-key", "--key-id", "alias/none")
    assert missing.returncode != 0 and b"NotFoundException" in missing.stderr
    assert run(server, "encrypt", "--key-id", arn, "--context", "oops", stdin=b"x").returncode != 0


def test_shred_with_certificate_and_offline_verification(server, kms, tmp_path):
    arn = ok(server, "create-key").decode().strip()
    blob = kms.encrypt(KeyId=arn, Plaintext=b"doomed")["CiphertextBlob"]
    cert = tmp_path / "shred.json"
    ok(server, "shred", "--key-id", arn, "--out", str(cert))
    body = json.loads(cert.read_text())
    assert body["KeyId"] == arn and body["VersionsDestroyed"] == 1 and len(body["Statements"]) == 1
    # Verification needs no endpoint or credentials.
    offline = subprocess.run([strongroom_bin(), "kms", "verify-shred", str(cert)], capture_output=True, timeout=60, env={})
    assert offline.returncode == 0, offline.stderr.decode()
    assert json.loads(offline.stdout)["KeyId"] == arn
    body["Statements"][0]["Signature"] = "A" + body["Statements"][0]["Signature"][1:]
    cert.write_text(json.dumps(body))
    assert subprocess.run([strongroom_bin(), "kms", "verify-shred", str(cert)], capture_output=True, env={}).returncode != 0
    err = run(server, "decrypt", stdin=blob)
    assert err.returncode != 0 and b"KMSInvalidStateException" in err.stderr
    ok(server, "revoke", "--key-id", ok(server, "create-key").decode().strip())
