use std::collections::HashMap;

use aws_sdk_kms::types::{DataKeySpec, EncryptionAlgorithmSpec};

use crate::common::*;

fn ctx(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypt_decrypt_with_context() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let arn = new_key(c).await;
    let context = ctx(&[("tenant", "acme"), ("purpose", "invoices")]);
    let r = c
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(b"attack at dawn"))
        .set_encryption_context(context.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.key_id.as_deref(), Some(arn.as_str()));
    assert_eq!(
        r.encryption_algorithm,
        Some(EncryptionAlgorithmSpec::SymmetricDefault)
    );
    let ct = r.ciphertext_blob.unwrap();
    assert!(!ct.as_ref().windows(6).any(|w| w == b"attack"));

    // No KeyId needed; the context matches in any order.
    let d = c
        .decrypt()
        .ciphertext_blob(ct.clone())
        .set_encryption_context(ctx(&[("purpose", "invoices"), ("tenant", "acme")]))
        .send()
        .await
        .unwrap();
    assert_eq!(d.plaintext.unwrap().into_inner(), b"attack at dawn");
    assert_eq!(d.key_id.as_deref(), Some(arn.as_str()));
    assert_eq!(
        d.encryption_algorithm,
        Some(EncryptionAlgorithmSpec::SymmetricDefault)
    );

    // Any other context fails.
    for wrong in [
        None,
        ctx(&[("tenant", "acme")]),
        ctx(&[("tenant", "evil"), ("purpose", "invoices")]),
    ] {
        let e = c
            .decrypt()
            .ciphertext_blob(ct.clone())
            .set_encryption_context(wrong)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "InvalidCiphertextException");
    }
    // The right KeyId is accepted, another is IncorrectKeyException.
    c.decrypt()
        .ciphertext_blob(ct.clone())
        .key_id(&arn)
        .set_encryption_context(context.clone())
        .send()
        .await
        .unwrap();
    let other = new_key(c).await;
    let e = c
        .decrypt()
        .ciphertext_blob(ct.clone())
        .key_id(&other)
        .set_encryption_context(context)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "IncorrectKeyException");

    // A flipped bit anywhere makes it invalid.
    let bytes = ct.into_inner();
    for i in [0, 1, 18, 30, 60, 70, bytes.len() - 1] {
        let mut t = bytes.clone();
        t[i] ^= 0x04;
        let e = c
            .decrypt()
            .ciphertext_blob(blob(&t))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "InvalidCiphertextException", "flip at {i}");
    }
    let e = c
        .decrypt()
        .ciphertext_blob(blob(&bytes[..40]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidCiphertextException");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_size_limits_and_algorithms() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let arn = new_key(c).await;
    let big = vec![7u8; 4096];
    let ct = c
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(&big))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    assert_eq!(
        c.decrypt()
            .ciphertext_blob(ct)
            .send()
            .await
            .unwrap()
            .plaintext
            .unwrap()
            .into_inner(),
        big
    );
    let e = c
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(&vec![7u8; 4097]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let e = c
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(b"x"))
        .encryption_algorithm(EncryptionAlgorithmSpec::RsaesOaepSha256)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidKeyUsageException");
    let e = c
        .encrypt()
        .key_id("alias/missing")
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    let e = c
        .encrypt()
        .key_id("not a key")
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    let e = c
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(b"x"))
        .dry_run(true)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "DryRunOperationException");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn re_encrypt_between_keys() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let a = new_key(c).await;
    let b = new_key(c).await;
    let ct = c
        .encrypt()
        .key_id(&a)
        .plaintext(blob(b"moving"))
        .set_encryption_context(ctx(&[("k", "1")]))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let r = c
        .re_encrypt()
        .ciphertext_blob(ct.clone())
        .set_source_encryption_context(ctx(&[("k", "1")]))
        .destination_key_id(&b)
        .set_destination_encryption_context(ctx(&[("k", "2")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.source_key_id.as_deref(), Some(a.as_str()));
    assert_eq!(r.key_id.as_deref(), Some(b.as_str()));
    assert_eq!(
        r.source_encryption_algorithm,
        Some(EncryptionAlgorithmSpec::SymmetricDefault)
    );
    assert_eq!(
        r.destination_encryption_algorithm,
        Some(EncryptionAlgorithmSpec::SymmetricDefault)
    );
    let moved = r.ciphertext_blob.unwrap();
    let d = c
        .decrypt()
        .ciphertext_blob(moved.clone())
        .set_encryption_context(ctx(&[("k", "2")]))
        .send()
        .await
        .unwrap();
    assert_eq!(d.plaintext.unwrap().into_inner(), b"moving");
    assert_eq!(d.key_id.as_deref(), Some(b.as_str()));

    let e = c
        .re_encrypt()
        .ciphertext_blob(ct.clone())
        .destination_key_id(&b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        code(&e),
        "InvalidCiphertextException",
        "source context missing"
    );
    let e = c
        .re_encrypt()
        .ciphertext_blob(ct.clone())
        .source_key_id(&b)
        .set_source_encryption_context(ctx(&[("k", "1")]))
        .destination_key_id(&b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "IncorrectKeyException");
    c.disable_key().key_id(&b).send().await.unwrap();
    let e = c
        .re_encrypt()
        .ciphertext_blob(ct)
        .set_source_encryption_context(ctx(&[("k", "1")]))
        .destination_key_id(&b)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "DisabledException");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_keys_and_random() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let arn = new_key(c).await;
    for (spec, len) in [(DataKeySpec::Aes256, 32), (DataKeySpec::Aes128, 16)] {
        let r = c
            .generate_data_key()
            .key_id(&arn)
            .key_spec(spec)
            .set_encryption_context(ctx(&[("file", "a.txt")]))
            .send()
            .await
            .unwrap();
        let plain = r.plaintext.unwrap().into_inner();
        assert_eq!(plain.len(), len);
        assert_eq!(r.key_id.as_deref(), Some(arn.as_str()));
        let d = c
            .decrypt()
            .ciphertext_blob(r.ciphertext_blob.unwrap())
            .set_encryption_context(ctx(&[("file", "a.txt")]))
            .send()
            .await
            .unwrap();
        assert_eq!(d.plaintext.unwrap().into_inner(), plain);
    }
    let r = c
        .generate_data_key()
        .key_id(&arn)
        .number_of_bytes(1024)
        .send()
        .await
        .unwrap();
    assert_eq!(r.plaintext.unwrap().into_inner().len(), 1024);
    for n in [0, 1025] {
        let e = c
            .generate_data_key()
            .key_id(&arn)
            .number_of_bytes(n)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "ValidationException", "{n}");
    }
    let e = c.generate_data_key().key_id(&arn).send().await.unwrap_err();
    assert_eq!(
        code(&e),
        "ValidationException",
        "neither KeySpec nor NumberOfBytes"
    );
    let e = c
        .generate_data_key()
        .key_id(&arn)
        .number_of_bytes(16)
        .key_spec(DataKeySpec::Aes128)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException", "both");

    let w = c
        .generate_data_key_without_plaintext()
        .key_id(&arn)
        .key_spec(DataKeySpec::Aes256)
        .send()
        .await
        .unwrap();
    assert_eq!(w.key_id.as_deref(), Some(arn.as_str()));
    let d = c
        .decrypt()
        .ciphertext_blob(w.ciphertext_blob.unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(d.plaintext.unwrap().into_inner().len(), 32);

    let r1 = c
        .generate_random()
        .number_of_bytes(64)
        .send()
        .await
        .unwrap()
        .plaintext
        .unwrap()
        .into_inner();
    let r2 = c
        .generate_random()
        .number_of_bytes(64)
        .send()
        .await
        .unwrap()
        .plaintext
        .unwrap()
        .into_inner();
    assert_eq!(r1.len(), 64);
    assert_ne!(r1, r2);
    for n in [0, 1025] {
        let e = c
            .generate_random()
            .number_of_bytes(n)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "ValidationException");
    }
    env.stop().await;
}
