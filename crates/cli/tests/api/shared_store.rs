//! Two frontends on one PostgreSQL store: one truth. A key made through
//! one is used through the other; a key disabled through one is refused by
//! the other within the cache bound; aliases and grants made on one work
//! on the other; the audit trail both append to stays one intact chain and
//! usage counts stay exact under concurrent load through both.

use std::time::{Duration, Instant};

use crate::common::*;

const TTL: Duration = Duration::from_millis(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_frontends_share_one_postgres_store() {
    let Some(url) = fresh_postgres_url().await else {
        return;
    };
    // One data directory: both in-process modules open the same dev domain.
    let dir = tempfile::tempdir().unwrap();
    // One audit directory too, so each frontend needs a chain of its own.
    let start = |url: String, chain: &'static str| {
        let path = dir.path().to_path_buf();
        async move {
            start_in(&path, |o| {
                o.store_url = Some(url);
                o.metadata_cache_ttl = Some(TTL);
                o.audit.audit_chain = Some(chain.into());
            })
            .await
        }
    };
    let a = start(url.clone(), "fe-a").await;
    let b = start(url.clone(), "fe-b").await;
    let ca = client_for(&a, &a.access_key_id, &a.secret_access_key);
    let cb = client_for(&b, &b.access_key_id, &b.secret_access_key);

    let key = new_key(&ca).await;
    let ct = ca
        .encrypt()
        .key_id(&key)
        .plaintext(blob(b"one truth"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let pt = cb
        .decrypt()
        .ciphertext_blob(ct.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(pt.plaintext.unwrap().as_ref(), b"one truth");

    // Disabled through A: B refuses within the cache bound.
    ca.disable_key().key_id(&key).send().await.unwrap();
    let disabled_at = Instant::now();
    loop {
        match cb.decrypt().ciphertext_blob(ct.clone()).send().await {
            Err(e) if code(&e) == "DisabledException" => break,
            Ok(_) => {}
            Err(e) => panic!("{e:?}"),
        }
        assert!(
            disabled_at.elapsed() < TTL + Duration::from_secs(1),
            "B still used a key A disabled after {:?}",
            disabled_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // B's own write builds on the truth, not on its stale copy: enabling
    // through B, then describing through A.
    cb.enable_key().key_id(&key).send().await.unwrap();
    cb.update_key_description()
        .key_id(&key)
        .description("from B")
        .send()
        .await
        .unwrap();
    // A sees it once its cached copy is older than the bound.
    tokio::time::sleep(TTL).await;
    let meta = ca
        .describe_key()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert!(meta.enabled);
    assert_eq!(meta.description.as_deref(), Some("from B"));

    // Aliases: made on A, resolved on B; two creating the same alias at once: one wins.
    ca.create_alias()
        .alias_name("alias/shared")
        .target_key_id(&key)
        .send()
        .await
        .unwrap();
    cb.encrypt()
        .key_id("alias/shared")
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap();
    let (ra, rb) = tokio::join!(
        ca.create_alias()
            .alias_name("alias/race")
            .target_key_id(&key)
            .send(),
        cb.create_alias()
            .alias_name("alias/race")
            .target_key_id(&key)
            .send()
    );
    assert_eq!(
        [ra.is_ok(), rb.is_ok()].iter().filter(|ok| **ok).count(),
        1,
        "exactly one CreateAlias wins"
    );
    let loser = ra.err().or(rb.err()).unwrap();
    assert_eq!(code(&loser), "AlreadyExistsException");

    // Tags added at once through both frontends: none lost (the store's
    // compare-and-swap refuses a stale write; the client retries it).
    let mut tags = tokio::task::JoinSet::new();
    for i in 0..12 {
        let c = if i % 2 == 0 { ca.clone() } else { cb.clone() };
        let key = key.clone();
        tags.spawn(async move {
            let tag = aws_sdk_kms::types::Tag::builder()
                .tag_key(format!("t{i}"))
                .tag_value("v")
                .build()
                .unwrap();
            loop {
                match c.tag_resource().key_id(&key).tags(tag.clone()).send().await {
                    Ok(_) => return,
                    Err(e) if code(&e) == "KMSInternalException" => continue,
                    Err(e) => panic!("{e:?}"),
                }
            }
        });
    }
    while let Some(r) = tags.join_next().await {
        r.unwrap();
    }
    tokio::time::sleep(TTL).await;
    let listed = ca
        .list_resource_tags()
        .key_id(&key)
        .send()
        .await
        .unwrap()
        .tags
        .unwrap();
    for i in 0..12 {
        assert!(
            listed.iter().any(|t| t.tag_key == format!("t{i}")),
            "tag t{i} was lost"
        );
    }

    // Concurrent load through both: one intact chain, exact usage.
    let before: u64 = usage_of(&a, &b, &key).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..16 {
        let c = if i % 2 == 0 { ca.clone() } else { cb.clone() };
        let key = key.clone();
        tasks.spawn(async move {
            for _ in 0..10 {
                c.encrypt()
                    .key_id(&key)
                    .plaintext(blob(b"load"))
                    .send()
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    assert_eq!(usage_of(&a, &b, &key).await, before + 160);
    // Each frontend wrote its own chain; both verify, and a query merges
    // them by time.
    let (rc, out) = crate::audit::admin(dir.path(), &["audit", "verify"]);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains("audit chain fe-a intact") && out.contains("audit chain fe-b intact"),
        "{out}"
    );
    let (rc, out) = crate::audit::admin(dir.path(), &["audit", "query", "--limit", "100000"]);
    assert_eq!(rc, 0);
    let chains: std::collections::BTreeSet<String> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["chain"].to_string())
        .collect();
    assert_eq!(chains.len(), 2, "{chains:?}");
    assert!(out.lines().count() > 170, "{}", out.lines().count());
    a.shutdown().await;
    b.shutdown().await;
}

async fn usage_of(
    env: &strongroom_cli::dev::DevEnvironment,
    other: &strongroom_cli::dev::DevEnvironment,
    key: &str,
) -> u64 {
    env.server.flush_usage().await;
    other.server.flush_usage().await;
    let id = key.rsplit('/').next().unwrap();
    env.store
        .usage(Some(&env.account_id), 0)
        .await
        .unwrap()
        .iter()
        .filter(|u| u.operation == "Encrypt" && u.key_id == id)
        .map(|u| u.count)
        .sum()
}
