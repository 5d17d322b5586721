//! Transport-level behaviour: HTTP/2 and keep-alive with a signing client.

use strongroom_cli::client::KmsHttpClient;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_and_many_requests_on_one_connection() {
    let env = TestEnv::start().await;
    let dev = &env.dev;
    // HTTP/2 with prior knowledge over cleartext (h2c).
    let h2 = KmsHttpClient::with_http_client(
        reqwest::Client::builder()
            .http2_prior_knowledge()
            .build()
            .unwrap(),
        &dev.endpoint(),
        &dev.region,
        &dev.access_key_id,
        dev.secret_access_key.clone(),
    )
    .unwrap();
    let (status, body) = h2.call("ListKeys", b"{}".to_vec()).await.unwrap();
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let created = h2
        .call_json("CreateKey", serde_json::json!({"Description": "over h2"}))
        .await
        .unwrap();
    assert_eq!(created["KeyMetadata"]["Description"], "over h2");

    // HTTP/1.1 keep-alive: a pool of one connection serves 200 sequential calls.
    let h1 = KmsHttpClient::with_http_client(
        reqwest::Client::builder()
            .http1_only()
            .pool_max_idle_per_host(1)
            .build()
            .unwrap(),
        &dev.endpoint(),
        &dev.region,
        &dev.access_key_id,
        dev.secret_access_key.clone(),
    )
    .unwrap();
    for _ in 0..200 {
        let r = h1
            .call_json("GenerateRandom", serde_json::json!({"NumberOfBytes": 16}))
            .await
            .unwrap();
        assert_eq!(r["Plaintext"].as_str().unwrap().len(), 24);
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_region_names_keys_and_scopes_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        o.regions = vec!["eu-central-1".parse().unwrap()]
    })
    .await;
    let c = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    let arn = new_key(&c).await;
    assert!(
        arn.starts_with(&format!("arn:aws:kms:eu-central-1:{}:key/", dev.account_id)),
        "{arn}"
    );
    // A us-east-1 ARN does not name this region's key.
    let e = c
        .describe_key()
        .key_id(arn.replace("eu-central-1", "us-east-1"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_drives_the_server_without_errors() {
    let env = TestEnv::start().await;
    use strongroom_cli::bench::BenchOp;
    for (op, key_spec, signing_algorithm) in [
        (BenchOp::Encrypt, None, None),
        (BenchOp::Decrypt, None, None),
        (BenchOp::Sign, Some("RSA_2048"), None),
        (
            BenchOp::Sign,
            Some("RSA_2048"),
            Some("RSASSA_PKCS1_V1_5_SHA_256"),
        ),
        (BenchOp::Verify, None, None),
        (BenchOp::GenerateMac, None, None),
    ] {
        let report = strongroom_cli::bench::run(strongroom_cli::bench::BenchOptions {
            endpoint: env.dev.endpoint(),
            region: env.dev.region.clone(),
            access_key_id: env.dev.access_key_id.clone(),
            secret_access_key: env.dev.secret_access_key.clone(),
            op,
            concurrency: 4,
            duration: std::time::Duration::from_millis(300),
            payload_bytes: 256,
            key_id: None,
            ca_bundle: None,
            key_spec: key_spec.map(str::to_owned),
            signing_algorithm: signing_algorithm.map(str::to_owned),
            xks: None,
        })
        .await
        .unwrap();
        assert!(report.requests > 10, "{report}");
        assert_eq!(report.errors, 0, "{report}");
        if let Some(a) = signing_algorithm {
            assert_eq!(report.signing_algorithm.as_deref(), Some(a), "{report}");
        }
        assert!(report.p50_us <= report.p99_us && report.p99_us <= report.max_us);
    }
    // The bench scheduled its temporary keys for deletion.
    let keys = env.client.list_keys().send().await.unwrap();
    for k in keys.keys() {
        let d = env
            .client
            .describe_key()
            .key_id(k.key_id.clone().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(
            d.key_metadata.unwrap().key_state,
            Some(aws_sdk_kms::types::KeyState::PendingDeletion)
        );
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        o.header_read_timeout = std::time::Duration::from_millis(300)
    })
    .await;
    let mut s = tokio::net::TcpStream::connect(dev.server.local_addr())
        .await
        .unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Headers never finish: the server must close the connection by itself.
    let mut buf = Vec::new();
    let read =
        tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "connection still open after the header timeout"
    );
    // And a well-behaved client is still served.
    let c = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    c.list_keys().send().await.unwrap();
    dev.shutdown().await;
}
