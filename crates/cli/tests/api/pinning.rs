//! Keys pinned to a module group: modules tagged `region=eu` / `region=us`
//! (real processes, one domain); a key created with `ModuleGroup` is served
//! only by its group's modules — when they are all down its requests fail
//! while other keys go on — and unpinned keys use every module.

use std::time::{Duration, Instant};

use serde_json::json;
use strongroom_cli::client::KmsHttpClient;

use crate::cluster::{join, operators_and_domain};
use crate::hsm_process::{Hsm, free_addr, frontend};

async fn encrypts(c: &KmsHttpClient, key: &str) -> Result<(), String> {
    c.call_json("Encrypt", json!({"KeyId": key, "Plaintext": "aGVsbG8="}))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_keys_are_served_only_by_their_group() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let eu1 = Hsm::start_with(&free_addr(), &w.join("eu1"), &["--tag", "region=eu"]);
    let eu2 = Hsm::start_with(&free_addr(), &w.join("eu2"), &["--tag", "region=eu"]);
    let mut us = Hsm::start_with(&free_addr(), &w.join("us"), &["--tag", "region=us"]);
    let front = w.join("front");
    operators_and_domain(w, &eu1, "eu1", &[&front]);
    join(w, &eu1.addr, &eu2, "eu2", "t1.json", "t2.json");
    join(w, &eu1.addr, &us, "us", "t2.json", "t3.json");
    let (dev, _client) = frontend(&front, &[&eu1, &eu2, &us], &w.join("t3.json")).await;
    let c = KmsHttpClient::new(
        &dev.endpoint(),
        &dev.region,
        &dev.access_key_id,
        dev.secret_access_key.clone(),
        None,
    )
    .unwrap();
    let create = |group: Option<&str>| {
        let mut req = json!({});
        if let Some(g) = group {
            req["ModuleGroup"] = json!(g);
        }
        c.call_json("CreateKey", req)
    };
    let eu_key = create(Some("region=eu")).await.unwrap()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    let us_meta = create(Some("region=us")).await.unwrap();
    assert_eq!(us_meta["KeyMetadata"]["ModuleGroup"], "region=us");
    let us_key = us_meta["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    let any_key = create(None).await.unwrap()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    // A group no module carries: the key cannot even be made.
    let e = create(Some("region=mars")).await.unwrap_err().to_string();
    assert!(e.contains("DependencyTimeoutException"), "{e}");
    let e = create(Some("not a group")).await.unwrap_err().to_string();
    assert!(e.contains("ValidationException"), "{e}");
    for k in [&eu_key, &us_key, &any_key] {
        encrypts(&c, k).await.unwrap();
    }

    // The only us module dies: the us key stops; the others go on.
    us.kill();
    let e = encrypts(&c, &us_key).await.unwrap_err();
    assert!(e.contains("DependencyTimeoutException"), "{e}");
    for _ in 0..6 {
        encrypts(&c, &eu_key).await.unwrap();
        encrypts(&c, &any_key).await.unwrap();
    }

    // It comes back (rejoined by quorum); then both eu modules die: the eu
    // key stops although a member is up, the us and unpinned keys go on.
    let us_addr = us.addr.clone();
    drop(us);
    let us2 = Hsm::start_with(&us_addr, &w.join("us2"), &["--tag", "region=us"]);
    join(w, &eu1.addr, &us2, "us2", "t3.json", "t4.json");
    let started = Instant::now();
    while encrypts(&c, &us_key).await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "us2 never served"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drop(eu1);
    drop(eu2);
    let e = encrypts(&c, &eu_key).await.unwrap_err();
    assert!(e.contains("DependencyTimeoutException"), "{e}");
    for _ in 0..6 {
        encrypts(&c, &us_key).await.unwrap();
        encrypts(&c, &any_key).await.unwrap();
    }
    dev.shutdown().await;
}
