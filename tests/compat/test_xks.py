"""The AWS KMS External Key Store proxy API (docs/xks.md) on `strongroom dev`,
signed exactly as AWS KMS signs it: botocore's SigV4Auth with service
`kms-xks-proxy`. The key store comes from `strongroom admin xks
create-keystore` (the real binary). The AES-GCM construction and the CDIV are
checked independently with the `cryptography` package, from the material of
an exposed key; every error case of the specification gets its errorName and
HTTP status."""

import base64
import datetime
import hashlib
import json
import os
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from conftest import DevServer, strongroom_bin
from module_fleet import ModuleFleet
from test_extensions import call_extension, releasing_policy

REGION = "us-east-2"
# How long health answers are cached (crates/server/src/xks/health.rs CACHE_TTL).
HEALTH_CACHE_SECS = 10


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def unb64(s: str) -> bytes:
    return base64.b64decode(s)


class KeyStore:
    """One external key store: its URI prefix and a credential."""

    def __init__(self, server, account: str, admin_args=()):
        prefix = f"/compat/{uuid.uuid4().hex[:12]}"
        out = subprocess.run(
            [strongroom_bin(), "admin", "--data-dir", server.dir.name, *admin_args, "xks", "create-keystore",
             "--account-id", account, "--uri-prefix", prefix],
            capture_output=True, text=True, timeout=60,
        )
        assert out.returncode == 0, out.stderr
        lines = out.stdout.split()
        assert [line.split("=", 1)[0] for line in lines] == [
            "XKS_URI_PREFIX", "XKS_PRINCIPAL_ARN", "XKS_ACCESS_KEY_ID", "XKS_SECRET_ACCESS_KEY"]
        values = dict(line.split("=", 1) for line in lines)
        self.prefix = values["XKS_URI_PREFIX"]
        self.arn = values["XKS_PRINCIPAL_ARN"]
        self.access_key_id = values["XKS_ACCESS_KEY_ID"]
        self.secret = values["XKS_SECRET_ACCESS_KEY"]
        self.endpoint = server.endpoint
        assert self.prefix == prefix
        assert 20 <= len(self.access_key_id) <= 30 and set(self.access_key_id) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        assert 43 <= len(self.secret) <= 64

    def call(self, api: str, body, *, method="POST", prefix=None, secret=None, service="kms-xks-proxy", at=None):
        """Sends a request signed as AWS KMS signs it; returns (status, json)."""
        url = f"{self.endpoint}{prefix if prefix is not None else self.prefix}/kms/xks/v1/{api}"
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = AWSRequest(method=method, url=url, data=data, headers={"Content-Type": "application/json"})
        creds = Credentials(self.access_key_id, secret or self.secret)
        if at is None:
            SigV4Auth(creds, service, REGION).add_auth(request)
        else:
            with mock.patch("botocore.auth.get_current_datetime", return_value=at):
                SigV4Auth(creds, service, REGION).add_auth(request)
        req = urllib.request.Request(url, data=request.body if method == "POST" else None,
                                     headers=dict(request.headers), method=method)
        try:
            with urllib.request.urlopen(req) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw else None


def metadata(op: str) -> dict:
    return {
        "awsPrincipalArn": "arn:aws:iam::123456789012:user/Alice",
        "kmsKeyArn": "arn:aws:kms:us-east-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "kmsOperation": op,
        "kmsRequestId": str(uuid.uuid4()),
        "kmsViaService": "ebs",
    }


def encrypt_body(plaintext: bytes, aad=None, cdiv=False) -> dict:
    body = {"requestMetadata": metadata("Encrypt"), "plaintext": b64(plaintext), "encryptionAlgorithm": "AES_GCM"}
    if aad is not None:
        body["additionalAuthenticatedData"] = b64(aad)
    if cdiv:
        body["ciphertextDataIntegrityValueAlgorithm"] = "SHA_256"
    return body


def decrypt_body(sealed: dict, aad=None) -> dict:
    body = {"requestMetadata": metadata("Decrypt"), "encryptionAlgorithm": "AES_GCM"}
    for f in ("ciphertext", "ciphertextMetadata", "initializationVector", "authenticationTag"):
        body[f] = sealed[f]
    if aad is not None:
        body["additionalAuthenticatedData"] = b64(aad)
    return body


def assert_error(got, status: int, name: str):
    code, body = got
    assert code == status, body
    assert body["errorName"] == name, body
    assert len(body.get("errorMessage", "")) < 512


@pytest.fixture()
def account(kms) -> str:
    return kms.create_key()["KeyMetadata"]["AWSAccountId"]


@pytest.fixture()
def ks(server, account) -> KeyStore:
    return KeyStore(server, account)


def test_every_endpoint_round_trips_with_and_without_aad_and_the_cdiv_checks_out(ks, kms, key_arn):
    key_id = key_arn.rsplit("/", 1)[1]
    status, md = ks.call(f"keys/{key_id}/metadata", {"requestMetadata": metadata("CreateKey")})
    assert status == 200 and md == {"keySpec": "AES_256", "keyUsage": ["ENCRYPT", "DECRYPT"], "keyStatus": "ENABLED"}
    for aad, cdiv in ((None, False), (b"project=nile,department=marketing", True), (os.urandom(8192), True), (None, True)):
        plaintext = os.urandom(4300)
        status, sealed = ks.call(f"keys/{key_id}/encrypt", encrypt_body(plaintext, aad, cdiv))
        assert status == 200, sealed
        assert len(unb64(sealed["initializationVector"])) == 12
        assert len(unb64(sealed["authenticationTag"])) == 16
        assert len(unb64(sealed["ciphertext"])) == len(plaintext)
        assert len(unb64(sealed["ciphertextMetadata"])) <= 20
        if cdiv:
            parts = (aad or b"") + b"".join(unb64(sealed[f]) for f in
                                            ("ciphertextMetadata", "initializationVector", "ciphertext", "authenticationTag"))
            assert sealed["ciphertextDataIntegrityValue"] == b64(hashlib.sha256(parts).digest())
        else:
            assert "ciphertextDataIntegrityValue" not in sealed
        status, out = ks.call(f"keys/{key_id}/decrypt", decrypt_body(sealed, aad))
        assert status == 200, out
        assert unb64(out["plaintext"]) == plaintext
    # An alias name (without alias/) is an external key id too.
    kms.create_alias(AliasName=f"alias/xks-{ks.prefix.rsplit('/', 1)[1]}", TargetKeyId=key_id)
    status, _ = ks.call(f"keys/xks-{ks.prefix.rsplit('/', 1)[1]}/encrypt", encrypt_body(b"by alias"))
    assert status == 200
    status, health = ks.call("health", {"requestMetadata": {"kmsRequestId": str(uuid.uuid4()), "kmsOperation": "KmsHealthCheck"}})
    assert status == 200, health
    assert health["xksProxyFleetSize"] >= 1 and health["xksProxyVendor"] and health["xksProxyModel"] and health["ekmVendor"]
    assert 1 <= len(health["ekmFleetDetails"]) <= 10
    assert all(m["healthStatus"] in ("ACTIVE", "DEGRADED", "UNAVAILABLE") for m in health["ekmFleetDetails"])
    assert health["ekmFleetDetails"][0]["healthStatus"] == "ACTIVE"


def message_key(material: bytes, key_id: str, metadata_bytes: bytes) -> bytes:
    """docs/formats.md: HKDF-SHA256(backing key, salt = nonce, info = label ‖ key UUID ‖ version)."""
    assert metadata_bytes[0] == 0x58 and len(metadata_bytes) == 20
    version = metadata_bytes[1:5]
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=metadata_bytes[5:],
        info=b"strongroom xks aes-256-gcm v1" + uuid.UUID(key_id).bytes + version,
    ).derive(material)


def gcm_aad(aad: bytes, md: bytes) -> bytes:
    """The specification's AAD: u16 BE len(aad) ‖ aad ‖ u8 len(metadata) ‖ metadata."""
    return struct.pack(">H", len(aad)) + aad + bytes([len(md)]) + md


def test_the_aad_construction_is_the_specifications_checked_with_python_aes_gcm(ks, kms):
    status, out = call_extension(kms, "CreateKey", {"ExposeKeyMaterial": True, "Policy": releasing_policy(kms)})
    assert status == 200, out
    material = unb64(out["KeyMaterial"])
    key_id = out["KeyMetadata"]["KeyId"]
    for aad in (b"", b"project=nile,department=marketing", os.urandom(8192)):
        plaintext = os.urandom(100)
        status, sealed = ks.call(f"keys/{key_id}/encrypt", encrypt_body(plaintext, aad if aad else None))
        assert status == 200, sealed
        md = unb64(sealed["ciphertextMetadata"])
        aes = AESGCM(message_key(material, key_id, md))
        opened = aes.decrypt(unb64(sealed["initializationVector"]),
                             unb64(sealed["ciphertext"]) + unb64(sealed["authenticationTag"]), gcm_aad(aad, md))
        assert opened == plaintext
        # The metadata is authenticated: passed as AAD instead, nothing opens.
        with pytest.raises(Exception):
            aes.decrypt(unb64(sealed["initializationVector"]),
                        unb64(sealed["ciphertext"]) + unb64(sealed["authenticationTag"]), gcm_aad(aad + md, b""))
    # And the other way: sealed in Python, opened by the proxy.
    md = bytes([0x58]) + (1).to_bytes(4, "big") + os.urandom(15)
    iv = os.urandom(12)
    sealed = AESGCM(message_key(material, key_id, md)).encrypt(iv, b"from python", gcm_aad(b"ctx", md))
    body = decrypt_body({"ciphertext": b64(sealed[:-16]), "authenticationTag": b64(sealed[-16:]),
                         "initializationVector": b64(iv), "ciphertextMetadata": b64(md)}, b"ctx")
    status, out = ks.call(f"keys/{key_id}/decrypt", body)
    assert status == 200, out
    assert unb64(out["plaintext"]) == b"from python"


def test_every_error_case_gets_the_specified_error_name_and_status(ks, kms, key_arn):
    key_id = key_arn.rsplit("/", 1)[1]
    status, sealed = ks.call(f"keys/{key_id}/encrypt", encrypt_body(b"data key", b"aad"))
    assert status == 200
    enc = f"keys/{key_id}/encrypt"
    dec = f"keys/{key_id}/decrypt"
    # Bad URI prefix, unknown path, unknown key.
    assert_error(ks.call("health", {"requestMetadata": metadata("x")}, prefix="/no/such/store"), 404, "InvalidUriPathException")
    assert_error(ks.call(f"keys/{key_id}/sign", {"requestMetadata": metadata("x")}), 404, "InvalidUriPathException")
    assert_error(ks.call(f"keys/{uuid.uuid4()}/encrypt", encrypt_body(b"x")), 404, "KeyNotFoundException")
    assert_error(ks.call("keys/no-such-alias/metadata", {"requestMetadata": metadata("DescribeKey")}), 404, "KeyNotFoundException")
    # Wrong credentials, wrong service, expired and future signatures.
    assert_error(ks.call(enc, encrypt_body(b"x"), secret=b64(os.urandom(32))), 401, "AuthenticationFailedException")
    assert_error(ks.call(enc, encrypt_body(b"x"), service="kms"), 401, "AuthenticationFailedException")
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    for skew in (-6, 6):
        assert_error(ks.call(enc, encrypt_body(b"x"), at=now + datetime.timedelta(minutes=skew)), 401,
                     "AuthenticationFailedException")
    # GET is refused with 405.
    for api in ("health", enc, dec, f"keys/{key_id}/metadata"):
        assert ks.call(api, b"", method="GET")[0] == 405
    # Malformed JSON, missing fields, bad algorithm, bad Base64.
    assert_error(ks.call(enc, b"{not json"), 400, "ValidationException")
    assert_error(ks.call(enc, {"plaintext": b64(b"x"), "encryptionAlgorithm": "AES_GCM"}), 400, "ValidationException")
    bad = encrypt_body(b"x")
    bad["encryptionAlgorithm"] = "AES_CBC"
    assert_error(ks.call(enc, bad), 400, "ValidationException")
    bad = encrypt_body(b"x")
    bad["plaintext"] = "***"
    assert_error(ks.call(enc, bad), 400, "ValidationException")
    # Oversized inputs: beyond what Strongroom supports.
    assert_error(ks.call(enc, encrypt_body(os.urandom(8193))), 501, "UnsupportedOperationException")
    assert_error(ks.call(enc, encrypt_body(b"x", os.urandom(8193))), 501, "UnsupportedOperationException")
    # Wrong AAD, tampered tag, IV, ciphertext or metadata.
    assert_error(ks.call(dec, decrypt_body(sealed, b"other aad")), 400, "InvalidCiphertextException")
    assert_error(ks.call(dec, decrypt_body(sealed)), 400, "InvalidCiphertextException")
    for field in ("authenticationTag", "initializationVector", "ciphertext", "ciphertextMetadata"):
        t = dict(sealed)
        b = bytearray(unb64(t[field]))
        b[-1] ^= 1
        t[field] = b64(bytes(b))
        assert_error(ks.call(dec, decrypt_body(t, b"aad")), 400, "InvalidCiphertextException")
    short_tag = dict(sealed, authenticationTag=b64(b"\0" * 12))
    assert_error(ks.call(dec, decrypt_body(short_tag, b"aad")), 400, "ValidationException")
    # Disabled key.
    kms.disable_key(KeyId=key_id)
    assert_error(ks.call(enc, encrypt_body(b"x")), 400, "InvalidStateException")
    assert_error(ks.call(dec, decrypt_body(sealed, b"aad")), 400, "InvalidStateException")
    status, md = ks.call(f"keys/{key_id}/metadata", {"requestMetadata": metadata("DescribeKey")})
    assert status == 200 and md["keyStatus"] == "DISABLED"
    kms.enable_key(KeyId=key_id)
    # Nothing changed: the original still opens.
    status, out = ks.call(dec, decrypt_body(sealed, b"aad"))
    assert status == 200 and unb64(out["plaintext"]) == b"data key"


def key_with_denied(kms, ks: KeyStore, account: str, denied: list) -> str:
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    statements = [{"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                   "Action": "kms:*", "Resource": "*"}]
    if denied:
        statements.append({"Sid": "KeyStore", "Effect": "Deny", "Principal": {"AWS": ks.arn},
                           "Action": denied, "Resource": "*"})
    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))
    return key_id


def test_encrypt_only_decrypt_only_and_no_usage_keys_by_key_policy(ks, kms, account):
    encrypt_only = key_with_denied(kms, ks, account, ["kms:Decrypt"])
    decrypt_only = key_with_denied(kms, ks, account, ["kms:Encrypt"])
    no_usage = key_with_denied(kms, ks, account, ["kms:Encrypt", "kms:Decrypt"])
    denied = key_with_denied(kms, ks, account, ["kms:*"])
    for key_id, usage in ((encrypt_only, ["ENCRYPT"]), (decrypt_only, ["DECRYPT"]), (no_usage, [])):
        status, md = ks.call(f"keys/{key_id}/metadata", {"requestMetadata": metadata("DescribeKey")})
        assert status == 200 and md["keyUsage"] == usage, md
    status, sealed = ks.call(f"keys/{encrypt_only}/encrypt", encrypt_body(b"x"))
    assert status == 200
    assert_error(ks.call(f"keys/{encrypt_only}/decrypt", decrypt_body(sealed)), 403, "AccessDeniedException")
    assert_error(ks.call(f"keys/{decrypt_only}/encrypt", encrypt_body(b"x")), 403, "AccessDeniedException")
    assert_error(ks.call(f"keys/{no_usage}/encrypt", encrypt_body(b"x")), 403, "AccessDeniedException")
    assert_error(ks.call(f"keys/{denied}/metadata", {"requestMetadata": metadata("DescribeKey")}), 403, "AccessDeniedException")


def test_a_credential_of_another_key_store_is_refused(server, ks, account, key_arn):
    other = KeyStore(server, account)
    key_id = key_arn.rsplit("/", 1)[1]
    # The other store is in use (known to the frontend: a new prefix may be
    # unknown, InvalidUriPathException, for up to a second to requests
    # signed by anyone else).
    assert other.call(f"keys/{key_id}/encrypt", encrypt_body(b"x"))[0] == 200
    # Signed correctly for the other store's path, with this store's credential.
    assert_error(ks.call(f"keys/{key_id}/encrypt", encrypt_body(b"x"), prefix=other.prefix), 401,
                 "AuthenticationFailedException")


def admin_xks(server, *args) -> str:
    out = subprocess.run([strongroom_bin(), "admin", "--data-dir", server.dir.name, "xks", *args],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_admin_adds_lists_and_revokes_credentials(server, ks):
    added = dict(line.split("=", 1) for line in admin_xks(server, "add-credential", "--uri-prefix", ks.prefix).split())
    assert set(added) == {"XKS_ACCESS_KEY_ID", "XKS_SECRET_ACCESS_KEY"}
    second = KeyStore.__new__(KeyStore)
    second.__dict__.update(ks.__dict__, access_key_id=added["XKS_ACCESS_KEY_ID"], secret=added["XKS_SECRET_ACCESS_KEY"])
    health = {"requestMetadata": {"kmsRequestId": "r", "kmsOperation": "KmsHealthCheck"}}
    assert second.call("health", health)[0] == 200
    admin_xks(server, "revoke-credential", "--uri-prefix", ks.prefix, "--access-key-id", ks.access_key_id)
    listing = admin_xks(server, "list")
    block = listing[listing.index(ks.prefix + "/kms/xks/v1"):]
    assert f"{ks.access_key_id}  revoked" in block
    assert f"{added['XKS_ACCESS_KEY_ID']}  live" in block
    # Bad input is refused and changes nothing.
    out = subprocess.run([strongroom_bin(), "admin", "--data-dir", server.dir.name, "xks", "create-keystore",
                          "--account-id", "999999999999", "--uri-prefix", "bad prefix"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    out = subprocess.run([strongroom_bin(), "admin", "--data-dir", server.dir.name, "xks", "create-keystore",
                          "--account-id", ks.arn.split(":")[4], "--uri-prefix", ks.prefix],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "already" in out.stderr
    assert admin_xks(server, "list").count(ks.prefix + "/kms/xks/v1") == 1


def test_health_reports_a_killed_module_unavailable_and_encryption_goes_on():
    """Two real module processes in one domain behind `strongroom dev`: both
    ACTIVE; one killed, it is UNAVAILABLE by its address while the other
    stays ACTIVE and encrypts; both down, health is InternalException."""
    front = tempfile.TemporaryDirectory(prefix="strongroom-compat-front-")
    fleet = ModuleFleet(2, Path(front.name))
    server = None
    try:
        server = DevServer(*fleet.frontend_args(), data_dir=front)
        kms = server.client()
        key_id = kms.create_key()["KeyMetadata"]["KeyId"]
        account = kms.describe_key(KeyId=key_id)["KeyMetadata"]["AWSAccountId"]
        ks = KeyStore(server, account, admin_args=fleet.frontend_args())
        health = {"requestMetadata": {"kmsRequestId": str(uuid.uuid4()), "kmsOperation": "KmsHealthCheck"}}
        a, b = fleet.modules

        def statuses():
            status, body = ks.call("health", health)
            if status != 200:
                return status, body
            return status, {m["id"]: m["healthStatus"] for m in body["ekmFleetDetails"]}

        assert statuses() == (200, {a.addr: "ACTIVE", b.addr: "ACTIVE"})
        b.kill()
        time.sleep(HEALTH_CACHE_SECS + 1)
        assert statuses() == (200, {a.addr: "ACTIVE", b.addr: "UNAVAILABLE"})
        status, sealed = ks.call(f"keys/{key_id}/encrypt", encrypt_body(b"still here"))
        assert status == 200, sealed
        status, opened = ks.call(f"keys/{key_id}/decrypt", decrypt_body(sealed))
        assert (status, unb64(opened["plaintext"])) == (200, b"still here")
        a.kill()
        time.sleep(HEALTH_CACHE_SECS + 1)
        assert_error(ks.call("health", health), 500, "InternalException")
    finally:
        if server is not None:
            server.stop()
        fleet.stop()
        front.cleanup()
