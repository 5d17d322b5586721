//! Attacks on the XKS proxy API found in review: each a refusal that must
//! leave nothing behind that a flood could use against other callers.

use std::time::Duration;

use serde_json::json;
use strongroom_cli::xks_client::{Signing, XksHttpClient};
use zeroize::Zeroizing;

use crate::common::*;
use crate::xks::{assert_error, key_store, meta};

/// An internet client knows a key store's access key id (it is no secret:
/// AWS shows it in DescribeCustomKeyStores, Strongroom in `xks list` and
/// the audit trail) but not its secret. XKS accepts any well-formed region
/// in the credential scope, so each forged request in a new region made
/// the module derive a signing key, which was cached before the signature
/// was checked: a flood filled the cache shared with the KMS API until it
/// was cleared, and every caller paid a module round trip again. Each
/// forgery's derivation is charged to its source, so a flood past the
/// budget costs the module nothing.
#[tokio::test]
async fn forged_signatures_in_made_up_regions_cache_no_signing_keys() {
    let env = TestEnv::start().await;
    let ks = key_store(&env, &env.dev.account_id, "ks").await;
    let body = json!({"requestMetadata": meta("KmsHealthCheck")});
    // The real credential works (and caches its own signing key).
    assert_eq!(ks.client.call("health", &body).await.unwrap().0, 200);
    let cached = env.dev.server.cached_signing_keys();
    let derived = env.dev.server.signing_key_derivations();
    let burst = strongroom_server::auth::unknown_keys::UnknownKeyBudget::default().burst;
    for i in 0..40 {
        let forger = XksHttpClient::new(
            &env.dev.endpoint(),
            "/ks",
            &format!("zz-forged-{i}"),
            &ks.access_key_id,
            Zeroizing::new("x".repeat(44)),
        )
        .unwrap();
        let got = forger
            .send(
                "POST",
                &forger.path("health"),
                serde_json::to_vec(&body).unwrap(),
                &Signing::default(),
            )
            .await
            .unwrap();
        // Each forgery costs the module a derivation, charged to this
        // source: past its budget, refused without one.
        if i < burst {
            assert_error(got, 401, "AuthenticationFailedException");
        } else {
            assert_error(got, 429, "ThrottlingException");
        }
    }
    assert_eq!(
        env.dev.server.cached_signing_keys(),
        cached,
        "forged requests left signing keys in the cache"
    );
    assert_eq!(
        env.dev.server.signing_key_derivations() - derived,
        u64::from(burst),
        "forged requests past the source's budget reached the module"
    );
    assert_eq!(ks.client.call("health", &body).await.unwrap().0, 200);
    env.stop().await;
}

/// The same client sends requests to made-up URI prefixes with a key
/// store's access key id (no signature needed: the path is routed first).
/// Each unknown prefix made the router read the id's principal from the
/// store to see whether it was a key store created since: one store round
/// trip per unauthenticated request, with no budget.
#[tokio::test]
async fn unknown_prefixes_with_a_known_access_key_id_cost_no_store_reads() {
    let env = TestEnv::start().await;
    let ks = key_store(&env, &env.dev.account_id, "ks").await;
    let body = json!({"requestMetadata": meta("KmsHealthCheck")});
    assert_eq!(ks.client.call("health", &body).await.unwrap().0, 200);
    let before = env.dev.server.xks_principal_reads();
    for i in 0..40 {
        let got = ks
            .client
            .send(
                "POST",
                &format!("/nope-{i}/kms/xks/v1/health"),
                serde_json::to_vec(&body).unwrap(),
                &Signing {
                    secret: Some("forged-secret-forged-secret-forged-secret-0"),
                    ..Signing::default()
                },
            )
            .await
            .unwrap();
        assert_error(got, 404, "InvalidUriPathException");
    }
    assert_eq!(
        env.dev.server.xks_principal_reads(),
        before,
        "unauthenticated requests to unknown prefixes read principals from the store"
    );
    // A key store created after the table was read is still found.
    let later = key_store(&env, &env.dev.account_id, "later").await;
    assert_eq!(later.client.call("health", &body).await.unwrap().0, 200);
    env.stop().await;
}

/// One request to a made-up prefix makes the router re-read the prefix
/// table from the store (at most once a second). That read held the
/// table's lock, which every XKS request takes: while the store was slow
/// (here: a table lock; in life, a store with many accounts, one query
/// each), requests to known prefixes waited too, past AWS KMS's 250 ms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prefix_table_read_stuck_in_the_store_holds_up_no_known_prefix() {
    let Some(url) = fresh_postgres_url().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| o.store_url = Some(url.clone())).await;
    let (ks, key) = strongroom_server::xks::admin::create_keystore(
        dev.store.as_ref(),
        &dev.hsm,
        &dev.account_id,
        "ks",
    )
    .await
    .unwrap();
    let client = XksHttpClient::new(
        &dev.endpoint(),
        &ks.prefix,
        "eu-west-1",
        &key.access_key_id,
        key.secret_access_key.clone(),
    )
    .unwrap();
    let body = json!({"requestMetadata": meta("KmsHealthCheck")});
    assert_eq!(client.call("health", &body).await.unwrap().0, 200);
    // Past the table's re-read interval: the next unknown prefix re-reads.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (pg, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    pg.batch_execute("BEGIN; LOCK TABLE principals IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let stuck = {
        let c = XksHttpClient::new(
            &dev.endpoint(),
            &ks.prefix,
            "eu-west-1",
            &key.access_key_id,
            key.secret_access_key.clone(),
        )
        .unwrap();
        let b = serde_json::to_vec(&body).unwrap();
        tokio::spawn(async move {
            c.send("POST", "/nope/kms/xks/v1/health", b, &Signing::default())
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hit = tokio::time::timeout(Duration::from_secs(3), client.call("health", &body)).await;
    pg.batch_execute("ROLLBACK").await.unwrap();
    assert_error(
        stuck.await.unwrap().unwrap(),
        404,
        "InvalidUriPathException",
    );
    let hit = hit.expect("a known prefix waited for the store read of an unknown one");
    assert_eq!(hit.unwrap().0, 200);
    dev.shutdown().await;
}
