//! Finding 5 of the second review: authorization is checked before any
//! state change, not after the handler. Every state-changing row of the
//! operation table is run by the real dispatcher, for the key's owner with
//! a request that would succeed, under a copy of its row that names one
//! authorization decision more than the handler makes (two ReEncrypt-style
//! halves). Each must refuse at the gate (`Processor::begin_change`), before
//! it writes the store or asks a module to change anything, and leave every
//! resource as it was. A handler that wrote first and was caught only by
//! the dispatcher's check afterwards fails here.

use strongroom_server::auth::Caller;
use strongroom_server::authz::RequestMeta;
use strongroom_server::authz::operations::{Effect, Operation, Resources};

use crate::authz_every_operation::{assert_victim_untouched, body_for, set_up_victim};
use crate::common::*;

/// The gate's refusal (the dispatcher's after-the-fact check says
/// "finished without authorizing").
const GATE_REFUSAL: &str = "tried to change state before authorizing its resources";

/// Rows whose handler refuses this request on its own input before it
/// reaches the gate (the victim key is not EXTERNAL, not suspended): they
/// must still refuse and change nothing.
const REFUSED_BEFORE_THE_GATE: &[&str] = &[
    "GetParametersForImport",
    "ImportKeyMaterial",
    "DeleteImportedKeyMaterial",
    "ReinstateKey",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_changing_rows_with_an_unsatisfied_authorization_refuse_before_changing_anything() {
    let env = TestEnv::start().await;
    let (victim, _) = set_up_victim(&env).await;
    let owner = Caller::root(
        &env.dev.account_id,
        &env.dev.access_key_id,
        env.dev.region.parse().unwrap(),
    );
    let processor = env.dev.server.processor().clone();
    // The owner may do everything, the material-moving extensions included
    // (kms:* leaves them out), so authorization of the real row never
    // refuses: only the gate does.
    let me = &env.dev.account_id;
    env.client
        .put_key_policy()
        .key_id(&victim.key)
        .policy(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{me}:root"}},"Action":["kms:*","kms:SuspendKey","kms:UpdateSuspensionOwner"],"Resource":"*"}}]}}"#
        ))
        .send()
        .await
        .unwrap();

    // ReplicateKey and UpdatePrimaryRegion need a multi-Region primary
    // (with a replica in eu-west-1 to move to, and none in us-west-2).
    let mrk = env
        .client
        .create_key()
        .multi_region(true)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id()
        .to_owned();
    env.client
        .replicate_key()
        .key_id(&mrk)
        .replica_region("eu-west-1")
        .send()
        .await
        .unwrap();

    let mut failures = Vec::new();
    let mut gated = 0;
    for row in strongroom_server::ops::OPERATIONS {
        if row.effect != Effect::Writes {
            continue;
        }
        let body = match row.name {
            "ReplicateKey" => serde_json::json!({"KeyId": mrk, "ReplicaRegion": "us-west-2"}),
            "UpdatePrimaryRegion" => {
                serde_json::json!({"KeyId": mrk, "PrimaryRegion": "eu-west-1"})
            }
            _ => body_for(row.name, &victim).expect("a body for every row"),
        };
        // One decision more than any handler of a single key, alias or
        // grant makes: the handler's own authorization cannot satisfy it.
        let unsatisfiable: &'static Operation = Box::leak(Box::new(Operation {
            resources: Resources::KeyPair,
            ..*row
        }));
        let (result, facts) = processor
            .dispatch_row(
                &owner,
                RequestMeta::default(),
                unsatisfiable,
                &serde_json::to_vec(&body).unwrap(),
                None,
            )
            .await;
        let refusal = match result {
            Ok(_) => {
                failures.push(format!("{}: answered", row.name));
                continue;
            }
            Err(e) => e.to_string(),
        };
        if facts.intent_recorded {
            failures.push(format!("{}: recorded an intent", row.name));
        }
        if REFUSED_BEFORE_THE_GATE.contains(&row.name) {
            continue;
        }
        if refusal.contains(GATE_REFUSAL) {
            gated += 1;
        } else {
            failures.push(format!("{}: refused otherwise: {refusal}", row.name));
        }
        // Checked after every row, so the row that changed something is
        // the one named.
        let m = env
            .client
            .describe_key()
            .key_id(&victim.key)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        let untouched = (m.key_state, m.description);
        if untouched.0 != Some(aws_sdk_kms::types::KeyState::Enabled)
            || untouched.1.as_deref() != Some("")
        {
            failures.push(format!("{}: changed the key: {untouched:?}", row.name));
        }
    }
    // The multi-Region key: still the primary, with its one replica.
    let m = env
        .client
        .describe_key()
        .key_id(&mrk)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let c = m.multi_region_configuration().unwrap();
    let replicas: Vec<_> = c.replica_keys().iter().filter_map(|r| r.region()).collect();
    assert_eq!(
        (c.multi_region_key_type(), replicas),
        (
            Some(&aws_sdk_kms::types::MultiRegionKeyType::Primary),
            vec!["eu-west-1"]
        )
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(gated > 20, "only {gated} rows reached the gate");
    // The victim and the multi-Region key.
    assert_victim_untouched(&env.client, &victim, 2).await;
    env.stop().await;
}
