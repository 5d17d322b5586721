//! Administration of external key stores under concurrency, and each key
//! store's request budget: revocations made at the same moment all hold,
//! two accounts racing for one URI prefix get one key store, and a key
//! store over `--xks-requests-per-second` gets ThrottlingException (with an
//! audit record) while another key store is served.

use serde_json::json;
use strongroom_server::xks::admin;

use crate::common::*;
use crate::xks::{assert_error, encrypt_body, key_id_of, key_store, xks_records};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_revocations_of_two_credentials_both_hold() {
    let env = TestEnv::start().await;
    let ks = key_store(&env, &env.dev.account_id, "ks").await;
    let store = env.dev.store.as_ref();
    let second = admin::add_credential(store, &env.dev.hsm, "/ks")
        .await
        .unwrap();
    let third = admin::add_credential(store, &env.dev.hsm, "/ks")
        .await
        .unwrap();
    // Each revocation used to read the principal, add its tag and write it
    // back: run together, the later write dropped the earlier revocation.
    let (a, b) = tokio::join!(
        admin::revoke_credential(store, "/ks", &ks.access_key_id),
        admin::revoke_credential(store, "/ks", &second.access_key_id),
    );
    a.unwrap();
    b.unwrap();
    let creds = &admin::list(store).await.unwrap()[0].1;
    let live: Vec<_> = creds.iter().filter(|c| c.live).collect();
    assert_eq!(live.len(), 1, "{creds:?}");
    assert_eq!(live[0].access_key_id, third.access_key_id);
    for revoked in [&ks.access_key_id, &second.access_key_id] {
        let k = store.get_access_key(revoked).await.unwrap().unwrap();
        assert!(!k.active, "{revoked} still active");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_racing_for_one_uri_prefix_get_one_key_store() {
    let env = TestEnv::start().await;
    let store = env.dev.store.as_ref();
    let other = strongroom_server::admin::create_account(store, Some("444455556666".into()))
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        admin::create_keystore(store, &env.dev.hsm, &env.dev.account_id, "shared"),
        admin::create_keystore(store, &env.dev.hsm, &other.id, "shared"),
    );
    assert_eq!(
        u8::from(a.is_ok()) + u8::from(b.is_ok()),
        1,
        "exactly one wins: {:?} / {:?}",
        a.as_ref().map(|r| &r.0),
        b.as_ref().map(|r| &r.0)
    );
    let stores = admin::list(store).await.unwrap();
    assert_eq!(stores.len(), 1);
    assert_eq!(stores[0].0.prefix, "/shared");
    // The loser can still take another prefix, and a retry by the winner's
    // account of the same prefix is refused as taken.
    let loser = if a.is_ok() {
        other.id.clone()
    } else {
        env.dev.account_id.clone()
    };
    let winner = if a.is_ok() {
        env.dev.account_id.clone()
    } else {
        other.id.clone()
    };
    admin::create_keystore(store, &env.dev.hsm, &loser, "own")
        .await
        .unwrap();
    assert!(
        admin::create_keystore(store, &env.dev.hsm, &winner, "shared")
            .await
            .is_err()
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_store_over_its_rate_is_throttled_and_another_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        o.xks_requests_per_second = std::num::NonZeroU32::new(1)
    })
    .await;
    let client = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    let env = TestEnv { dev, client, dir };
    let busy = std::sync::Arc::new(key_store(&env, &env.dev.account_id, "busy").await);
    let quiet = key_store(&env, &env.dev.account_id, "quiet").await;
    let id = key_id_of(&new_key(&env.client).await).to_owned();
    let encrypt = format!("keys/{id}/encrypt");
    let before = xks_records(&env).await.len();

    // Ten at once against a budget of one per second: one is served, and
    // at most one more per second the burst took; the rest are throttled
    // as the specification shapes it.
    let started = std::time::Instant::now();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (busy, encrypt) = (busy.clone(), encrypt.clone());
        calls.spawn(async move {
            busy.client
                .call(&encrypt, &encrypt_body(b"x", None, false))
                .await
                .unwrap()
        });
    }
    let mut served = 0;
    while let Some(got) = calls.join_next().await {
        let (status, body) = got.unwrap();
        if status == 200 {
            served += 1;
        } else {
            assert_error((status, body), 429, "ThrottlingException");
        }
    }
    let most = 1 + started.elapsed().as_secs() as usize;
    assert!(
        (1..=most).contains(&served),
        "served {served}, at most {most}"
    );
    assert!(served < 10, "nothing was throttled");
    // The other key store has a budget of its own.
    let (status, body) = quiet
        .client
        .call(&encrypt, &encrypt_body(b"x", None, false))
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    // Every request, served or throttled, was authenticated and audited.
    let records = xks_records(&env).await;
    assert_eq!(records.len() - before, 11);
    let throttled = records
        .iter()
        .filter(|r| r["errorCode"] == "ThrottlingException")
        .count();
    assert_eq!(throttled, 10 - served);
    // Once the budget refilled, the busy key store is served again.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let health =
        json!({"requestMetadata": {"kmsRequestId": "r", "kmsOperation": "KmsHealthCheck"}});
    assert_eq!(busy.client.call("health", &health).await.unwrap().0, 200);
    env.stop().await;
}
