//! Finding 3 of the second review (audit gaps): every change leaves a
//! durable record naming its key. A state-changing request's intent record
//! names the key it resolved; what the service does by itself (deletion
//! sweep, scheduled rotation, expiry of imported material) is recorded as
//! a CloudTrail-shaped service event naming the key, before the change, so
//! a change whose record cannot be written does not happen.

use std::time::Duration;

use aws_sdk_kms::primitives::DateTime;
use aws_sdk_kms::types::{AlgorithmSpec, OriginType, WrappingKeySpec};
use serde_json::Value;
use strongroom_crypto::{OaepHash, rsa_oaep_encrypt};

use crate::common::*;

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

async fn records(env: &TestEnv) -> Vec<Value> {
    env.dev.audit_events().unwrap()
}

/// The service events named `name` in the trail.
async fn service_events(env: &TestEnv, name: &str) -> Vec<Value> {
    records(env)
        .await
        .into_iter()
        .filter(|r| r["eventName"] == name && r["eventType"] == "AwsServiceEvent")
        .collect()
}

/// One service event, shaped as CloudTrail's, about `arn` of `account`.
fn assert_names_key(events: &[Value], arn: &str, account: &str) {
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e["userIdentity"]["type"], "AWSService", "{e}");
    assert_eq!(e["userIdentity"]["invokedBy"], "kms.amazonaws.com", "{e}");
    assert_eq!(e["userIdentity"]["accountId"], account, "{e}");
    assert_eq!(e["eventSource"], "kms.amazonaws.com", "{e}");
    assert_eq!(e["sourceIPAddress"], "kms.amazonaws.com", "{e}");
    assert_eq!(e["eventCategory"], "Management", "{e}");
    assert_eq!(e["resources"][0]["ARN"], arn, "{e}");
    assert_eq!(e["resources"][0]["type"], "AWS::KMS::Key", "{e}");
    assert_eq!(e["resources"][0]["accountId"], account, "{e}");
    assert_eq!(e["requestParameters"]["keyId"], arn, "{e}");
    assert!(e.get("errorCode").is_none(), "{e}");
}

/// The audit log stops taking records (as when its disk fails).
async fn refuse_records(env: &mut TestEnv) {
    env.dev.server.close_audit_log().await;
}

/// Restarts the frontend on the same data directory: records are taken
/// again.
async fn restart(env: TestEnv) -> TestEnv {
    let dir = env.stop().await;
    let dev = start_in(dir.path(), |_| {}).await;
    let client = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    TestEnv { dev, client, dir }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intent_records_name_the_key_before_the_change() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let arn = new_key(c).await;
    c.disable_key().key_id(&arn).send().await.unwrap();
    let all = records(&env).await;
    let intent = |name: &str| -> Vec<&Value> {
        all.iter()
            .filter(|r| r["eventName"] == name && r["additionalEventData"]["phase"] == "intent")
            .collect()
    };
    // CreateKey's intent names the key it is about to create; DisableKey's
    // the key it resolved (given by ARN here, but recorded as resolved).
    for op in ["CreateKey", "DisableKey"] {
        let found = intent(op);
        assert_eq!(found.len(), 1, "{op}: {all:?}");
        assert_eq!(found[0]["resources"][0]["ARN"], arn.as_str(), "{op}");
        assert_eq!(found[0]["requestParameters"]["keyId"], arn.as_str(), "{op}");
        // The outcome follows, with the same request id.
        let outcome = all
            .iter()
            .find(|r| r["eventName"] == op && r["additionalEventData"].is_null())
            .unwrap();
        assert_eq!(outcome["requestID"], found[0]["requestID"], "{op}");
    }
    // A state-changing request refused before it changed anything (here:
    // by input) writes no intent.
    let key_uuid = arn.rsplit('/').next().unwrap();
    let e = c
        .disable_key()
        .key_id(format!("{key_uuid}0"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    assert_eq!(intent("DisableKey").len(), 1);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_sweep_is_audited_and_refused_when_its_record_cannot_be_written() {
    let mut env = TestEnv::start().await;
    let c = &env.client.clone();
    let account = env.dev.account_id.clone();
    let arn = new_key(c).await;
    c.schedule_key_deletion()
        .key_id(&arn)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let processor = env.dev.server.processor().clone();
    let due = now() + 8 * 86_400;

    // The trail refuses the service event: the key is not deleted.
    refuse_records(&mut env).await;
    assert!(processor.sweep_deletions(due).await.is_err());
    let env = restart(env).await;
    let (c, processor) = (&env.client, env.dev.server.processor().clone());
    c.describe_key().key_id(&arn).send().await.unwrap();
    assert!(service_events(&env, "DeleteKey").await.is_empty());

    assert_eq!(processor.sweep_deletions(due).await.unwrap(), 1);
    let e = c.describe_key().key_id(&arn).send().await.unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    assert_names_key(&service_events(&env, "DeleteKey").await, &arn, &account);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_rotation_is_audited_and_refused_when_its_record_cannot_be_written() {
    let mut env = TestEnv::start().await;
    let c = &env.client.clone();
    let account = env.dev.account_id.clone();
    let arn = new_key(c).await;
    c.enable_key_rotation()
        .key_id(&arn)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();
    let processor = env.dev.server.processor().clone();
    let due = now() + 91 * 86_400;
    let rotations = |c: &aws_sdk_kms::Client| {
        let c = c.clone();
        let arn = arn.clone();
        async move {
            c.list_key_rotations()
                .key_id(&arn)
                .send()
                .await
                .unwrap()
                .rotations()
                .len()
        }
    };

    refuse_records(&mut env).await;
    assert!(processor.sweep_rotations(due).await.is_err());
    let env = restart(env).await;
    let (c, processor) = (&env.client, env.dev.server.processor().clone());
    assert_eq!(rotations(c).await, 0, "rotated without a record");
    assert!(service_events(&env, "RotateKey").await.is_empty());

    assert_eq!(processor.sweep_rotations(due).await.unwrap(), 1);
    assert_eq!(rotations(c).await, 1);
    assert_names_key(&service_events(&env, "RotateKey").await, &arn, &account);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_expiry_is_audited_and_refused_when_its_record_cannot_be_written() {
    let mut env = TestEnv::start().await;
    let c = &env.client.clone();
    let account = env.dev.account_id.clone();
    let meta = c
        .create_key()
        .origin(OriginType::External)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let arn = meta.arn.unwrap();
    let p = c
        .get_parameters_for_import()
        .key_id(&arn)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await
        .unwrap();
    let public = p.public_key.unwrap().into_inner();
    let valid_to = std::time::SystemTime::now() + Duration::from_secs(86_400);
    c.import_key_material()
        .key_id(&arn)
        .import_token(p.import_token.unwrap())
        .encrypted_key_material(blob(
            &rsa_oaep_encrypt(&public, OaepHash::Sha256, &[7; 32]).unwrap(),
        ))
        .valid_to(DateTime::from(valid_to))
        .send()
        .await
        .unwrap();
    let processor = env.dev.server.processor().clone();
    let due = now() + 2 * 86_400;
    let state = |c: &aws_sdk_kms::Client| {
        let c = c.clone();
        let arn = arn.clone();
        async move {
            c.describe_key()
                .key_id(&arn)
                .send()
                .await
                .unwrap()
                .key_metadata
                .unwrap()
                .key_state
                .unwrap()
        }
    };

    refuse_records(&mut env).await;
    assert!(processor.sweep_expired_imports(due).await.is_err());
    let env = restart(env).await;
    let (c, processor) = (&env.client, env.dev.server.processor().clone());
    assert_eq!(state(c).await, aws_sdk_kms::types::KeyState::Enabled);
    assert!(
        service_events(&env, "DeleteExpiredKeyMaterial")
            .await
            .is_empty()
    );

    assert_eq!(processor.sweep_expired_imports(due).await.unwrap(), 1);
    assert_eq!(state(c).await, aws_sdk_kms::types::KeyState::PendingImport);
    assert_names_key(
        &service_events(&env, "DeleteExpiredKeyMaterial").await,
        &arn,
        &account,
    );
    env.stop().await;
}
