//! The audit trail and usage metering: every authenticated request
//! (allowed or denied) becomes a chained record in the frontend's audit
//! segments, unauthenticated ones a periodic summary; `strongroom admin
//! audit verify` finds a tampered record; usage counts are exact under
//! concurrent load. Each claim is its own test over a fresh [`Traffic`]
//! (or [`three_encrypts`]).

use serde_json::Value;

use crate::audit::{admin, records};
use crate::common::*;

const PARTNER: &str = "222233334444";

/// A dev server summarising unauthenticated requests every 200 ms, after
/// our Encrypt and Decrypt of a key (with a secret context value), a
/// partner's denied Encrypt and a stranger's ListKeys; with the records
/// once the stranger's summary is among them.
struct Traffic {
    env: TestEnv,
    me: String,
    arn: String,
    recs: Vec<Value>,
}

impl Traffic {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let dev = start_in(dir.path(), |o| {
            o.unauthenticated_summary_interval = std::time::Duration::from_millis(200);
        })
        .await;
        let client = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
        let env = TestEnv { dev, client, dir };
        let me = env.dev.account_id.clone();
        let arn = new_key(&env.client).await;
        Self::send(&env, &arn).await;
        // Unauthenticated requests are summarised (not recorded one by one).
        let mut recs = records(&env).await;
        for _ in 0..200 {
            if recs
                .iter()
                .any(|r| r["eventName"] == "UnauthenticatedRequests")
            {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            recs = records(&env).await;
        }
        Self { env, me, arn, recs }
    }

    /// The requests the fixture's records are of.
    async fn send(env: &TestEnv, arn: &str) {
        let c = &env.client;
        let partner = other_account_client(env, PARTNER).await;
        let ct = c
            .encrypt()
            .key_id(arn)
            .plaintext(blob(b"audited"))
            .encryption_context("dept", "secret-value-42")
            .send()
            .await
            .unwrap()
            .ciphertext_blob
            .unwrap();
        c.decrypt()
            .ciphertext_blob(ct)
            .encryption_context("dept", "secret-value-42")
            .send()
            .await
            .unwrap();
        let e = partner
            .encrypt()
            .key_id(arn)
            .plaintext(blob(b"x"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "AccessDeniedException");
        let stranger = client_for(&env.dev, "AKIAUNKNOWNUNKNOWN00", "nope");
        assert_eq!(
            code(&stranger.list_keys().send().await.unwrap_err()),
            "UnrecognizedClientException"
        );
    }

    /// The records of operation `op`.
    fn by_op(&self, op: &str) -> Vec<&Value> {
        self.recs.iter().filter(|r| r["eventName"] == op).collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_and_denied_requests_are_recorded_with_caller_key_and_source() {
    let t = Traffic::start().await;
    let me = &t.me;
    let enc = t.by_op("Encrypt");
    assert_eq!(enc.len(), 2);
    let mine = enc
        .iter()
        .find(|r| r["errorCode"].is_null())
        .expect("successful Encrypt recorded");
    assert_eq!(
        mine["userIdentity"]["arn"],
        format!("arn:aws:iam::{me}:root")
    );
    assert_eq!(mine["userIdentity"]["accountId"], *me);
    assert_eq!(mine["userIdentity"]["accessKeyId"], t.env.dev.access_key_id);
    assert_eq!(mine["resources"][0]["ARN"], t.arn);
    assert_eq!(mine["sourceIPAddress"], "127.0.0.1");
    assert_eq!(mine["eventSource"], "kms.amazonaws.com");
    assert_eq!(
        mine["requestParameters"]["encryptionContextKeys"],
        serde_json::json!(["dept"])
    );
    let denied = enc
        .iter()
        .find(|r| r["errorCode"] == "AccessDeniedException")
        .expect("denied Encrypt recorded");
    assert_eq!(
        denied["userIdentity"]["arn"],
        "arn:aws:iam::222233334444:root"
    );
    assert_eq!(t.by_op("Decrypt").len(), 1);
    t.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encryption_context_values_are_not_recorded_unless_configured() {
    let t = Traffic::start().await;
    assert!(
        !t.recs
            .iter()
            .any(|r| r.to_string().contains("secret-value-42"))
    );
    t.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_requests_are_summarised_not_recorded_one_by_one() {
    let t = Traffic::start().await;
    let unknown = t
        .by_op("UnauthenticatedRequests")
        .into_iter()
        .next()
        .expect("unauthenticated request summarised");
    assert_eq!(unknown["userIdentity"]["type"], "Unknown");
    let summary = &unknown["additionalEventData"];
    assert_eq!(summary["count"], 1);
    assert_eq!(summary["errorCodes"]["UnrecognizedClientException"], 1);
    assert_eq!(summary["accessKeyIds"]["AKIAUNKNOWNUNKNOWN00"], 1);
    assert!(
        t.by_op("ListKeys")
            .iter()
            .all(|r| r["errorCode"] != "UnrecognizedClientException")
    );
    t.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_is_exact_under_concurrent_load_and_counts_only_successes() {
    let t = Traffic::start().await;
    let key_uuid = t.arn.rsplit('/').next().unwrap().to_string();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let c = t.env.client.clone();
        let arn = t.arn.clone();
        tasks.spawn(async move {
            for _ in 0..25 {
                c.encrypt()
                    .key_id(&arn)
                    .plaintext(blob(b"m"))
                    .send()
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let store = &t.env.dev.store;
    t.env.dev.server.flush_usage().await;
    let used: u64 = store
        .usage(Some(&t.me), 0)
        .await
        .unwrap()
        .iter()
        .filter(|u| u.operation == "Encrypt" && u.key_id == key_uuid)
        .map(|u| u.count)
        .sum();
    assert_eq!(used, 401);
    let partner_used = store.usage(Some(PARTNER), 0).await.unwrap();
    assert!(partner_used.is_empty(), "{partner_used:?}");
    t.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chain_verifies_with_every_record() {
    let t = Traffic::start().await;
    let total = records(&t.env).await.len() as u64;
    let (rc, out) = admin(t.env.dir.path(), &["audit", "verify"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains(&format!("intact: {total} records")), "{out}");
    t.env.stop().await;
}

/// A fresh server after CreateKey and three Encrypts under that key.
async fn three_encrypts() -> TestEnv {
    let env = TestEnv::start().await;
    let arn = new_key(&env.client).await;
    for _ in 0..3 {
        env.client
            .encrypt()
            .key_id(&arn)
            .plaintext(blob(b"z"))
            .send()
            .await
            .unwrap();
    }
    env
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_counts_intent_and_outcome_records_and_query_picks_an_operation() {
    let env = three_encrypts().await;
    let (rc, out) = admin(env.dir.path(), &["audit", "verify"]);
    assert_eq!(rc, 0, "{out}");
    // CreateKey changes state: its intent record, then its outcome.
    assert!(out.contains("intact: 5 records"), "{out}");
    let (rc, out) = admin(
        env.dir.path(),
        &["audit", "query", "--operation", "Encrypt"],
    );
    assert_eq!(rc, 0);
    assert_eq!(out.lines().count(), 3);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_reads_as_a_billing_system_reads_it() {
    let env = three_encrypts().await;
    env.dev.server.flush_usage().await;
    let (rc, out) = admin(
        env.dir.path(),
        &["usage", "--account", &env.dev.account_id, "--json"],
    );
    assert_eq!(rc, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    let enc: u64 = v
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["operation"] == "Encrypt")
        .map(|r| r["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(enc, 3);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_old_record_is_found_by_verify() {
    let dir = three_encrypts().await.stop().await;
    // Record 3 (the first Encrypt) now says Decrypt.
    let seg = std::fs::read_dir(dir.path().join("audit"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "seg"))
        .unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes.windows(7).position(|w| w == b"Encrypt").unwrap();
    bytes[at..at + 7].copy_from_slice(b"Decrypt");
    std::fs::write(&seg, &bytes).unwrap();
    let (rc, out) = admin(dir.path(), &["audit", "verify"]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("BROKEN") && out.contains("edited"), "{out}");
}
