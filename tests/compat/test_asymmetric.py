"""Asymmetric keys checked outside Strongroom: signatures verified with the
`cryptography` package and the openssl CLI from GetPublicKey; RSA-OAEP
encryption done by `cryptography`, decryption inside."""

import subprocess

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils


def public_key(kms, key_id):
    return serialization.load_der_public_key(kms.get_public_key(KeyId=key_id)["PublicKey"])


@pytest.mark.parametrize(
    "spec,alg,hash_",
    [
        ("ECC_NIST_P256", "ECDSA_SHA_256", hashes.SHA256()),
        ("ECC_NIST_P384", "ECDSA_SHA_384", hashes.SHA384()),
        ("ECC_NIST_P521", "ECDSA_SHA_512", hashes.SHA512()),
        ("ECC_SECG_P256K1", "ECDSA_SHA_256", hashes.SHA256()),
    ],
)
def test_ecdsa_signatures_verify_with_cryptography(kms, spec, alg, hash_):
    key = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    pub = public_key(kms, key)
    sig = kms.sign(KeyId=key, Message=b"hello", MessageType="RAW", SigningAlgorithm=alg)["Signature"]
    pub.verify(sig, b"hello", ec.ECDSA(hash_))
    digest = hashes.Hash(hash_)
    digest.update(b"prehashed")
    d = digest.finalize()
    sig = kms.sign(KeyId=key, Message=d, MessageType="DIGEST", SigningAlgorithm=alg)["Signature"]
    pub.verify(sig, d, ec.ECDSA(utils.Prehashed(hash_)))


@pytest.mark.parametrize("bits", [2048, 4096])
def test_rsa_signatures_verify_with_cryptography(kms, bits):
    key = kms.create_key(KeySpec=f"RSA_{bits}", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    pub = public_key(kms, key)
    assert pub.key_size == bits
    for name, h in [("256", hashes.SHA256()), ("384", hashes.SHA384()), ("512", hashes.SHA512())]:
        pss = kms.sign(KeyId=key, Message=b"m", SigningAlgorithm=f"RSASSA_PSS_SHA_{name}")["Signature"]
        pub.verify(pss, b"m", padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size), h)
        v15 = kms.sign(KeyId=key, Message=b"m", SigningAlgorithm=f"RSASSA_PKCS1_V1_5_SHA_{name}")["Signature"]
        pub.verify(v15, b"m", padding.PKCS1v15(), h)


@pytest.mark.parametrize(
    "spec,alg,opts",
    [
        ("ECC_NIST_P256", "ECDSA_SHA_256", []),
        ("RSA_2048", "RSASSA_PSS_SHA_256", ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"]),
    ],
)
def test_signatures_verify_with_the_openssl_cli(kms, tmp_path, spec, alg, opts):
    key = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    (tmp_path / "pub.der").write_bytes(kms.get_public_key(KeyId=key)["PublicKey"])
    (tmp_path / "msg").write_bytes(b"verified by openssl")
    (tmp_path / "sig").write_bytes(kms.sign(KeyId=key, Message=b"verified by openssl", SigningAlgorithm=alg)["Signature"])
    out = subprocess.run(
        ["openssl", "dgst", "-sha256", *opts, "-keyform", "DER", "-verify", "pub.der", "-signature", "sig", "msg"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert out.returncode == 0 and "Verified OK" in out.stdout, out.stdout + out.stderr
    (tmp_path / "msg").write_bytes(b"tampered")
    out = subprocess.run(
        ["openssl", "dgst", "-sha256", *opts, "-keyform", "DER", "-verify", "pub.der", "-signature", "sig", "msg"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert out.returncode != 0


def test_rsa_oaep_encrypted_by_cryptography_decrypts_inside(kms):
    key = kms.create_key(KeySpec="RSA_3072", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]["Arn"]
    pub = public_key(kms, key)
    for alg, h in [("RSAES_OAEP_SHA_1", hashes.SHA1()), ("RSAES_OAEP_SHA_256", hashes.SHA256())]:
        ct = pub.encrypt(b"from outside", padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None))
        out = kms.decrypt(KeyId=key, CiphertextBlob=ct, EncryptionAlgorithm=alg)
        assert out["Plaintext"] == b"from outside" and out["EncryptionAlgorithm"] == alg


def test_data_key_pair_is_usable_by_cryptography(kms, key_arn):
    pair = kms.generate_data_key_pair(KeyId=key_arn, KeyPairSpec="ECC_NIST_P384")
    private = serialization.load_der_private_key(pair["PrivateKeyPlaintext"], password=None)
    public = serialization.load_der_public_key(pair["PublicKey"])
    sig = private.sign(b"data", ec.ECDSA(hashes.SHA384()))
    public.verify(sig, b"data", ec.ECDSA(hashes.SHA384()))
    assert kms.decrypt(CiphertextBlob=pair["PrivateKeyCiphertextBlob"])["Plaintext"] == pair["PrivateKeyPlaintext"]


def test_derive_shared_secret_matches_cryptography_ecdh(kms):
    key = kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["Arn"]
    mine = ec.generate_private_key(ec.SECP384R1())
    mine_der = mine.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    out = kms.derive_shared_secret(KeyId=key, KeyAgreementAlgorithm="ECDH", PublicKey=mine_der)
    assert out["SharedSecret"] == mine.exchange(ec.ECDH(), public_key(kms, key))


def test_ed25519_signature_verifies_with_cryptography(kms):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    key = kms.create_key(KeySpec="ECC_NIST_EDWARDS25519", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    pub = public_key(kms, key)
    assert isinstance(pub, Ed25519PublicKey)
    sig = kms.sign(KeyId=key, Message=b"edwards", MessageType="RAW", SigningAlgorithm="ED25519_SHA_512")["Signature"]
    pub.verify(sig, b"edwards")
