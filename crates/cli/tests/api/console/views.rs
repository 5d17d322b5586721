//! The views' data: one account per session, authorization as the
//! principal (and audited), the fleet, chain verification, regions.

use std::time::Duration;

use serde_json::{Value, json};
use strongroom_server::admin;
use strongroom_server::console::ConsoleSettings;
use strongroom_store::PrincipalKind;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_sees_only_its_own_accounts_keys_audit_and_usage() {
    let env = console_env(ConsoleSettings::default()).await;
    let other = other_account_client(&env, "222233334444").await;
    let theirs = new_key(&other).await;
    other
        .encrypt()
        .key_id(&theirs)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap();
    let mine = new_key(&env.client).await;
    let b = sign_in(&env.dev, &env.dev.access_key_id, &env.dev.secret_access_key).await;
    let list = b.kms("ListKeys", json!({})).await;
    let ids: Vec<&str> = list.body["Keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["KeyArn"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![mine.as_str()]);
    let peek = b.kms("DescribeKey", json!({"KeyId": theirs})).await;
    assert_eq!(error_type(&peek), "AccessDeniedException", "{}", peek.body);
    let tag = b
        .kms(
            "TagResource",
            json!({"KeyId": theirs, "Tags": [{"TagKey": "a", "TagValue": "b"}]}),
        )
        .await;
    assert_eq!(error_type(&tag), "AccessDeniedException");

    env.dev.server.flush_usage().await;
    assert_only_this_accounts_records(&b, &env.dev.account_id, &mine).await;
    for bad in ["limit=0", "since=yesterday", "outcome=maybe", "a=%zz"] {
        let a = b.get(&format!("/console/api/audit?{bad}")).await;
        assert_eq!(error_type(&a), "ValidationException", "{bad}");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_permission_is_denied_sees_no_data_and_is_audited() {
    let env = console_env(ConsoleSettings::default()).await;
    new_key(&env.client).await;
    let store = env.dev.store.as_ref();
    let p = admin::create_principal(
        store,
        &env.dev.account_id,
        PrincipalKind::User,
        "viewer",
        None,
        Vec::new(),
        None,
    )
    .await
    .unwrap();
    let k = admin::create_principal_access_key(store, &env.dev.hsm, &p.arn)
        .await
        .unwrap();
    let b = sign_in(&env.dev, &k.access_key_id, &k.secret_access_key).await;
    let list = b.kms("ListKeys", json!({})).await;
    assert_eq!(error_type(&list), "AccessDeniedException", "{}", list.body);
    assert!(list.body.get("Keys").is_none());
    for path in [
        "/console/api/audit",
        "/console/api/usage",
        "/console/api/fleet",
        "/console/api/audit/verify",
    ] {
        let a = b.get(path).await;
        assert_eq!(
            error_type(&a),
            "AccessDeniedException",
            "{path}: {}",
            a.body
        );
        assert!(a.body.get("records").is_none() && a.body.get("modules").is_none());
    }
    let events = env.dev.audit_events().unwrap();
    assert!(events.iter().any(|e| e["eventName"] == "ListKeys"
        && e["errorCode"] == "AccessDeniedException"
        && e["userIdentity"]["arn"] == p.arn.as_str()));
    assert!(
        events
            .iter()
            .any(|e| e["eventName"] == "ConsoleReadFleet"
                && e["errorCode"] == "AccessDeniedException")
    );

    // A policy that allows the reads lets the same user in at once.
    admin::put_identity_policy(
        store,
        &p.arn,
        Some(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:ListKeys","strongroom:ReadAudit"],"Resource":"*"}]}"#
                .into(),
        ),
    )
    .await
    .unwrap();
    tokio::time::sleep(strongroom_server::auth::IDENTITY_CACHE_TTL + Duration::from_millis(200))
        .await;
    assert_eq!(b.kms("ListKeys", json!({})).await.status, 200);
    assert_eq!(b.get("/console/api/audit").await.status, 200);
    assert_eq!(
        error_type(&b.get("/console/api/fleet").await),
        "AccessDeniedException"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_view_and_chain_verification_describe_the_modules_and_trail() {
    let env = console_env(ConsoleSettings::default()).await;
    new_key(&env.client).await;
    let b = sign_in(&env.dev, &env.dev.access_key_id, &env.dev.secret_access_key).await;
    let f = b.get("/console/api/fleet").await;
    assert_eq!(f.status, 200, "{}", f.body);
    let m = &f.body["modules"][0];
    assert_eq!(m["up"], true, "{m}");
    assert_eq!(m["healthy"], true, "{m}");
    assert_eq!(m["mode"], "use");
    assert_eq!(m["attestation"]["verified"], true, "{m}");
    // The in-process module keeps no log of its own; the answer says so.
    assert!(
        m["logs"]["logs"].is_array() || m["logs"]["problem"].is_string(),
        "{m}"
    );
    let d = &f.body["domains"][0];
    assert_eq!(d["members"].as_array().map(Vec::len), Some(1), "{d}");
    // The dev domain has no signed token: no operators or quorum rules.
    assert_eq!(d["signedToken"], false, "{d}");
    assert_eq!(d["members"][0]["moduleId"], m["moduleId"], "{d}");
    assert!(
        f.body["rewrap"]["total"].as_u64().unwrap() >= 2,
        "{}",
        f.body
    );
    assert_eq!(f.body["rewrap"]["behind"], 0);
    let v = b.get("/console/api/audit/verify").await;
    assert_eq!(v.status, 200, "{}", v.body);
    assert_eq!(v.body["intact"], true, "{}", v.body);
    let head = v.body["chains"][0]["head"].as_str().unwrap();
    assert_eq!(head.len(), 64);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_call_acts_in_the_region_it_names_if_served() {
    let env = console_env(ConsoleSettings::default()).await;
    let eu = aws_sdk_kms::Client::from_conf(
        config_for(&env.dev, &env.dev.access_key_id, &env.dev.secret_access_key)
            .region(aws_sdk_kms::config::Region::new("eu-west-1"))
            .build(),
    );
    let arn = new_key(&eu).await;
    assert!(arn.contains(":eu-west-1:"), "{arn}");
    let b = sign_in(&env.dev, &env.dev.access_key_id, &env.dev.secret_access_key).await;
    let list = |region: Option<&'static str>| {
        let rq = b
            .http
            .post(format!("{}/console/api/kms/ListKeys", b.base))
            .header("cookie", &b.cookie)
            .header("x-csrf-token", &b.csrf)
            .header("content-type", "application/json")
            .body("{}");
        let rq = match region {
            Some(r) => rq.header("x-strongroom-region", r),
            None => rq,
        };
        async move { answer(rq.send().await.unwrap()).await }
    };
    let home = list(None).await;
    assert_eq!(
        home.body["Keys"].as_array().unwrap().len(),
        0,
        "{}",
        home.body
    );
    let there = list(Some("eu-west-1")).await;
    assert_eq!(
        there.body["Keys"][0]["KeyArn"],
        arn.as_str(),
        "{}",
        there.body
    );
    for bad in ["EU-WEST-1", "nowhere!", ""] {
        let a = list(Some(bad)).await;
        assert_eq!(error_type(&a), "ValidationException", "{bad}: {}", a.body);
    }
    env.stop().await;
}

/// The audit view, its filters, usage and export show only `account`'s
/// records (`mine` is its key).
async fn assert_only_this_accounts_records(b: &Browser, account: &str, mine: &str) {
    let audit = b.get("/console/api/audit?limit=500").await;
    assert_eq!(audit.status, 200, "{}", audit.body);
    let records = audit.body["records"].as_array().unwrap();
    assert!(!records.is_empty());
    for r in records {
        assert_eq!(r["event"]["userIdentity"]["accountId"], account, "{r}");
    }
    // The other account's own calls are not shown (only this account's
    // records, such as its refused DescribeKey naming that key).
    assert!(!records.iter().any(|r| r["event"]["eventName"] == "Encrypt"));
    let filtered = b
        .get(&format!(
            "/console/api/audit?operation=CreateKey&outcome=success&key={}",
            mine.rsplit('/').next().unwrap()
        ))
        .await;
    let filtered = filtered.body["records"].as_array().unwrap().clone();
    assert_eq!(filtered.len(), 1, "{filtered:?}");
    assert_eq!(filtered[0]["event"]["eventName"], "CreateKey");
    let usage = b.get("/console/api/usage?hours=2").await;
    assert_eq!(usage.status, 200, "{}", usage.body);
    let rows = usage.body["rows"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["operation"] == "CreateKey"));
    assert!(
        !rows.iter().any(|r| r["operation"] == "Encrypt"),
        "{rows:?}"
    );
    let export = b.get("/console/api/audit/export?operation=CreateKey").await;
    assert_eq!(export.status, 200);
    assert_eq!(export.headers["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = export
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!lines.is_empty());
    for l in &lines {
        assert_eq!(l["event"]["eventName"], "CreateKey");
        assert_eq!(l["event"]["userIdentity"]["accountId"], account);
    }
}
