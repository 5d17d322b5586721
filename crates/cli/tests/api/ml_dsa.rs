//! ML-DSA (FIPS 204) signing keys through aws-sdk-kms: ML_DSA_44/65/87
//! with ML_DSA_SHAKE_256, signatures checked independently with aws-lc-rs
//! from the GetPublicKey DER, AWS's errors for wrong algorithms, usages
//! and message types, key-state rules, and keys kept across a restart.
//! `EXTERNAL_MU` is refused: aws-lc-rs signs ML-DSA over the message only.

use aws_lc_rs::signature::{
    ML_DSA_44, ML_DSA_65, ML_DSA_87, PqdsaVerificationAlgorithm, UnparsedPublicKey,
};
use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::{
    DataKeyPairSpec, KeySpec, KeyState, KeyUsageType, MessageType, SigningAlgorithmSpec,
};

use crate::common::*;

const ALG: SigningAlgorithmSpec = SigningAlgorithmSpec::MlDsaShake256;

/// (spec, aws-lc-rs algorithm, last OID byte of id-ml-dsa-*, public key
/// length, signature length), FIPS 204 table 2.
const SPECS: [(KeySpec, &PqdsaVerificationAlgorithm, u8, usize, usize); 3] = [
    (KeySpec::MlDsa44, &ML_DSA_44, 0x11, 1312, 2420),
    (KeySpec::MlDsa65, &ML_DSA_65, 0x12, 1952, 3309),
    (KeySpec::MlDsa87, &ML_DSA_87, 0x13, 2592, 4627),
];

async fn create(c: &Client, spec: KeySpec) -> String {
    c.create_key()
        .key_spec(spec)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap()
}

async fn sign(c: &Client, key: &str, message: &[u8]) -> Vec<u8> {
    c.sign()
        .key_id(key)
        .message(blob(message))
        .signing_algorithm(ALG)
        .send()
        .await
        .unwrap()
        .signature
        .unwrap()
        .into_inner()
}

/// The error code of a Verify with `ALG` and `message_type`.
async fn verify_code(c: &Client, key: &str, message: &[u8], sig: &[u8], mt: MessageType) -> String {
    let e = c
        .verify()
        .key_id(key)
        .message(blob(message))
        .message_type(mt)
        .signature(blob(sig))
        .signing_algorithm(ALG)
        .send()
        .await
        .unwrap_err();
    code(&e)
}

/// The error (code, message) of a Sign with `alg` and `message_type`.
async fn sign_error(
    c: &Client,
    key: &str,
    message: &[u8],
    alg: SigningAlgorithmSpec,
    mt: MessageType,
) -> (String, String) {
    let e = c
        .sign()
        .key_id(key)
        .message(blob(message))
        .message_type(mt)
        .signing_algorithm(alg)
        .send()
        .await
        .unwrap_err();
    (code(&e), e.message().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_ml_dsa_spec_signs_raw_verified_with_aws_lc_from_the_public_key() {
    let env = TestEnv::start().await;
    let c = &env.client;
    for (spec, verifier, oid, public_len, sig_len) in SPECS {
        let key = create(c, spec.clone()).await;
        let meta = c.describe_key().key_id(&key).send().await.unwrap();
        let meta = meta.key_metadata.unwrap();
        assert_eq!(meta.key_spec, Some(spec.clone()));
        assert_eq!(meta.signing_algorithms, Some(vec![ALG]));
        assert!(meta.encryption_algorithms.is_none());
        let public = c.get_public_key().key_id(&key).send().await.unwrap();
        assert_eq!(public.key_spec, Some(spec.clone()));
        assert_eq!(public.key_usage, Some(KeyUsageType::SignVerify));
        assert_eq!(public.signing_algorithms, Some(vec![ALG]));
        assert!(public.encryption_algorithms.is_none());
        // SubjectPublicKeyInfo { AlgorithmIdentifier { id-ml-dsa-* }, BIT STRING pk }.
        let spki = public.public_key.unwrap().into_inner();
        assert_eq!(spki.len(), public_len + 22, "{spec:?}");
        let id = [
            0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x03, oid,
        ];
        assert_eq!(&spki[4..17], &id, "{spec:?}");

        // The largest RAW message AWS takes, and the default MessageType.
        let message = vec![0x5a; 4096];
        let out = c
            .sign()
            .key_id(&key)
            .message(blob(&message))
            .message_type(MessageType::Raw)
            .signing_algorithm(ALG)
            .send()
            .await
            .unwrap();
        assert_eq!(out.signing_algorithm, Some(ALG));
        assert_eq!(out.key_id.as_deref(), Some(key.as_str()));
        let sig = out.signature.unwrap().into_inner();
        assert_eq!(sig.len(), sig_len);
        let outside = UnparsedPublicKey::new(verifier, &spki);
        assert!(outside.verify(&message, &sig).is_ok(), "{spec:?}");
        // The raw key inside the SPKI verifies too: the DER holds the key.
        let raw = UnparsedPublicKey::new(verifier, &spki[22..]);
        assert!(raw.verify(&message, &sig).is_ok());
        assert!(outside.verify(&message[1..], &sig).is_err());
        let short = sign(c, &key, b"m").await;
        assert!(outside.verify(b"m", &short).is_ok());

        let ok = c
            .verify()
            .key_id(&key)
            .message(blob(&message))
            .signature(blob(&sig))
            .signing_algorithm(ALG)
            .send()
            .await
            .unwrap();
        assert!(ok.signature_valid);
        assert_eq!(ok.signing_algorithm, Some(ALG));
        let mut tampered = message.clone();
        tampered[4095] ^= 1;
        let invalid = "KMSInvalidSignatureException";
        assert_eq!(
            verify_code(c, &key, &tampered, &sig, MessageType::Raw).await,
            invalid
        );
        let mut bad = sig.clone();
        bad[sig_len / 2] ^= 0x80;
        assert_eq!(
            verify_code(c, &key, &message, &bad, MessageType::Raw).await,
            invalid
        );
        assert_eq!(
            verify_code(c, &key, b"m", &sig, MessageType::Raw).await,
            invalid
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ml_dsa_refuses_digests_external_mu_and_foreign_algorithms() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let key = create(c, KeySpec::MlDsa65).await;
    let mu = [0x42u8; 64];
    // DIGEST: ML-DSA signs the message itself.
    let (code_, msg) = sign_error(c, &key, &mu, ALG, MessageType::Digest).await;
    assert_eq!(code_, "ValidationException", "{msg}");
    assert!(
        msg.contains("ML_DSA_SHAKE_256") && msg.contains("RAW"),
        "{msg}"
    );
    let sig = sign(c, &key, &mu).await;
    assert_eq!(
        verify_code(c, &key, &mu, &sig, MessageType::Digest).await,
        "ValidationException"
    );
    // EXTERNAL_MU: AWS takes a 64-byte mu; aws-lc-rs cannot sign one.
    let (code_, msg) = sign_error(c, &key, &mu, ALG, MessageType::ExternalMu).await;
    assert_eq!(code_, "UnsupportedOperationException", "{msg}");
    assert!(msg.contains("EXTERNAL_MU") && msg.contains("RAW"), "{msg}");
    assert_eq!(
        verify_code(c, &key, &mu, &sig, MessageType::ExternalMu).await,
        "UnsupportedOperationException"
    );
    // Over AWS's 4096 bytes.
    let (code_, _) = sign_error(c, &key, &[1; 4097], ALG, MessageType::Raw).await;
    assert_eq!(code_, "ValidationException");
    // Another spec's algorithm on this key, and ML-DSA on other keys.
    for alg in [
        SigningAlgorithmSpec::EcdsaSha256,
        SigningAlgorithmSpec::RsassaPssSha256,
        SigningAlgorithmSpec::Ed25519Sha512,
    ] {
        let (code_, _) = sign_error(c, &key, b"m", alg.clone(), MessageType::Raw).await;
        assert_eq!(code_, "InvalidKeyUsageException", "{alg:?}");
    }
    let ecc = c
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    let symmetric = new_key(c).await;
    let other_ml_dsa = create(c, KeySpec::MlDsa44).await;
    for other in [&ecc, &symmetric] {
        let (code_, _) = sign_error(c, other, b"m", ALG, MessageType::Raw).await;
        assert_eq!(code_, "InvalidKeyUsageException");
    }
    // A signature by another ML-DSA key, or garbage, does not verify.
    let foreign = sign(c, &other_ml_dsa, &mu).await;
    let invalid = "KMSInvalidSignatureException";
    assert_eq!(
        verify_code(c, &key, &mu, &foreign, MessageType::Raw).await,
        invalid
    );
    assert_eq!(
        verify_code(c, &key, &mu, &[0], MessageType::Raw).await,
        invalid
    );
    assert_eq!(
        verify_code(c, &key, &mu, &[0xff; 6144], MessageType::Raw).await,
        invalid
    );
    // Encrypting with a signing key is a usage error.
    let e = c
        .encrypt()
        .key_id(&key)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidKeyUsageException");
    // Nothing above changed the key: it still signs.
    assert!(!sign(c, &key, b"still").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ml_dsa_keys_are_sign_verify_only_and_never_data_key_pairs() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let before = c.list_keys().send().await.unwrap().keys.unwrap().len();
    for usage in [
        KeyUsageType::EncryptDecrypt,
        KeyUsageType::KeyAgreement,
        KeyUsageType::GenerateVerifyMac,
    ] {
        let e = c
            .create_key()
            .key_spec(KeySpec::MlDsa87)
            .key_usage(usage.clone())
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "ValidationException", "{usage:?}");
    }
    let e = c
        .create_key()
        .key_spec(KeySpec::MlDsa44)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException", "KeyUsage is required");
    let after = c.list_keys().send().await.unwrap().keys.unwrap().len();
    assert_eq!(before, after, "a refused CreateKey makes no key");
    let symmetric = new_key(c).await;
    let e = c
        .generate_data_key_pair()
        .key_id(&symmetric)
        .key_pair_spec(DataKeyPairSpec::from("ML_DSA_65"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ml_dsa_keys_follow_the_key_state_rules() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let key = create(c, KeySpec::MlDsa44).await;
    let sig = sign(c, &key, b"before").await;
    c.disable_key().key_id(&key).send().await.unwrap();
    let (code_, _) = sign_error(c, &key, b"m", ALG, MessageType::Raw).await;
    assert_eq!(code_, "DisabledException");
    assert_eq!(
        verify_code(c, &key, b"before", &sig, MessageType::Raw).await,
        "DisabledException"
    );
    let e = c.get_public_key().key_id(&key).send().await.unwrap_err();
    assert_eq!(code(&e), "DisabledException");
    c.enable_key().key_id(&key).send().await.unwrap();
    let e = c
        .enable_key_rotation()
        .key_id(&key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        "UnsupportedOperationException",
        "asymmetric keys do not rotate"
    );
    c.schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let (code_, _) = sign_error(c, &key, b"m", ALG, MessageType::Raw).await;
    assert_eq!(code_, "KMSInvalidStateException");
    c.cancel_key_deletion().key_id(&key).send().await.unwrap();
    c.enable_key().key_id(&key).send().await.unwrap();
    let meta = c.describe_key().key_id(&key).send().await.unwrap();
    assert_eq!(
        meta.key_metadata.unwrap().key_state,
        Some(KeyState::Enabled)
    );
    let ok = c
        .verify()
        .key_id(&key)
        .message(blob(b"before"))
        .signature(blob(&sig))
        .signing_algorithm(ALG)
        .send()
        .await
        .unwrap();
    assert!(ok.signature_valid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ml_dsa_keys_sign_after_a_restart() {
    let env = TestEnv::start().await;
    let key = create(&env.client, KeySpec::MlDsa87).await;
    let spki = env
        .client
        .get_public_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .public_key
        .unwrap()
        .into_inner();
    let (akid, secret) = (
        env.dev.access_key_id.clone(),
        env.dev.secret_access_key.clone(),
    );
    let dir = env.stop().await;
    let dev = start_in(dir.path(), |_| {}).await;
    let c = client_for(&dev, &akid, &secret);
    let again = c.get_public_key().key_id(&key).send().await.unwrap();
    assert_eq!(again.public_key.unwrap().into_inner(), spki);
    let sig = sign(&c, &key, b"after restart").await;
    let outside = UnparsedPublicKey::new(&ML_DSA_87, &spki);
    assert!(outside.verify(b"after restart", &sig).is_ok());
    dev.shutdown().await;
}
