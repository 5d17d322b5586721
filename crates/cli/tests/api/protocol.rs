//! Transport-level behaviour: HTTP/2 and keep-alive with a signing client.

use strongroom_cli::bench::KmsHttpClient;

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
