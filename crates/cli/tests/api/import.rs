//! Imported key material through aws-sdk-kms: states, refusals, and expiry.
//! (tests/compat/test_import.py wraps material as customers do, with the
//! `cryptography` package and openssl, and decrypts independently.)

use std::time::Duration;

use aws_sdk_kms::primitives::DateTime;
use aws_sdk_kms::types::{
    AlgorithmSpec, ExpirationModelType, KeyState, OriginType, WrappingKeySpec,
};
use strongroom_crypto::{OaepHash, rsa_oaep_encrypt};

use crate::common::*;

async fn external_key(c: &aws_sdk_kms::Client) -> String {
    c.create_key()
        .origin(OriginType::External)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id
}

/// (import token, public key) for `key`.
async fn parameters(c: &aws_sdk_kms::Client, key: &str) -> (Vec<u8>, Vec<u8>) {
    let p = c
        .get_parameters_for_import()
        .key_id(key)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await
        .unwrap();
    (
        p.import_token.unwrap().into_inner(),
        p.public_key.unwrap().into_inner(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_states_and_refusals() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let key = external_key(c).await;
    let meta = c
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state, Some(KeyState::PendingImport));
    assert!(meta.expiration_model.is_none());
    let e = c
        .encrypt()
        .key_id(&key)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    let e = c.enable_key().key_id(&key).send().await.unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");

    let (token, public) = parameters(c, &key).await;
    let import = |token: Vec<u8>, wrapped: Vec<u8>| {
        c.import_key_material()
            .key_id(&key)
            .import_token(blob(&token))
            .encrypted_key_material(blob(&wrapped))
            .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
            .send()
    };
    // Another key's token, a forged token, undecryptable or short material.
    let other = external_key(c).await;
    let (other_token, _) = parameters(c, &other).await;
    let material = [0x5au8; 32];
    let wrapped = rsa_oaep_encrypt(&public, OaepHash::Sha256, &material).unwrap();
    let e = import(other_token, wrapped.clone()).await.unwrap_err();
    assert_eq!(code(&e), "InvalidImportTokenException");
    let mut forged = token.clone();
    forged[10] ^= 1;
    let e = import(forged, wrapped.clone()).await.unwrap_err();
    assert_eq!(code(&e), "InvalidImportTokenException");
    let e = import(token.clone(), vec![1; 256]).await.unwrap_err();
    assert_eq!(code(&e), "InvalidCiphertextException");
    let short = rsa_oaep_encrypt(&public, OaepHash::Sha256, &[1; 16]).unwrap();
    let e = import(token.clone(), short).await.unwrap_err();
    assert_eq!(code(&e), "IncorrectKeyMaterialException");
    assert_eq!(
        c.describe_key()
            .key_id(&key)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_state,
        Some(KeyState::PendingImport),
        "nothing changed"
    );
    import(token.clone(), wrapped.clone()).await.unwrap();
    let meta = c
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(meta.key_state, Some(KeyState::Enabled));
    assert_eq!(
        meta.expiration_model,
        Some(ExpirationModelType::KeyMaterialDoesNotExpire)
    );
    let ct = c
        .encrypt()
        .key_id(&key)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let e = import(token, wrapped).await.unwrap_err();
    assert_eq!(
        code(&e),
        "KMSInvalidStateException",
        "material already present"
    );
    assert!(c.decrypt().ciphertext_blob(ct).send().await.is_ok());

    let sym = new_key(c).await;
    let e = c
        .get_parameters_for_import()
        .key_id(&sym)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    let e = c
        .rotate_key_on_demand()
        .key_id(&key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_material_becomes_unusable_and_is_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        o.deletion_sweep_interval = Duration::from_millis(200)
    })
    .await;
    let c = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    let key = external_key(&c).await;
    let (token, public) = parameters(&c, &key).await;
    let valid_to = std::time::SystemTime::now() + Duration::from_secs(2);
    c.import_key_material()
        .key_id(&key)
        .import_token(blob(&token))
        .encrypted_key_material(blob(
            &rsa_oaep_encrypt(&public, OaepHash::Sha256, &[7; 32]).unwrap(),
        ))
        .valid_to(DateTime::from(valid_to))
        .send()
        .await
        .unwrap();
    let meta = c
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(
        meta.expiration_model,
        Some(ExpirationModelType::KeyMaterialExpires)
    );
    assert!(meta.valid_to.is_some());
    c.encrypt()
        .key_id(&key)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let e = c
        .encrypt()
        .key_id(&key)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    let state = c
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_state;
    assert_eq!(
        state,
        Some(KeyState::PendingImport),
        "the sweeper deleted the material"
    );
    assert!(
        dev.store
            .get_key_version(key.parse().unwrap(), 1)
            .await
            .unwrap()
            .is_none()
    );
    dev.shutdown().await;
}
