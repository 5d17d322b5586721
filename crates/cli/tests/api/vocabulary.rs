//! AWS's vocabulary at the edge: names outside AWS's enumerations get
//! AWS's ValidationException (its own wording) and create nothing; names
//! AWS has and Strongroom does not serve are UnsupportedOperation; and
//! every key describes itself in names the SDK parses into its own enums.
// CustomerMasterKeySpec is deprecated, and still a member AWS accepts.
#![allow(deprecated)]

use aws_sdk_kms::Client;
use aws_sdk_kms::types::{
    CustomerMasterKeySpec, EncryptionAlgorithmSpec, KeySpec, KeyUsageType, MacAlgorithmSpec,
    OriginType,
};

use crate::common::*;

async fn key_count(c: &Client) -> usize {
    c.list_keys().send().await.unwrap().keys().len()
}

fn message<E: aws_sdk_kms::error::ProvideErrorMetadata, R>(
    e: &aws_sdk_kms::error::SdkError<E, R>,
) -> String {
    e.as_service_error()
        .and_then(|s| s.message())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn create_key_refuses_names_outside_awss_enumerations_and_creates_nothing() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let before = key_count(c).await;
    let cases = [
        (
            c.create_key().key_spec(KeySpec::from("RSA_1024")),
            "keySpec",
            "RSA_1024",
        ),
        (
            c.create_key()
                .customer_master_key_spec(CustomerMasterKeySpec::from("ML_DSA_44")),
            "customerMasterKeySpec",
            "ML_DSA_44",
        ),
        (
            c.create_key().key_usage(KeyUsageType::from("sign_verify")),
            "keyUsage",
            "sign_verify",
        ),
        (
            c.create_key().origin(OriginType::from("AWS-KMS")),
            "origin",
            "AWS-KMS",
        ),
    ];
    for (req, path, value) in cases {
        let e = req.send().await.unwrap_err();
        assert_eq!(code(&e), "ValidationException", "{path}");
        let m = message(&e);
        assert!(
            m.starts_with(&format!(
                "1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: Member must satisfy enum value set: ["
            )),
            "{m}"
        );
    }
    // Both spellings of the spec must agree.
    let e = c
        .create_key()
        .key_spec(KeySpec::Hmac256)
        .customer_master_key_spec(CustomerMasterKeySpec::Hmac384)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    // AWS's names Strongroom does not serve.
    for (spec, usage) in [
        (KeySpec::Sm2, KeyUsageType::EncryptDecrypt),
        (KeySpec::MlKem768, KeyUsageType::EncapsulateDecapsulate),
    ] {
        let e = c
            .create_key()
            .key_spec(spec.clone())
            .key_usage(usage)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "UnsupportedOperationException", "{spec:?}");
    }
    for origin in [OriginType::AwsCloudhsm, OriginType::ExternalKeyStore] {
        let e = c
            .create_key()
            .origin(origin.clone())
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "UnsupportedOperationException", "{origin:?}");
    }
    assert_eq!(key_count(c).await, before, "a refused CreateKey made a key");
    env.stop().await;
}

#[tokio::test]
async fn every_kind_of_key_describes_itself_in_awss_names() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let cases = [
        (KeySpec::SymmetricDefault, None, OriginType::AwsKms),
        (KeySpec::SymmetricDefault, None, OriginType::External),
        (
            KeySpec::Hmac512,
            Some(KeyUsageType::GenerateVerifyMac),
            OriginType::AwsKms,
        ),
        (
            KeySpec::Rsa2048,
            Some(KeyUsageType::EncryptDecrypt),
            OriginType::AwsKms,
        ),
        (
            KeySpec::EccNistP256,
            Some(KeyUsageType::KeyAgreement),
            OriginType::AwsKms,
        ),
        (
            KeySpec::EccNistEdwards25519,
            Some(KeyUsageType::SignVerify),
            OriginType::AwsKms,
        ),
    ];
    for (spec, usage, origin) in cases {
        let mut req = c.create_key().key_spec(spec.clone()).origin(origin.clone());
        if let Some(u) = &usage {
            req = req.key_usage(u.clone());
        }
        let created = req.send().await.unwrap().key_metadata.unwrap();
        let m = c
            .describe_key()
            .key_id(created.key_id())
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(m.key_spec(), Some(&spec));
        assert_eq!(m.origin(), Some(&origin));
        let usage = usage.unwrap_or(KeyUsageType::EncryptDecrypt);
        assert_eq!(m.key_usage(), Some(&usage), "{spec:?}");
        let encryption = m.encryption_algorithms();
        let expected: &[EncryptionAlgorithmSpec] = match (&spec, &usage) {
            (KeySpec::SymmetricDefault, _) => &[EncryptionAlgorithmSpec::SymmetricDefault],
            (KeySpec::Rsa2048, _) => &[
                EncryptionAlgorithmSpec::RsaesOaepSha1,
                EncryptionAlgorithmSpec::RsaesOaepSha256,
            ],
            _ => &[],
        };
        assert_eq!(encryption, expected, "{spec:?}");
        let macs = m.mac_algorithms();
        let expected: &[MacAlgorithmSpec] = match spec {
            KeySpec::Hmac512 => &[MacAlgorithmSpec::HmacSha512],
            _ => &[],
        };
        assert_eq!(macs, expected, "{spec:?}");
    }
    env.stop().await;
}

#[tokio::test]
async fn encryption_and_mac_algorithms_are_parsed_and_checked_against_the_key() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let key = new_key(c).await;
    let encrypt = |alg: EncryptionAlgorithmSpec| {
        c.encrypt()
            .key_id(&key)
            .plaintext(blob(b"x"))
            .encryption_algorithm(alg)
            .send()
    };
    let e = encrypt(EncryptionAlgorithmSpec::from("RSAES_OAEP_SHA_512"))
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    assert!(message(&e).contains("at 'encryptionAlgorithm' failed to satisfy constraint"));
    let e = encrypt(EncryptionAlgorithmSpec::Sm2Pke).await.unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    let e = encrypt(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidKeyUsageException");
    let out = encrypt(EncryptionAlgorithmSpec::SymmetricDefault)
        .await
        .unwrap();
    assert_eq!(
        out.encryption_algorithm(),
        Some(&EncryptionAlgorithmSpec::SymmetricDefault)
    );

    let hmac = c
        .create_key()
        .key_spec(KeySpec::Hmac256)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let mac = |alg: MacAlgorithmSpec| {
        c.generate_mac()
            .key_id(hmac.key_id())
            .message(blob(b"m"))
            .mac_algorithm(alg)
            .send()
    };
    let e = mac(MacAlgorithmSpec::HmacSha384).await.unwrap_err();
    assert_eq!(code(&e), "InvalidKeyUsageException");
    let e = mac(MacAlgorithmSpec::from("HMAC_256")).await.unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let out = mac(MacAlgorithmSpec::HmacSha256).await.unwrap();
    assert_eq!(out.mac_algorithm(), Some(&MacAlgorithmSpec::HmacSha256));
    env.stop().await;
}
