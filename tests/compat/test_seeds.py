"""`strongroom dev --seed FILE` driven as a user would: the binary, a YAML
file, boto3 with the credentials the seed names."""

import subprocess
import tempfile
from pathlib import Path

import boto3
from botocore.config import Config

from conftest import DevServer, strongroom_bin

ACCOUNT = "111122223333"
ACCESS_KEY_ID = "AKIASEEDEXAMPLE00001"
SECRET = "seed-secret-access-key-0001"
KEY_ID = "0b5d8f3a-7a9e-4a5b-9bd7-1c1f4d2b8c9e"
SEED = f"""
accounts:
  - id: "{ACCOUNT}"
    credentials:
      - access_key_id: {ACCESS_KEY_ID}
        secret_access_key: {SECRET}
keys:
  - id: {KEY_ID}
    account: "{ACCOUNT}"
    description: seeded
    material: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
aliases:
  - name: alias/seeded
    key: {KEY_ID}
"""


def seeded_client(server: DevServer):
    return boto3.client(
        "kms",
        endpoint_url=server.endpoint,
        region_name=server.env["AWS_REGION"],
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET,
        config=Config(retries={"max_attempts": 1}),
    )


def test_seeded_credentials_key_and_alias_work_with_boto3_and_survive_a_restart(tmp_path: Path):
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED)
    data = tempfile.TemporaryDirectory(prefix="strongroom-seed-")
    first = DevServer("--seed", str(seed), data_dir=data)
    try:
        kms = seeded_client(first)
        blob = kms.encrypt(KeyId="alias/seeded", Plaintext=b"fixture")["CiphertextBlob"]
        meta = kms.describe_key(KeyId="alias/seeded")["KeyMetadata"]
        assert meta["KeyId"] == KEY_ID and meta["Origin"] == "EXTERNAL" and meta["AWSAccountId"] == ACCOUNT
    finally:
        first.proc.terminate()
        first.proc.wait()
    second = DevServer("--seed", str(seed), data_dir=data)
    try:
        kms = seeded_client(second)
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"fixture"
        assert [a["AliasName"] for a in kms.list_aliases()["Aliases"] if a.get("TargetKeyId") == KEY_ID] == ["alias/seeded"]
        assert [k["KeyId"] for k in kms.list_keys()["Keys"]] == [KEY_ID]
    finally:
        second.stop()


def test_a_bad_seed_file_stops_dev_naming_the_file_and_the_path(tmp_path: Path):
    seed = tmp_path / "bad.yaml"
    seed.write_text(SEED.replace("description: seeded", "key_spec: RSA_1024"))
    out = subprocess.run(
        [strongroom_bin(), "dev", "--data-dir", str(tmp_path / "data"), "--listen", "127.0.0.1:0", "--seed", str(seed)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode != 0
    assert "bad.yaml" in out.stderr and "keys[0].key_spec" in out.stderr, out.stderr
    assert "AWS_ACCESS_KEY_ID" not in out.stdout
