//! Hostile review of the console and the admin listener: attacks that
//! once worked, each kept as a test.

use std::time::{Duration, Instant};

use serde_json::json;
use strongroom_server::console::ConsoleSettings;

use super::*;

/// The admin listener's connection cap (`admin_http::listener`).
const ADMIN_CONNECTIONS: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_cannot_hold_the_admin_listener_shut() {
    let env = console_env(ConsoleSettings::default()).await;
    let base = admin(&env.dev);
    let addr = base.trim_start_matches("http://").to_owned();
    // Every slot taken by a socket that never sends a byte.
    let mut silent = Vec::new();
    for _ in 0..ADMIN_CONNECTIONS {
        silent.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let started = Instant::now();
    let mut answered = None;
    while started.elapsed() < Duration::from_secs(25) {
        if let Ok(r) = http.get(format!("{base}/healthz")).send().await {
            answered = Some(r.status().as_u16());
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The silent sockets are still open on this side: the listener must
    // have given up on them (after its 10 s header timeout).
    assert_eq!(silent.len(), ADMIN_CONNECTIONS);
    assert_eq!(
        answered,
        Some(200),
        "/healthz unreachable for {:?} while silent sockets held every slot",
        started.elapsed()
    );
    drop(silent);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_secrets_cannot_outrun_the_failure_budget() {
    let env = console_env(ConsoleSettings::default()).await;
    let base = admin(&env.dev);
    let guesses = 30; // under the listener's connection cap
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..guesses {
        let (base, id) = (base.clone(), env.dev.access_key_id.clone());
        tasks.spawn(async move {
            let body = json!({"accessKeyId": id, "secretAccessKey": format!("guess-{i}")});
            post_json(&base, "/console/api/session", body).await
        });
    }
    let mut checked = 0;
    while let Some(a) = tasks.join_next().await {
        let a = a.unwrap();
        match error_type(&a) {
            "UnrecognizedClientException" => checked += 1,
            "ThrottlingException" => {}
            other => panic!("unexpected answer {other}: {}", a.body),
        }
    }
    // One source gets 10 secret checks a minute, however it sends them.
    assert!(checked <= 10, "{checked} secrets were checked");
    env.stop().await;
}

/// The distinct `operation="…"` label values `/metrics` reports.
async fn operation_labels(base: &str) -> std::collections::BTreeSet<String> {
    let text = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter_map(|l| l.split_once("operation=\""))
        .filter_map(|(_, rest)| rest.split_once('"'))
        .map(|(v, _)| v.to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_console_calls_add_no_metric_labels_and_never_fail_inside() {
    let env = console_env(ConsoleSettings::default()).await;
    let b = sign_in(&env.dev, &env.dev.access_key_id, &env.dev.secret_access_key).await;
    let before = operation_labels(&b.base).await;
    assert!(before.contains("other"), "{before:?}");
    for i in 0..40 {
        let a = b.kms(&format!("EvilOperation{i}"), json!({})).await;
        assert_eq!(error_type(&a), "UnknownOperationException", "{}", a.body);
    }
    for op in ["a%2Fb", "%00", &"A".repeat(65), "Create%20Key"] {
        let a = b.kms(op, json!({})).await;
        assert!(a.status < 500, "{op}: {} {}", a.status, a.body);
    }
    let after = operation_labels(&b.base).await;
    assert!(
        after.iter().all(|l| !l.starts_with("Evil")),
        "a client's operation name became a label: {after:?}"
    );
    assert_eq!(after, before);
    // Oversized, broken and non-JSON bodies: AWS-shaped 4xx answers.
    let huge = format!(r#"{{"Description":"{}"}}"#, "x".repeat(2 << 20));
    let cases = [
        ("application/json", huge.into_bytes(), "ValidationException"),
        (
            "application/json",
            b"{\"Description\":".to_vec(),
            "SerializationException",
        ),
        (
            "application/json",
            vec![0xff, 0xfe, 0x00],
            "SerializationException",
        ),
        ("text/plain", b"{}".to_vec(), "SerializationException"),
    ];
    let mut answered = 0;
    for (ctype, body, want) in cases {
        let r = b
            .http
            .post(format!("{}/console/api/kms/CreateKey", b.base))
            .header("cookie", &b.cookie)
            .header("x-csrf-token", &b.csrf)
            .header("content-type", ctype)
            .body(body)
            .send()
            .await;
        // An oversized body may be refused before it is all sent.
        let Ok(r) = r else { continue };
        let a = answer(r).await;
        assert_eq!(error_type(&a), want, "{ctype}: {} {}", a.status, a.body);
        assert!((400..500).contains(&a.status), "{}", a.status);
        answered += 1;
    }
    assert!(answered >= 3, "{answered}");
    let keys = b.kms("ListKeys", json!({})).await;
    assert_eq!(keys.status, 200, "{}", keys.body);
    assert_eq!(
        keys.body["Keys"].as_array().unwrap().len(),
        0,
        "{}",
        keys.body
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_audit_exports_wait_their_turn_and_all_answer() {
    let env = console_env(ConsoleSettings::default()).await;
    let b = std::sync::Arc::new(
        sign_in(&env.dev, &env.dev.access_key_id, &env.dev.secret_access_key).await,
    );
    for _ in 0..5 {
        assert_eq!(b.kms("CreateKey", json!({})).await.status, 200);
    }
    // Read views run two at a time (a bound on memory); the rest queue.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let b = b.clone();
        let path = match i % 3 {
            0 => "/console/api/audit/export",
            1 => "/console/api/audit?limit=500",
            _ => "/console/api/usage",
        };
        tasks.spawn(async move { (path, b.get(path).await) });
    }
    while let Some(r) = tasks.join_next().await {
        let (path, a) = r.unwrap();
        assert_eq!(a.status, 200, "{path}: {}", a.text);
        if path.ends_with("export") {
            assert!(a.text.lines().count() >= 5, "{}", a.text);
        }
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_root_cannot_see_the_fleet_or_its_key_counts() {
    let env = console_env(ConsoleSettings::default()).await;
    new_key(&env.client).await;
    let store = env.dev.store.as_ref();
    let tenant = strongroom_server::admin::create_account(store, Some("222233334444".into()))
        .await
        .unwrap();
    let k = strongroom_server::admin::create_access_key(store, &env.dev.hsm, &tenant.id, None)
        .await
        .unwrap();
    let b = sign_in(&env.dev, &k.access_key_id, &k.secret_access_key).await;
    // Every account's keys are counted in the fleet's rewrap progress, and
    // its modules, domains and operators are the operator's business.
    let f = b.get("/console/api/fleet").await;
    assert_eq!(error_type(&f), "AccessDeniedException", "{}", f.text);
    assert!(
        !f.text.contains("rewrap") && !f.text.contains("moduleId"),
        "{}",
        f.text
    );
    // The dev environment's own account still sees it.
    let root = sign_in(&env.dev, &env.dev.access_key_id, &env.dev.secret_access_key).await;
    assert_eq!(root.get("/console/api/fleet").await.status, 200);
    env.stop().await;
}
