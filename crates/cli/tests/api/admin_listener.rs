//! The admin listener (`/metrics`, `/healthz`, `/readyz`) of a dev
//! environment: over TLS with the API's certificate, absent unless asked
//! for, and not ready once the audit writer has stopped.

use crate::common::*;
use strongroom_cli::dev::DevEnvironment;

fn admin_addr() -> Option<std::net::SocketAddr> {
    Some("127.0.0.1:0".parse().unwrap())
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, String) {
    let r = http.get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_listener_speaks_tls_with_the_apis_certificate_and_counts_requests() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        o.tls = true;
        o.admin_listen = admin_addr();
    })
    .await;
    let admin = dev.admin_endpoint().expect("admin listener");
    assert!(admin.starts_with("https://localhost:"), "{admin}");
    let pem = std::fs::read(dev.ca_bundle.as_ref().unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&pem).unwrap())
        .build()
        .unwrap();
    assert_eq!(
        get(&http, &format!("{admin}/healthz")).await,
        (200, r#"{"status":"alive"}"#.to_owned())
    );
    let (status, body) = get(&http, &format!("{admin}/readyz")).await;
    assert_eq!(status, 200, "{body}");

    let c = client_for_tls(&dev);
    new_key(&c).await;
    assert_eq!(dev.server.telemetry().requests("CreateKey", "none"), 1);
    let (status, metrics) = get(&http, &format!("{admin}/metrics")).await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains(r#"strongroom_requests_total{operation="CreateKey",error="none"} 1"#),
        "{metrics}"
    );

    // Plain HTTP to the TLS port gets no answer.
    let plain = admin.replace("https://", "http://");
    assert!(reqwest::get(format!("{plain}/healthz")).await.is_err());
    dev.shutdown().await;
}

/// A client of the TLS dev environment's API.
fn client_for_tls(dev: &DevEnvironment) -> aws_sdk_kms::Client {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    let pem = std::fs::read(dev.ca_bundle.as_ref().unwrap()).unwrap();
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(
            TlsContext::builder()
                .with_trust_store(TrustStore::empty().with_pem_certificate(pem))
                .build()
                .unwrap(),
        )
        .build_https();
    aws_sdk_kms::Client::from_conf(
        config_for(dev, &dev.access_key_id, &dev.secret_access_key)
            .http_client(http)
            .build(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dev_environment_in_a_test_has_no_admin_listener_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |_| {}).await;
    assert_eq!(dev.admin_endpoint(), None);
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_names_the_audit_writer_once_it_has_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = start_in(dir.path(), |o| o.admin_listen = admin_addr()).await;
    let admin = dev.admin_endpoint().unwrap();
    let http = reqwest::Client::new();
    let (status, body) = get(&http, &format!("{admin}/readyz")).await;
    assert_eq!(status, 200, "{body}");
    dev.server.close_audit_log().await;
    let (status, body) = get(&http, &format!("{admin}/readyz")).await;
    assert_eq!(status, 503, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ready"], false);
    assert_eq!(v["checks"]["audit"]["ok"], false);
    assert!(
        v["checks"]["audit"]["problem"]
            .as_str()
            .unwrap()
            .contains("stopped"),
        "{body}"
    );
    assert_eq!(v["checks"]["store"]["ok"], true);
    assert_eq!(v["checks"]["modules"]["ok"], true);
    // /healthz stays 200: the process is alive.
    assert_eq!(get(&http, &format!("{admin}/healthz")).await.0, 200);
    dev.shutdown().await;
}
