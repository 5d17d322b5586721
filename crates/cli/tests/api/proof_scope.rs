//! What an authentication proof lets a service do, and who may mint one:
//! a proof is honoured only for the rows of the operation table marked
//! `#[via_proof]` (using the customer's keys, never managing them), and
//! only the service principal whose service name is exactly the one the
//! customer signed for may mint it.

use serde_json::{Value, json};
use strongroom_cli::client::KmsHttpClient;
use strongroom_server::admin;
use strongroom_store::PrincipalKind;

use crate::common::*;
use crate::proof_attacks::{Customer, OBJECTSTORE, kms_at, mint, use_proof, world};

/// A body that would do damage if the operation ran: every field any
/// management operation needs, naming the customer's key.
fn damaging_body(key_arn: &str, service_arn: &str) -> Value {
    let policy = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": service_arn}, "Action": "kms:*", "Resource": "*"}]});
    json!({
        "KeyId": key_arn, "TargetKeyId": key_arn, "AliasName": "alias/pwned",
        "Policy": policy.to_string(), "PolicyName": "default",
        "Description": "pwned", "PendingWindowInDays": 7,
        "GranteePrincipal": service_arn, "Operations": ["Decrypt"],
        "Tags": [{"TagKey": "owner", "TagValue": "attacker"}], "TagKeys": ["team"],
        "NumberOfBytes": 16
    })
}

/// Everything a management operation could have changed about the key.
async fn key_state(customer: &KmsHttpClient, key_arn: &str) -> Value {
    let k = json!({"KeyId": key_arn});
    let mut described = customer.call_json("DescribeKey", k.clone()).await.unwrap();
    // Not state: DescribeKey's answer is otherwise stable.
    described["KeyMetadata"]
        .as_object_mut()
        .unwrap()
        .remove("CurrentKeyMaterialId");
    json!({
        "key": described,
        "policy": customer.call_json("GetKeyPolicy", json!({"KeyId": key_arn, "PolicyName": "default"})).await.unwrap(),
        "grants": customer.call_json("ListGrants", k.clone()).await.unwrap(),
        "tags": customer.call_json("ListResourceTags", k.clone()).await.unwrap(),
        "rotation": customer.call_json("GetKeyRotationStatus", k).await.unwrap(),
        "aliases": customer.call_json("ListAliases", json!({})).await.unwrap(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proof_is_refused_for_every_operation_not_marked_via_proof() {
    let env = TestEnv::start().await;
    let w = world(&env.dev).await;
    let endpoint = env.dev.endpoint();
    let svc = kms_at(&endpoint, &env.dev, &w.objectstore);
    let customer = KmsHttpClient::new(
        &endpoint,
        &env.dev.region,
        &w.customer.access_key_id,
        w.customer.secret.clone(),
        None,
    )
    .unwrap();
    let service_arn = format!("arn:aws:iam::{}:user/objectstore", env.dev.account_id);
    let before = key_state(&customer, &w.key_arn).await;
    // One proof with one use, presented for every operation it must not
    // reach: a refusal must not spend it.
    let proof = mint(&svc, &w.customer.forwarded(OBJECTSTORE, "/b/k", 1))
        .await
        .unwrap();
    let body = serde_json::to_vec(&damaging_body(&w.key_arn, &service_arn)).unwrap();
    let mut failures = Vec::new();
    let unmarked = strongroom_server::ops::OPERATIONS
        .iter()
        .filter(|o| !o.via_proof)
        .map(|o| o.name)
        .chain(["CreateAuthenticationProof", "NoSuchOperation"]);
    for op in unmarked {
        let (status, out) = svc
            .call_with_headers(op, body.clone(), &[("x-strongroom-auth-proof", &proof)])
            .await
            .unwrap();
        let answer: Value = serde_json::from_slice(&out).unwrap_or_default();
        let refused = status == 400
            && answer["__type"] == "AccessDeniedException"
            && answer["message"]
                .as_str()
                .is_some_and(|m| m.contains("authentication proof is not valid for"));
        if !refused {
            failures.push(format!("{op}: {status} {answer}"));
        }
    }
    assert!(
        failures.is_empty(),
        "proof honoured for:\n{}",
        failures.join("\n")
    );
    // Nothing changed: the key, its policy, grants, tags, aliases; and the
    // proof still has its one use, for an operation it is meant for.
    assert_eq!(key_state(&customer, &w.key_arn).await, before);
    use_proof(&svc, &w.key_arn, &proof).await.unwrap();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_sharing_the_first_label_cannot_mint_for_the_rightful_service() {
    let env = TestEnv::start().await;
    let w = world(&env.dev).await;
    let store = env.dev.store.as_ref();
    // `objectstore.attacker`: a service principal whose name starts with
    // the rightful service's first label.
    let p = admin::create_principal(
        store,
        &env.dev.account_id,
        PrincipalKind::Service,
        "attacker",
        None,
        Vec::new(),
        Some("objectstore.attacker".into()),
    )
    .await
    .unwrap();
    let k = admin::create_principal_access_key(store, &env.dev.hsm, &p.arn)
        .await
        .unwrap();
    let attacker = kms_at(
        &env.dev.endpoint(),
        &env.dev,
        &(k.access_key_id, k.secret_access_key),
    );
    let rightful = kms_at(&env.dev.endpoint(), &env.dev, &w.objectstore);
    // A request the customer signed for the rightful service, and one
    // signed for the bare first label both share.
    let for_rightful = w.customer.forwarded(OBJECTSTORE, "/b/k", 1);
    let for_label = w.customer.forwarded("objectstore", "/b/k", 1);
    for req in [&for_rightful, &for_label] {
        let e = mint(&attacker, req).await.unwrap_err();
        assert!(
            e.contains("AccessDeniedException") && e.contains("which is not objectstore.attacker"),
            "{e}"
        );
    }
    // Nor can the rightful service mint from a request signed only for the
    // label: the name must match exactly.
    let e = mint(&rightful, &for_label).await.unwrap_err();
    assert!(e.contains("AccessDeniedException"), "{e}");
    // Nothing changed: the request signed for it was not consumed, and the
    // rightful service mints from it and uses the proof.
    let proof = mint(&rightful, &for_rightful).await.unwrap();
    use_proof(&rightful, &w.key_arn, &proof).await.unwrap();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_forwarding_requests_of_unknown_customers_costs_bounded_store_lookups() {
    let env = TestEnv::start().await;
    let w = world(&env.dev).await;
    let svc = kms_at(&env.dev.endpoint(), &env.dev, &w.objectstore);
    // The service's own key is looked up (and cached) before counting.
    // (Its answer does not matter: the key is known either way.)
    svc.call("ListKeys", b"{}".to_vec()).await.unwrap();
    let budget = strongroom_server::auth::unknown_keys::UnknownKeyBudget::default();
    let started = std::time::Instant::now();
    let before = env.dev.server.access_key_lookups();
    let mut refusals = std::collections::BTreeMap::<bool, usize>::new();
    for _ in 0..60 {
        // A "customer" whose access key id nobody has.
        let id = format!(
            "AKIA{}",
            hex::encode_upper(strongroom_crypto::random_array::<8>().unwrap())
        );
        let stranger = Customer {
            access_key_id: id,
            secret: zeroize::Zeroizing::new("not-a-secret-anyone-holds".into()),
            session_token: None,
            region: env.dev.region.clone(),
        };
        let e = mint(&svc, &stranger.forwarded(OBJECTSTORE, "/b/k", 1))
            .await
            .unwrap_err();
        assert!(e.contains("AccessDeniedException"), "{e}");
        *refusals.entry(e.contains("Rate exceeded")).or_default() += 1;
    }
    let lookups = env.dev.server.access_key_lookups() - before;
    let refilled = (started.elapsed().as_secs_f64() / 60.0 * f64::from(budget.per_minute)).ceil();
    assert!(
        lookups as f64 <= f64::from(budget.burst) + refilled,
        "{lookups} store lookups for 60 forwarded requests of unknown customers ({refusals:?})"
    );
    // Past the budget, refused without a lookup.
    assert!(refusals.get(&true).is_some_and(|&n| n > 0), "{refusals:?}");
    env.stop().await;
}
