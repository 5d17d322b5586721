//! XKS GetHealthStatus from the real module fleet: two `strongroom-hsm`
//! processes in one domain behind a frontend. Both ACTIVE; one killed, it
//! is UNAVAILABLE (by its address) while the other stays ACTIVE and
//! encryption goes on; both down, health is an InternalException rather
//! than a promise no request could keep. Answers are cached for at most
//! `health::CACHE_TTL`, so the test waits that long between looks.

use serde_json::{Value, json};
use strongroom_cli::xks_client::XksHttpClient;
use strongroom_server::xks::{admin, health};

use crate::cluster::{join, operators_and_domain};
use crate::hsm_process::{Hsm, free_addr, frontend};

fn by_id(health: &Value, id: &str) -> String {
    health["ekmFleetDetails"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == id)
        .map(|m| m["healthStatus"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("{id} not in {health}"))
}

async fn past_the_cache() {
    tokio::time::sleep(health::CACHE_TTL + std::time::Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_each_module_and_a_dead_one_is_unavailable() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let mut a = Hsm::start(&free_addr(), &w.join("a"));
    let mut b = Hsm::start(&free_addr(), &w.join("b"));
    let front = w.join("front");
    operators_and_domain(w, &a, "a", &[&front]);
    join(w, &a.addr, &b, "b", "t1.json", "t2.json");
    let (dev, client) = frontend(&front, &[&a, &b], &w.join("t2.json")).await;
    let (ks, cred) = admin::create_keystore(dev.store.as_ref(), &dev.hsm, &dev.account_id, "ks")
        .await
        .unwrap();
    let xks = XksHttpClient::new(
        &dev.endpoint(),
        &ks.prefix,
        "us-east-1",
        &cred.access_key_id,
        cred.secret_access_key.clone(),
    )
    .unwrap();
    let key = client
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    let health_body =
        json!({"requestMetadata": {"kmsRequestId": "h", "kmsOperation": "KmsHealthCheck"}});
    let encrypt = json!({
        "requestMetadata": {"awsPrincipalArn": "arn:aws:iam::1:user/a", "kmsKeyArn": "k", "kmsOperation": "Encrypt", "kmsRequestId": "r"},
        "plaintext": "aGVsbG8=", "encryptionAlgorithm": "AES_GCM"
    });

    let (s, h) = xks.call("health", &health_body).await.unwrap();
    assert_eq!(s, 200, "{h}");
    assert_eq!(h["ekmFleetDetails"].as_array().unwrap().len(), 2);
    assert_eq!(by_id(&h, &a.addr), "ACTIVE");
    assert_eq!(by_id(&h, &b.addr), "ACTIVE");

    b.kill();
    past_the_cache().await;
    let (s, h) = xks.call("health", &health_body).await.unwrap();
    assert_eq!(s, 200, "{h}");
    assert_eq!(by_id(&h, &a.addr), "ACTIVE");
    assert_eq!(by_id(&h, &b.addr), "UNAVAILABLE");
    let (s, out) = xks
        .call(&format!("keys/{key}/encrypt"), &encrypt)
        .await
        .unwrap();
    assert_eq!(s, 200, "{out}");

    a.kill();
    past_the_cache().await;
    let (s, h) = xks.call("health", &health_body).await.unwrap();
    assert_eq!(s, 500, "{h}");
    assert_eq!(h["errorName"], "InternalException");
    dev.shutdown().await;
}
