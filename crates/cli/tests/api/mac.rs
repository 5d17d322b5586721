//! HMAC keys through aws-sdk-kms: every spec, GenerateMac / VerifyMac, and
//! the usage rules between HMAC and encryption keys.

use aws_sdk_kms::types::{KeySpec, KeyUsageType, MacAlgorithmSpec};

use crate::common::*;

async fn hmac_key(c: &aws_sdk_kms::Client, spec: KeySpec) -> String {
    c.create_key()
        .key_spec(spec)
        .key_usage(KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hmac_spec_generates_and_verifies() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let mut macs = Vec::new();
    for (spec, alg, len) in [
        (KeySpec::Hmac224, MacAlgorithmSpec::HmacSha224, 28),
        (KeySpec::Hmac256, MacAlgorithmSpec::HmacSha256, 32),
        (KeySpec::Hmac384, MacAlgorithmSpec::HmacSha384, 48),
        (KeySpec::Hmac512, MacAlgorithmSpec::HmacSha512, 64),
    ] {
        let key = hmac_key(c, spec.clone()).await;
        let meta = c
            .describe_key()
            .key_id(&key)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(meta.key_spec, Some(spec.clone()));
        assert_eq!(meta.key_usage, Some(KeyUsageType::GenerateVerifyMac));
        assert_eq!(meta.mac_algorithms, Some(vec![alg.clone()]));
        assert!(meta.encryption_algorithms.is_none());

        let generate = |m: &'static [u8]| {
            c.generate_mac()
                .key_id(&key)
                .mac_algorithm(alg.clone())
                .message(blob(m))
                .send()
        };
        let mac = generate(b"message").await.unwrap();
        assert_eq!(mac.key_id.as_deref(), Some(key.as_str()));
        assert_eq!(mac.mac_algorithm, Some(alg.clone()));
        let mac = mac.mac.unwrap().into_inner();
        assert_eq!(mac.len(), len);
        assert_eq!(
            generate(b"message")
                .await
                .unwrap()
                .mac
                .unwrap()
                .into_inner(),
            mac,
            "deterministic"
        );
        assert_ne!(
            generate(b"other").await.unwrap().mac.unwrap().into_inner(),
            mac
        );

        let verify = |m: &'static [u8], tag: Vec<u8>| {
            c.verify_mac()
                .key_id(&key)
                .mac_algorithm(alg.clone())
                .message(blob(m))
                .mac(blob(&tag))
                .send()
        };
        let ok = verify(b"message", mac.clone()).await.unwrap();
        assert!(ok.mac_valid);
        let mut bad = mac.clone();
        bad[0] ^= 1;
        for (m, tag) in [
            (&b"message"[..], bad),
            (&b"messagE"[..], mac.clone()),
            (&b"message"[..], mac[..len - 1].to_vec()),
        ] {
            let e = verify(m, tag).await.unwrap_err();
            assert_eq!(code(&e), "KMSInvalidMacException");
        }
        macs.push(mac);
    }
    // Different keys give different MACs for the same message.
    let again = hmac_key(c, KeySpec::Hmac256).await;
    let other = c
        .generate_mac()
        .key_id(&again)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .message(blob(b"message"))
        .send()
        .await
        .unwrap()
        .mac
        .unwrap()
        .into_inner();
    assert_ne!(other, macs[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_usage_is_enforced_both_ways() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let mac_key = hmac_key(c, KeySpec::Hmac256).await;
    let enc_key = new_key(c).await;

    let e = c
        .encrypt()
        .key_id(&mac_key)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidKeyUsageException");
    let e = c
        .generate_data_key()
        .key_id(&mac_key)
        .number_of_bytes(32)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidKeyUsageException");
    let ct = c
        .encrypt()
        .key_id(&enc_key)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let e = c
        .re_encrypt()
        .ciphertext_blob(ct)
        .destination_key_id(&mac_key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidKeyUsageException");
    let e = c
        .generate_mac()
        .key_id(&enc_key)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .message(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidKeyUsageException");
    let e = c
        .generate_mac()
        .key_id(&mac_key)
        .mac_algorithm(MacAlgorithmSpec::HmacSha512)
        .message(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidKeyUsageException");
    let e = c
        .generate_mac()
        .key_id(&mac_key)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .message(blob(&[0; 4097]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let e = c
        .enable_key_rotation()
        .key_id(&mac_key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    c.disable_key().key_id(&mac_key).send().await.unwrap();
    let e = c
        .generate_mac()
        .key_id(&mac_key)
        .mac_algorithm(MacAlgorithmSpec::HmacSha256)
        .message(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "DisabledException");

    // CreateKey pairs specs and usages as AWS does.
    for (spec, usage, expected) in [
        (Some(KeySpec::Hmac256), None, "ValidationException"),
        (
            Some(KeySpec::Hmac256),
            Some(KeyUsageType::EncryptDecrypt),
            "ValidationException",
        ),
        (
            None,
            Some(KeyUsageType::GenerateVerifyMac),
            "ValidationException",
        ),
        (
            Some(KeySpec::from("BOGUS_SPEC")),
            None,
            "ValidationException",
        ),
        (
            Some(KeySpec::Sm2),
            Some(KeyUsageType::SignVerify),
            "UnsupportedOperationException",
        ),
    ] {
        let mut req = c.create_key();
        if let Some(s) = spec.clone() {
            req = req.key_spec(s);
        }
        if let Some(u) = usage.clone() {
            req = req.key_usage(u);
        }
        let e = req.send().await.unwrap_err();
        assert_eq!(code(&e), expected, "{spec:?} {usage:?}");
    }
}
