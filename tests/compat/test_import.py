"""Imported key material (BYOK), wrapped by the customer exactly as the AWS
documentation tells them to with OpenSSL, here with the `cryptography`
package (and the openssl CLI for RSAES_OAEP_SHA_256); then a ciphertext
from Strongroom is decrypted independently with the known material, which
proves the imported material is the key in use."""

import os
import struct
import subprocess
import time

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding


def error_code(excinfo) -> str:
    return excinfo.value.response["Error"]["Code"]


def canonical_context(ctx: dict) -> bytes:
    out = struct.pack(">I", len(ctx))
    for k in sorted(ctx, key=lambda s: s.encode()):
        out += struct.pack(">I", len(k.encode())) + k.encode() + struct.pack(">I", len(ctx[k].encode())) + ctx[k].encode()
    return out


def decrypt_independently(material: bytes, blob: bytes, ctx: dict) -> bytes:
    """docs/formats.md, symmetric ciphertext blob v1."""
    header, body = blob[:65], blob[65:]
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=header[21:53], info=b"strongroom ciphertext v1" + header[:21]).derive(material)
    return AESGCM(key).decrypt(header[53:65], body, header + canonical_context(ctx))


def wrap(public_der: bytes, algorithm: str, material: bytes) -> bytes:
    pub = serialization.load_der_public_key(public_der)
    h = hashes.SHA1() if algorithm.endswith("SHA_1") else hashes.SHA256()
    oaep = padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)
    if algorithm.startswith("RSAES_OAEP"):
        return pub.encrypt(material, oaep)
    # RSA_AES_KEY_WRAP: a fresh AES-256 key wrapped with RSA-OAEP, then the
    # material wrapped with AES key wrap with padding (RFC 5649) under it.
    aes = os.urandom(32)
    return pub.encrypt(aes, oaep) + aes_key_wrap_with_padding(aes, material)


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "RSA_AES_KEY_WRAP_SHA_1", "RSA_AES_KEY_WRAP_SHA_256"])
def test_import_wrapped_by_the_customer(kms, algorithm):
    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    assert key["KeyState"] == "PendingImport" and key["Origin"] == "EXTERNAL"
    params = kms.get_parameters_for_import(KeyId=key["KeyId"], WrappingAlgorithm=algorithm, WrappingKeySpec="RSA_3072")
    assert params["ParametersValidTo"].timestamp() > time.time() + 23 * 3600
    material = os.urandom(32)
    kms.import_key_material(
        KeyId=key["KeyId"],
        ImportToken=params["ImportToken"],
        EncryptedKeyMaterial=wrap(params["PublicKey"], algorithm, material),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    meta = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
    assert meta["KeyState"] == "Enabled" and meta["ExpirationModel"] == "KEY_MATERIAL_DOES_NOT_EXPIRE"
    ctx = {"tenant": "acme"}
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"under imported material", EncryptionContext=ctx)["CiphertextBlob"]
    assert decrypt_independently(material, blob, ctx) == b"under imported material"


def test_import_with_the_openssl_cli_delete_and_reimport(kms, tmp_path):
    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
    material = os.urandom(32)
    (tmp_path / "material.bin").write_bytes(material)

    def import_with_openssl():
        params = kms.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
        (tmp_path / "pub.der").write_bytes(params["PublicKey"])
        subprocess.run(
            ["openssl", "pkeyutl", "-encrypt", "-in", "material.bin", "-out", "enc.bin", "-inkey", "pub.der",
             "-keyform", "DER", "-pubin", "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256",
             "-pkeyopt", "rsa_mgf1_md:sha256"],
            cwd=tmp_path, check=True,
        )
        return params["ImportToken"], (tmp_path / "enc.bin").read_bytes()

    token, enc = import_with_openssl()
    kms.import_key_material(KeyId=key, ImportToken=token, EncryptedKeyMaterial=enc, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    blob = kms.encrypt(KeyId=key, Plaintext=b"kept")["CiphertextBlob"]
    kms.delete_imported_key_material(KeyId=key)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingImport"
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=blob)
    assert error_code(e) == "KMSInvalidStateException"
    # Other material is refused; the same material brings every ciphertext back.
    params = kms.get_parameters_for_import(KeyId=key, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048")
    with pytest.raises(ClientError) as e:
        kms.import_key_material(KeyId=key, ImportToken=params["ImportToken"],
                                EncryptedKeyMaterial=wrap(params["PublicKey"], "RSAES_OAEP_SHA_256", os.urandom(32)),
                                ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert error_code(e) == "IncorrectKeyMaterialException"
    token, enc = import_with_openssl()
    kms.import_key_material(KeyId=key, ImportToken=token, EncryptedKeyMaterial=enc, ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE")
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"
