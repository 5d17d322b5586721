//! Sessions: no access without one, sign-in (keys and links), the cookie,
//! CSRF, expiry, sign-out, malformed sign-ins and throttling.

use std::time::Duration;

use reqwest::header::SET_COOKIE;
use serde_json::{Value, json};
use strongroom_server::console::ConsoleSettings;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_served_without_a_session_and_the_page_forbids_inline_scripts() {
    let env = console_env(ConsoleSettings::default()).await;
    let base = admin(&env.dev);
    let http = reqwest::Client::new();
    let page = http.get(format!("{base}/console/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["referrer-policy"], "no-referrer");
    let html = page.text().await.unwrap();
    assert!(!html.contains("<script>"), "an inline script: {html}");

    for path in [
        "/console/api/session",
        "/console/api/audit",
        "/console/api/usage",
        "/console/api/fleet",
        "/console/api/audit/export",
    ] {
        let a = answer(http.get(format!("{base}{path}")).send().await.unwrap()).await;
        assert_eq!(a.status, 403, "{path}: {}", a.body);
        assert_eq!(error_type(&a), "MissingAuthenticationTokenException");
    }
    let forged = Browser {
        base: base.clone(),
        http: http.clone(),
        cookie: "strongroom-console=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        csrf: "x".into(),
    };
    let a = forged.kms("CreateKey", json!({})).await;
    assert_eq!(error_type(&a), "MissingAuthenticationTokenException");
    let keys = env.client.list_keys().send().await.unwrap();
    assert!(keys.keys().is_empty(), "a key was made without a session");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_checks_the_secret_and_sets_an_http_only_strict_cookie() {
    let env = console_env(ConsoleSettings::default()).await;
    let base = admin(&env.dev);
    let wrong = post_json(
        &base,
        "/console/api/session",
        json!({"accessKeyId": env.dev.access_key_id, "secretAccessKey": "not-the-secret"}),
    )
    .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(error_type(&wrong), "UnrecognizedClientException");
    assert!(wrong.headers.get(SET_COOKIE).is_none());

    let unknown = post_json(
        &base,
        "/console/api/session",
        json!({"accessKeyId": "AKIANOSUCHKEY", "secretAccessKey": "x"}),
    )
    .await;
    assert_eq!(error_type(&unknown), "UnrecognizedClientException");

    let ok = post_json(
        &base,
        "/console/api/session",
        json!({"accessKeyId": env.dev.access_key_id, "secretAccessKey": *env.dev.secret_access_key}),
    )
    .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let set = ok.headers[SET_COOKIE].to_str().unwrap();
    assert!(set.starts_with("strongroom-console="), "{set}");
    assert!(set.contains("; HttpOnly"), "{set}");
    assert!(set.contains("; SameSite=Strict"), "{set}");
    assert!(set.contains("; Path=/console"), "{set}");
    let id = set.split(';').next().unwrap().split_once('=').unwrap().1;
    assert_eq!(id.len(), 43, "a 256-bit id: {id}");
    assert_eq!(ok.body["accountId"], env.dev.account_id.as_str());
    assert!(!ok.to_string_lossy().contains(&*env.dev.secret_access_key));
    assert_eq!(ok.headers["cache-control"], "no-store");

    // A cross-site page cannot sign a browser in.
    let r = reqwest::Client::new()
        .post(format!("{base}/console/api/session"))
        .header("content-type", "application/json")
        .header("origin", "http://evil.example")
        .body(json!({"accessKeyId": env.dev.access_key_id, "secretAccessKey": *env.dev.secret_access_key}).to_string())
        .send()
        .await
        .unwrap();
    let a = answer(r).await;
    assert_eq!(error_type(&a), "AccessDeniedException");
    assert!(a.headers.get(SET_COOKIE).is_none());
    // Nor a form post (not JSON).
    let r = reqwest::Client::new()
        .post(format!("{base}/console/api/session"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("accessKeyId=a&secretAccessKey=b")
        .send()
        .await
        .unwrap();
    assert_eq!(error_type(&answer(r).await), "SerializationException");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_needs_the_sessions_csrf_token_and_is_audited_as_the_principal() {
    let env = console_env(ConsoleSettings::default()).await;
    let b = sign_in(&env.dev, &env.dev.access_key_id, &env.dev.secret_access_key).await;
    for csrf in [None, Some("wrong"), Some("")] {
        let a = b
            .kms_with("CreateKey", json!({"Description": "csrf"}), csrf)
            .await;
        assert_eq!(a.status, 400, "{csrf:?}: {}", a.body);
        assert_eq!(error_type(&a), "AccessDeniedException");
        assert!(a.body["message"].as_str().unwrap().contains("CSRF"));
    }
    // Another session's token does not do either.
    let other = sign_in(&env.dev, &env.dev.access_key_id, &env.dev.secret_access_key).await;
    let a = b.kms_with("CreateKey", json!({}), Some(&other.csrf)).await;
    assert_eq!(error_type(&a), "AccessDeniedException");
    assert!(
        env.client
            .list_keys()
            .send()
            .await
            .unwrap()
            .keys()
            .is_empty()
    );
    let r = b
        .http
        .delete(format!("{}/console/api/session", b.base))
        .header("cookie", &b.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(error_type(&answer(r).await), "AccessDeniedException");

    let made = b
        .kms("CreateKey", json!({"Description": "from the console"}))
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let arn = made.body["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    let seen = env.client.describe_key().key_id(&arn).send().await.unwrap();
    assert_eq!(
        seen.key_metadata.unwrap().description.as_deref(),
        Some("from the console")
    );
    let bad = b
        .kms(
            "DisableKey",
            json!({"KeyId": "0b0e7d2e-63c4-4a55-9d33-6f5a3b2c1d00"}),
        )
        .await;
    assert_eq!(error_type(&bad), "NotFoundException");
    let garbled = b.kms_with("TagResource", json!([1]), Some(&b.csrf)).await;
    assert_eq!(error_type(&garbled), "SerializationException");
    let unknown = b.kms("Frobnicate", json!({})).await;
    assert_eq!(error_type(&unknown), "UnknownOperationException");

    assert_audited_as_the_principal(&env.dev, &arn);
    env.stop().await;
}

/// The console's CreateKey of `arn` has its intent and outcome records,
/// as the root's access key, with the console's user agent; sign-in and a
/// refused call are recorded too.
fn assert_audited_as_the_principal(dev: &DevEnvironment, arn: &str) {
    let events = dev.audit_events().unwrap();
    let create: Vec<_> = events
        .iter()
        .filter(|e| e["eventName"] == "CreateKey" && e["errorCode"].is_null())
        .collect();
    let (intent, outcome): (Vec<&&Value>, Vec<&&Value>) = create
        .iter()
        .partition(|e| e["additionalEventData"]["phase"] == "intent");
    assert_eq!((intent.len(), outcome.len()), (1, 1), "{create:?}");
    for e in &create {
        assert_eq!(e["userIdentity"]["accessKeyId"], dev.access_key_id.as_str());
        assert!(
            e["userAgent"]
                .as_str()
                .unwrap()
                .starts_with("strongroom-console"),
            "{e}"
        );
    }
    assert_eq!(outcome[0]["resources"][0]["ARN"], arn);
    assert!(events.iter().any(|e| e["eventName"] == "ConsoleSignIn"));
    assert!(
        events
            .iter()
            .any(|e| e["eventName"] == "DisableKey" && e["errorCode"] == "NotFoundException")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_expire_and_sign_in_links_work_once_within_their_time() {
    let env = console_env(ConsoleSettings {
        idle: Duration::from_millis(1500),
        lifetime: Duration::from_secs(60),
        login_ttl: Duration::from_millis(1500),
    })
    .await;
    let base = admin(&env.dev);
    let link = env.dev.console_login_link().unwrap();
    assert!(
        link.starts_with(&format!("{base}/console/?login=")),
        "{link}"
    );
    let token = token_of(&link);
    let first = post_json(&base, "/console/api/session/link", json!({"token": token})).await;
    let b = session_from(&base, &first);
    assert_eq!(b.kms("ListKeys", json!({})).await.status, 200);
    // Replayed: refused.
    let again = post_json(&base, "/console/api/session/link", json!({"token": token})).await;
    assert_eq!(again.status, 400);
    assert_eq!(error_type(&again), "UnrecognizedClientException");
    assert!(again.headers.get(SET_COOKIE).is_none());
    // Forged: refused.
    let forged = post_json(
        &base,
        "/console/api/session/link",
        json!({"token": "A".repeat(43)}),
    )
    .await;
    assert_eq!(error_type(&forged), "UnrecognizedClientException");
    // Expired: refused.
    let late = token_of(&env.dev.console_login_link().unwrap());
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let expired = post_json(&base, "/console/api/session/link", json!({"token": late})).await;
    assert_eq!(error_type(&expired), "ExpiredTokenException");
    // The idle session is over too.
    let a = b.kms("ListKeys", json!({})).await;
    assert_eq!(a.status, 403);
    assert_eq!(error_type(&a), "MissingAuthenticationTokenException");
    // Signing out ends a session at once.
    let fresh = sign_in(&env.dev, &env.dev.access_key_id, &env.dev.secret_access_key).await;
    let r = fresh
        .http
        .delete(format!("{}/console/api/session", fresh.base))
        .header("cookie", &fresh.cookie)
        .header("x-csrf-token", &fresh.csrf)
        .send()
        .await
        .unwrap();
    let out = answer(r).await;
    assert_eq!(out.status, 200, "{}", out.body);
    assert!(
        out.headers[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(fresh.kms("ListKeys", json!({})).await.status, 403);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_the_cookie_is_host_prefixed_and_secure() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        o.tls = true;
        o.admin_listen = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let base = admin(&dev);
    assert!(base.starts_with("https://localhost:"), "{base}");
    let pem = std::fs::read(dev.ca_bundle.as_ref().unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&pem).unwrap())
        .build()
        .unwrap();
    let link = dev.console_login_link().unwrap();
    assert!(
        link.starts_with(&format!("{base}/console/?login=")),
        "{link}"
    );
    let r = http
        .post(format!("{base}/console/api/session/link"))
        .header("content-type", "application/json")
        .body(json!({"token": token_of(&link)}).to_string())
        .send()
        .await
        .unwrap();
    let a = answer(r).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let set = a.headers[SET_COOKIE].to_str().unwrap();
    assert!(set.starts_with("__Host-strongroom-console="), "{set}");
    for part in ["; HttpOnly", "; SameSite=Strict", "; Secure", "; Path=/;"] {
        assert!(set.contains(part), "{part} missing: {set}");
    }
    // The plain-HTTP cookie name is not honoured here.
    let id = set.split(';').next().unwrap().split_once('=').unwrap().1;
    let r = http
        .get(format!("{base}/console/api/session"))
        .header("cookie", format!("strongroom-console={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .get(format!("{base}/console/api/session"))
        .header("cookie", format!("__Host-strongroom-console={id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // A browser's same-origin sign-in over HTTP/2 (no Host header, the
    // origin is in :authority) is accepted; another origin is not.
    for (origin, want) in [
        (base.clone(), 200),
        ("https://evil.example".to_owned(), 400),
    ] {
        let r = http
            .post(format!("{base}/console/api/session"))
            .header("content-type", "application/json")
            .header("origin", &origin)
            .body(json!({"accessKeyId": dev.access_key_id, "secretAccessKey": *dev.secret_access_key}).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.version(), reqwest::Version::HTTP_2);
        assert_eq!(r.status().as_u16(), want, "{origin}");
    }
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_sign_ins_and_cookies_are_refused() {
    let env = console_env(ConsoleSettings::default()).await;
    let base = admin(&env.dev);
    for (body, want) in [
        ("{}".to_owned(), "SerializationException"),
        ("[1,2]".to_owned(), "SerializationException"),
        (
            r#"{"accessKeyId":"a"}"#.to_owned(),
            "SerializationException",
        ),
        (
            r#"{"accessKeyId":"a","secretAccessKey":"b","extra":1}"#.to_owned(),
            "SerializationException",
        ),
        (
            format!(
                r#"{{"accessKeyId":"a","secretAccessKey":"{}"}}"#,
                "x".repeat(8000)
            ),
            "ValidationException",
        ),
        (r#"{"token":"#.to_owned(), "SerializationException"),
    ] {
        let r = reqwest::Client::new()
            .post(format!("{base}/console/api/session"))
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let a = answer(r).await;
        assert_eq!(
            error_type(&a),
            want,
            "{}: {}",
            &body[..body.len().min(60)],
            a.body
        );
        assert!(a.headers.get(SET_COOKIE).is_none());
    }
    // A cookie header of odd shapes is no session.
    for cookie in [
        "strongroom-console",
        "=;=;",
        "strongroom-console=; x=y",
        "a=b; strongroom-console=%00",
    ] {
        let r = reqwest::Client::new()
            .get(format!("{base}/console/api/session"))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{cookie}");
    }
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_wrong_secrets_in_a_minute_throttle_the_source() {
    let env = console_env(ConsoleSettings::default()).await;
    let base = admin(&env.dev);
    // Throttled even with the right secret, until the minute is over.
    for _ in 0..10 {
        let a = post_json(
            &base,
            "/console/api/session",
            json!({"accessKeyId": env.dev.access_key_id, "secretAccessKey": "guess"}),
        )
        .await;
        assert_eq!(error_type(&a), "UnrecognizedClientException");
    }
    let a = post_json(
        &base,
        "/console/api/session",
        json!({"accessKeyId": env.dev.access_key_id, "secretAccessKey": *env.dev.secret_access_key}),
    )
    .await;
    assert_eq!(error_type(&a), "ThrottlingException", "{}", a.body);
    assert!(a.headers.get(SET_COOKIE).is_none());
    env.stop().await;
}
