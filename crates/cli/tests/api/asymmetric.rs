//! Asymmetric keys through aws-sdk-kms: Sign/Verify (RAW and DIGEST) for
//! every RSA and ECC spec, GetPublicKey, RSA-OAEP inside and outside, and
//! the usage rules. (tests/compat checks signatures with Python's
//! `cryptography` and the openssl CLI, independently of aws-lc.)

use aws_sdk_kms::types::{
    EncryptionAlgorithmSpec, KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec,
};
use strongroom_crypto::{
    AsymmetricSpec, OaepHash, SignInput, SigningAlgorithm, rsa_oaep_encrypt, verify_signature,
};

use crate::common::*;

async fn create(c: &aws_sdk_kms::Client, spec: KeySpec, usage: KeyUsageType) -> String {
    c.create_key()
        .key_spec(spec)
        .key_usage(usage)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap()
}

/// The digest of `m` with the algorithm's hash.
fn sha(alg: &SigningAlgorithmSpec, m: &[u8]) -> Vec<u8> {
    let name = alg.as_str();
    if name.ends_with("256") {
        strongroom_crypto::sha256(m).to_vec()
    } else if name.ends_with("384") {
        strongroom_crypto::sha384(m).to_vec()
    } else {
        strongroom_crypto::sha512(m).to_vec()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_signing_spec_signs_raw_and_digest() {
    let env = TestEnv::start().await;
    let c = &env.client;
    for (spec, asym) in [
        (KeySpec::EccNistP256, AsymmetricSpec::EccNistP256),
        (KeySpec::EccNistP384, AsymmetricSpec::EccNistP384),
        (KeySpec::EccNistP521, AsymmetricSpec::EccNistP521),
        (KeySpec::EccSecgP256K1, AsymmetricSpec::EccSecgP256k1),
        (KeySpec::Rsa2048, AsymmetricSpec::Rsa2048),
        (KeySpec::Rsa3072, AsymmetricSpec::Rsa3072),
    ] {
        let key = create(c, spec.clone(), KeyUsageType::SignVerify).await;
        let meta = c
            .describe_key()
            .key_id(&key)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        let algs = meta.signing_algorithms.unwrap();
        assert_eq!(algs.len(), asym.signing_algorithms().len(), "{spec:?}");
        assert!(meta.encryption_algorithms.is_none());
        let public = c.get_public_key().key_id(&key).send().await.unwrap();
        assert_eq!(public.key_usage, Some(KeyUsageType::SignVerify));
        assert_eq!(public.signing_algorithms.as_ref(), Some(&algs));
        let spki = public.public_key.unwrap().into_inner();
        for alg in &algs {
            let ours = SigningAlgorithm::from_aws(alg.as_str()).unwrap();
            let raw = c
                .sign()
                .key_id(&key)
                .message(blob(b"signed message"))
                .signing_algorithm(alg.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(raw.signing_algorithm.as_ref(), Some(alg));
            let sig = raw.signature.unwrap().into_inner();
            assert!(
                verify_signature(asym, &spki, ours, SignInput::Raw(b"signed message"), &sig),
                "{spec:?} {alg:?}"
            );
            let digest = sha(alg, b"signed message");
            let dsig = c
                .sign()
                .key_id(&key)
                .message(blob(&digest))
                .message_type(MessageType::Digest)
                .signing_algorithm(alg.clone())
                .send()
                .await
                .unwrap()
                .signature
                .unwrap()
                .into_inner();
            assert!(verify_signature(
                asym,
                &spki,
                ours,
                SignInput::Raw(b"signed message"),
                &dsig
            ));
            let ok = c
                .verify()
                .key_id(&key)
                .message(blob(b"signed message"))
                .signature(blob(&dsig))
                .signing_algorithm(alg.clone())
                .send()
                .await
                .unwrap();
            assert!(ok.signature_valid);
            let e = c
                .verify()
                .key_id(&key)
                .message(blob(b"signed messagE"))
                .signature(blob(&sig))
                .signing_algorithm(alg.clone())
                .send()
                .await
                .unwrap_err();
            assert_eq!(code(&e), "KMSInvalidSignatureException");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_oaep_encrypts_outside_and_decrypts_inside() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let key = create(c, KeySpec::Rsa2048, KeyUsageType::EncryptDecrypt).await;
    let meta = c
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(
        meta.encryption_algorithms,
        Some(vec![
            EncryptionAlgorithmSpec::RsaesOaepSha1,
            EncryptionAlgorithmSpec::RsaesOaepSha256
        ])
    );
    let spki = c
        .get_public_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .public_key
        .unwrap()
        .into_inner();
    for (alg, hash) in [
        (EncryptionAlgorithmSpec::RsaesOaepSha1, OaepHash::Sha1),
        (EncryptionAlgorithmSpec::RsaesOaepSha256, OaepHash::Sha256),
    ] {
        let outside = rsa_oaep_encrypt(&spki, hash, b"sealed outside").unwrap();
        let out = c
            .decrypt()
            .key_id(&key)
            .ciphertext_blob(blob(&outside))
            .encryption_algorithm(alg.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(out.plaintext.unwrap().as_ref(), b"sealed outside");
        assert_eq!(out.encryption_algorithm, Some(alg.clone()));
        let inside = c
            .encrypt()
            .key_id(&key)
            .plaintext(blob(b"in"))
            .encryption_algorithm(alg.clone())
            .send()
            .await
            .unwrap();
        let back = c
            .decrypt()
            .key_id(&key)
            .ciphertext_blob(inside.ciphertext_blob.unwrap())
            .encryption_algorithm(alg)
            .send()
            .await
            .unwrap();
        assert_eq!(back.plaintext.unwrap().as_ref(), b"in");
    }
    // Refusals.
    let ct = rsa_oaep_encrypt(&spki, OaepHash::Sha256, b"x").unwrap();
    let e = c
        .decrypt()
        .ciphertext_blob(blob(&ct))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidCiphertextException", "no KeyId");
    let e = c
        .decrypt()
        .key_id(&key)
        .ciphertext_blob(blob(&ct))
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha1)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidCiphertextException", "wrong OAEP hash");
    let e = c
        .encrypt()
        .key_id(&key)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        "InvalidKeyUsageException",
        "SYMMETRIC_DEFAULT on RSA"
    );
    let e = c
        .encrypt()
        .key_id(&key)
        .plaintext(blob(b"x"))
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .encryption_context("k", "v")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let e = c
        .encrypt()
        .key_id(&key)
        .plaintext(blob(&[0; 300]))
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        "ValidationException",
        "too long for RSA-2048 OAEP"
    );
    let e = c
        .generate_data_key()
        .key_id(&key)
        .number_of_bytes(32)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidKeyUsageException");
    let e = c
        .sign()
        .key_id(&key)
        .message(blob(b"m"))
        .signing_algorithm(SigningAlgorithmSpec::RsassaPssSha256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidKeyUsageException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asymmetric_usage_rules() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let p256 = create(c, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let sym = new_key(c).await;
    let sign = |key: &str, alg: SigningAlgorithmSpec, m: &[u8], t: MessageType| {
        c.sign()
            .key_id(key)
            .message(blob(m))
            .message_type(t)
            .signing_algorithm(alg)
            .send()
    };
    let e = sign(
        &p256,
        SigningAlgorithmSpec::EcdsaSha384,
        b"m",
        MessageType::Raw,
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "InvalidKeyUsageException");
    let e = sign(
        &p256,
        SigningAlgorithmSpec::EcdsaSha256,
        &[0; 31],
        MessageType::Digest,
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let e = sign(
        &sym,
        SigningAlgorithmSpec::EcdsaSha256,
        b"m",
        MessageType::Raw,
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "InvalidKeyUsageException");
    let e = c
        .encrypt()
        .key_id(&p256)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidKeyUsageException");
    let e = c.get_public_key().key_id(&sym).send().await.unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    let e = c
        .enable_key_rotation()
        .key_id(&p256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    c.disable_key().key_id(&p256).send().await.unwrap();
    let e = sign(
        &p256,
        SigningAlgorithmSpec::EcdsaSha256,
        b"m",
        MessageType::Raw,
    )
    .await
    .unwrap_err();
    assert_eq!(code(&e), "DisabledException");
    for (spec, usage, expected) in [
        (KeySpec::EccNistP256, None, "ValidationException"),
        (
            KeySpec::EccNistP256,
            Some(KeyUsageType::EncryptDecrypt),
            "ValidationException",
        ),
        (
            KeySpec::EccSecgP256K1,
            Some(KeyUsageType::KeyAgreement),
            "ValidationException",
        ),
        (
            KeySpec::Rsa2048,
            Some(KeyUsageType::KeyAgreement),
            "ValidationException",
        ),
        (
            KeySpec::Rsa2048,
            Some(KeyUsageType::GenerateVerifyMac),
            "ValidationException",
        ),
    ] {
        let mut req = c.create_key().key_spec(spec.clone());
        if let Some(u) = usage.clone() {
            req = req.key_usage(u);
        }
        let e = req.send().await.unwrap_err();
        assert_eq!(code(&e), expected, "{spec:?} {usage:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_key_pairs_are_sealed_under_a_symmetric_key() {
    use aws_sdk_kms::types::DataKeyPairSpec;
    let env = TestEnv::start().await;
    let c = &env.client;
    let key = new_key(c).await;
    for (spec, asym) in [
        (DataKeyPairSpec::EccNistP256, AsymmetricSpec::EccNistP256),
        (DataKeyPairSpec::Rsa4096, AsymmetricSpec::Rsa4096),
    ] {
        let pair = c
            .generate_data_key_pair()
            .key_id(&key)
            .key_pair_spec(spec.clone())
            .encryption_context("purpose", "signing")
            .send()
            .await
            .unwrap();
        assert_eq!(pair.key_pair_spec, Some(spec.clone()));
        let private = pair.private_key_plaintext.unwrap().into_inner();
        let public = pair.public_key.unwrap().into_inner();
        let loaded = strongroom_crypto::AsymmetricKey::from_pkcs8(asym, &private).unwrap();
        assert_eq!(loaded.public_key(), &public[..]);
        let opened = c
            .decrypt()
            .ciphertext_blob(pair.private_key_ciphertext_blob.unwrap())
            .encryption_context("purpose", "signing")
            .send()
            .await
            .unwrap();
        assert_eq!(opened.plaintext.unwrap().as_ref(), &private[..]);

        let without = c
            .generate_data_key_pair_without_plaintext()
            .key_id(&key)
            .key_pair_spec(spec)
            .send()
            .await
            .unwrap();
        let opened = c
            .decrypt()
            .ciphertext_blob(without.private_key_ciphertext_blob.unwrap())
            .send()
            .await
            .unwrap()
            .plaintext
            .unwrap();
        let loaded = strongroom_crypto::AsymmetricKey::from_pkcs8(asym, opened.as_ref()).unwrap();
        assert_eq!(loaded.public_key(), without.public_key.unwrap().as_ref());
    }
    let e = c
        .generate_data_key_pair()
        .key_id(&key)
        .key_pair_spec(DataKeyPairSpec::Sm2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    let e = c
        .generate_data_key_pair()
        .key_id(&key)
        .key_pair_spec(DataKeyPairSpec::from("RSA_1024"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let signing = create(c, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let e = c
        .generate_data_key_pair()
        .key_id(&signing)
        .key_pair_spec(DataKeyPairSpec::EccNistP256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidKeyUsageException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn derive_shared_secret_agrees_with_the_other_party() {
    use aws_sdk_kms::types::KeyAgreementAlgorithmSpec;
    let env = TestEnv::start().await;
    let c = &env.client;
    for (spec, asym) in [
        (KeySpec::EccNistP256, AsymmetricSpec::EccNistP256),
        (KeySpec::EccNistP521, AsymmetricSpec::EccNistP521),
    ] {
        let key = create(c, spec.clone(), KeyUsageType::KeyAgreement).await;
        let meta = c
            .describe_key()
            .key_id(&key)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(
            meta.key_agreement_algorithms,
            Some(vec![KeyAgreementAlgorithmSpec::Ecdh])
        );
        let kms_public = c
            .get_public_key()
            .key_id(&key)
            .send()
            .await
            .unwrap()
            .public_key
            .unwrap()
            .into_inner();
        let other = strongroom_crypto::AsymmetricKey::generate(asym).unwrap();
        let out = c
            .derive_shared_secret()
            .key_id(&key)
            .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
            .public_key(blob(other.public_key()))
            .send()
            .await
            .unwrap();
        assert_eq!(
            out.shared_secret.unwrap().as_ref(),
            &other.ecdh(&kms_public).unwrap()[..]
        );
    }
    let key = create(c, KeySpec::EccNistP256, KeyUsageType::KeyAgreement).await;
    let p384 = strongroom_crypto::AsymmetricKey::generate(AsymmetricSpec::EccNistP384).unwrap();
    let e = c
        .derive_shared_secret()
        .key_id(&key)
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(blob(p384.public_key()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException", "a key on another curve");
    let e = c
        .sign()
        .key_id(&key)
        .message(blob(b"m"))
        .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidKeyUsageException");
    let signing = create(c, KeySpec::EccNistP256, KeyUsageType::SignVerify).await;
    let e = c
        .derive_shared_secret()
        .key_id(&signing)
        .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
        .public_key(blob(p384.public_key()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidKeyUsageException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ed25519_signs_raw_messages() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let key = create(c, KeySpec::EccNistEdwards25519, KeyUsageType::SignVerify).await;
    let meta = c
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(
        meta.signing_algorithms,
        Some(vec![SigningAlgorithmSpec::Ed25519Sha512])
    );
    let spki = c
        .get_public_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .public_key
        .unwrap()
        .into_inner();
    let sig = c
        .sign()
        .key_id(&key)
        .message(blob(b"edwards"))
        .signing_algorithm(SigningAlgorithmSpec::Ed25519Sha512)
        .send()
        .await
        .unwrap()
        .signature
        .unwrap()
        .into_inner();
    assert_eq!(sig.len(), 64);
    assert!(verify_signature(
        AsymmetricSpec::Ed25519,
        &spki,
        SigningAlgorithm::Ed25519Sha512,
        SignInput::Raw(b"edwards"),
        &sig
    ));
    let ok = c
        .verify()
        .key_id(&key)
        .message(blob(b"edwards"))
        .signature(blob(&sig))
        .signing_algorithm(SigningAlgorithmSpec::Ed25519Sha512)
        .send()
        .await
        .unwrap();
    assert!(ok.signature_valid);
    let e = c
        .sign()
        .key_id(&key)
        .message(blob(&[0; 64]))
        .message_type(MessageType::Digest)
        .signing_algorithm(SigningAlgorithmSpec::Ed25519Sha512)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let e = c
        .create_key()
        .key_spec(KeySpec::EccNistEdwards25519)
        .key_usage(KeyUsageType::KeyAgreement)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
}
