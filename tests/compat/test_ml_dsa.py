"""ML-DSA (FIPS 204) keys through boto3: signatures made by Strongroom
verified outside it with the `cryptography` package (OpenSSL's ML-DSA)
from the GetPublicKey DER, and the message types AWS documents."""

import pytest
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import mldsa

SPECS = [
    ("ML_DSA_44", mldsa.MLDSA44PublicKey, 2420),
    ("ML_DSA_65", mldsa.MLDSA65PublicKey, 3309),
    ("ML_DSA_87", mldsa.MLDSA87PublicKey, 4627),
]


def code(e):
    return e.value.response["Error"]["Code"]


def signing_key(kms, spec):
    return kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]


@pytest.mark.parametrize("spec,public_type,sig_len", SPECS)
def test_raw_signatures_verify_with_cryptography(kms, spec, public_type, sig_len):
    key = signing_key(kms, spec)
    out = kms.get_public_key(KeyId=key)
    assert out["KeySpec"] == spec
    assert out["SigningAlgorithms"] == ["ML_DSA_SHAKE_256"]
    pub = serialization.load_der_public_key(out["PublicKey"])
    assert isinstance(pub, public_type)
    message = bytes(range(256)) * 16  # 4096 bytes, AWS's largest RAW message
    sig = kms.sign(KeyId=key, Message=message, MessageType="RAW", SigningAlgorithm="ML_DSA_SHAKE_256")
    assert sig["SigningAlgorithm"] == "ML_DSA_SHAKE_256"
    signature = sig["Signature"]
    assert len(signature) == sig_len
    pub.verify(signature, message)  # pure ML-DSA, empty context
    # The same signature over the mu of the message (FIPS 204 6.2), as
    # an EXTERNAL_MU signer would produce it.
    hasher = mldsa.MLDSAMuHasher(pub)
    hasher.update(message)
    pub.verify_mu(signature, hasher.finalize())
    with pytest.raises(InvalidSignature):
        pub.verify(signature, message[:-1])
    assert kms.verify(KeyId=key, Message=message, Signature=signature, SigningAlgorithm="ML_DSA_SHAKE_256")[
        "SignatureValid"
    ]
    with pytest.raises(ClientError) as e:
        kms.verify(KeyId=key, Message=message[:-1], Signature=signature, SigningAlgorithm="ML_DSA_SHAKE_256")
    assert code(e) == "KMSInvalidSignatureException"


def test_digest_and_external_mu_are_refused(kms):
    key = signing_key(kms, "ML_DSA_65")
    pub = serialization.load_der_public_key(kms.get_public_key(KeyId=key)["PublicKey"])
    hasher = mldsa.MLDSAMuHasher(pub)
    hasher.update(b"a large document")
    mu = hasher.finalize()
    assert len(mu) == 64
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=key, Message=mu, MessageType="DIGEST", SigningAlgorithm="ML_DSA_SHAKE_256")
    assert code(e) == "ValidationException"
    # AWS signs a caller's mu; aws-lc-rs, under Strongroom, cannot.
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=key, Message=mu, MessageType="EXTERNAL_MU", SigningAlgorithm="ML_DSA_SHAKE_256")
    assert code(e) == "UnsupportedOperationException"
    assert "RAW" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        kms.sign(KeyId=key, Message=b"m", SigningAlgorithm="ECDSA_SHA_256")
    assert code(e) == "InvalidKeyUsageException"
    with pytest.raises(ClientError) as e:
        kms.create_key(KeySpec="ML_DSA_65", KeyUsage="ENCRYPT_DECRYPT")
    assert code(e) == "ValidationException"
    # The key still signs after the refusals.
    sig = kms.sign(KeyId=key, Message=b"a large document", SigningAlgorithm="ML_DSA_SHAKE_256")["Signature"]
    pub.verify(sig, b"a large document")
