"""The seed's extensions called from Python with botocore's own SigV4
signer (AWS SDKs do not know them): SuspendKey and ReinstateKey, with the
owner unwrapping the suspended material using the `cryptography` package."""

import base64
import json
import os
import struct
import uuid

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

import urllib.request


def call_extension(kms, operation: str, body: dict):
    """POSTs a signed TrentService.<operation> request; returns (status, json)."""
    url = kms.meta.endpoint_url
    request = AWSRequest(
        method="POST",
        url=url + "/",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"TrentService.{operation}"},
    )
    SigV4Auth(kms._request_signer._credentials.get_frozen_credentials(), "kms", kms.meta.region_name).add_auth(request)
    req = urllib.request.Request(url + "/", data=request.body, headers=dict(request.headers), method="POST")
    try:
        with urllib.request.urlopen(req) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def unwrap_suspended(private_key, blob: bytes, key_uuid: str) -> bytes:
    """docs/extensions.md: u16 length, RSA-OAEP-SHA256(AES key), IV, AES-GCM(bundle)."""
    (n,) = struct.unpack(">H", blob[:2])
    wrapped, rest = blob[2 : 2 + n], blob[2 + n :]
    aes = private_key.decrypt(wrapped, padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
    return AESGCM(aes).decrypt(rest[:12], rest[12:], b"strongroom suspended key v1" + uuid.UUID(key_uuid).bytes)


def rewrap_for_import(kms, key_id: str, bundle: bytes):
    params = kms.get_parameters_for_import(KeyId=key_id, WrappingAlgorithm="RSA_AES_KEY_WRAP_SHA_256", WrappingKeySpec="RSA_3072")
    pub = serialization.load_der_public_key(params["PublicKey"])
    aes = os.urandom(32)
    h = hashes.SHA256()
    wrapped = pub.encrypt(aes, padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)) + aes_key_wrap_with_padding(aes, bundle)
    return base64.b64encode(params["ImportToken"]).decode(), base64.b64encode(wrapped).decode()


def releasing_policy(kms) -> str:
    """kms:* plus, named, the actions kms:* does not cover (docs/policies.md)."""
    probe = kms.create_key()["KeyMetadata"]
    account = probe["AWSAccountId"]
    kms.schedule_key_deletion(KeyId=probe["KeyId"], PendingWindowInDays=7)
    return json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": ["kms:*", "kms:SuspendKey", "kms:ExposeKeyMaterial"], "Resource": "*"}]})


def owned_key(kms, owner_pub: bytes) -> str:
    """A key whose suspension owner is fixed at creation."""
    status, out = call_extension(
        kms, "CreateKey", {"SuspensionOwnerPublicKey": base64.b64encode(owner_pub).decode(), "Policy": releasing_policy(kms)}
    )
    assert status == 200, out
    return out["KeyMetadata"]["KeyId"]


def test_suspend_hands_the_key_to_its_owner_and_reinstate_brings_it_back(kms):
    owner = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    owner_pub = owner.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_id = owned_key(kms, owner_pub)
    first = kms.encrypt(KeyId=key_id, Plaintext=b"version one")["CiphertextBlob"]
    kms.rotate_key_on_demand(KeyId=key_id)
    second = kms.encrypt(KeyId=key_id, Plaintext=b"version two")["CiphertextBlob"]

    status, out = call_extension(kms, "SuspendKey", {"KeyId": key_id, "PublicKey": base64.b64encode(owner_pub).decode()})
    assert status == 200, out
    assert out["Versions"] == 2
    blob = base64.b64decode(out["SuspendedKeyMaterial"])
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Suspended"
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=first)
    assert e.value.response["Error"]["Code"] == "KMSInvalidStateException"

    bundle = unwrap_suspended(owner, blob, key_id)
    # Substituted material is refused, and the key stays suspended.
    tampered = bytearray(bundle)
    tampered[-1] ^= 1
    token, material = rewrap_for_import(kms, key_id, bytes(tampered))
    status, out = call_extension(kms, "ReinstateKey", {"KeyId": key_id, "ImportToken": token, "EncryptedKeyMaterial": material})
    assert status == 400 and out["__type"] == "IncorrectKeyMaterialException", out
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Suspended"

    token, material = rewrap_for_import(kms, key_id, bundle)
    status, out = call_extension(kms, "ReinstateKey", {"KeyId": key_id, "ImportToken": token, "EncryptedKeyMaterial": material})
    assert status == 200, out
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.decrypt(CiphertextBlob=first)["Plaintext"] == b"version one"
    assert kms.decrypt(CiphertextBlob=second)["Plaintext"] == b"version two"


def test_suspend_refusals(kms):
    owner = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    owner_pub = owner.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_id = owned_key(kms, owner_pub)
    # Not the owner fixed at creation: refused.
    status, out = call_extension(kms, "SuspendKey", {"KeyId": key_id, "PublicKey": base64.b64encode(b"not a key").decode()})
    assert status == 400 and out["__type"] == "ValidationException", out
    # kms:* (the default policy) does not allow SuspendKey at all.
    plain = kms.create_key()["KeyMetadata"]["KeyId"]
    status, out = call_extension(kms, "SuspendKey", {"KeyId": plain, "PublicKey": base64.b64encode(owner_pub).decode()})
    assert status == 400 and out["__type"] == "AccessDeniedException", out
    status, out = call_extension(kms, "ReinstateKey", {"KeyId": key_id, "ImportToken": "AA==", "EncryptedKeyMaterial": "AA=="})
    assert status == 400 and out["__type"] == "KMSInvalidStateException", out
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def test_exposed_hmac_key_matches_pythons_own_hmac(kms):
    import hashlib
    import hmac

    status, out = call_extension(
        kms,
        "CreateKey",
        {"KeySpec": "HMAC_384", "KeyUsage": "GENERATE_VERIFY_MAC", "ExposeKeyMaterial": True, "Policy": releasing_policy(kms)},
    )
    assert status == 200, out
    key = base64.b64decode(out["KeyMaterial"])
    assert len(key) == 48 and out["KeyMetadata"]["Exposed"] is True
    mac = kms.generate_mac(KeyId=out["KeyMetadata"]["Arn"], Message=b"independent", MacAlgorithm="HMAC_SHA_384")["Mac"]
    assert mac == hmac.new(key, b"independent", hashlib.sha384).digest()
