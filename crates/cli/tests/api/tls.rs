use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_with_its_generated_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| o.tls = true).await;
    assert!(dev.endpoint().starts_with("https://localhost:"));
    let ca = dev.ca_bundle.clone().expect("CA bundle path");
    let pem = std::fs::read(&ca).unwrap();
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(
            TlsContext::builder()
                .with_trust_store(TrustStore::empty().with_pem_certificate(pem))
                .build()
                .unwrap(),
        )
        .build_https();
    let c = aws_sdk_kms::Client::from_conf(
        config_for(&dev, &dev.access_key_id, &dev.secret_access_key)
            .http_client(http)
            .build(),
    );
    let arn = new_key(&c).await;
    let ct = c
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(b"over tls"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let d = c.decrypt().ciphertext_blob(ct).send().await.unwrap();
    assert_eq!(d.plaintext.unwrap().into_inner(), b"over tls");

    // A client that does not trust the generated CA is refused.
    let untrusting = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    assert!(untrusting.list_keys().send().await.is_err());
    // The server key is private to its owner.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("tls/server.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "server key readable by others: {mode:o}");
    dev.shutdown().await;
}
