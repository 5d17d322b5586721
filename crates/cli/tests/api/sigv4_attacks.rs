//! Attacks on SigV4 from outside, with requests signed by AWS's own signer
//! (the aws-sigv4 crate, as aws-sdk-rust uses it) and then tampered with:
//! an unsigned X-Amz-Target changed into another operation, an unsigned
//! session token, Content-Type or proof header, a body swapped under valid
//! signed headers, and a captured request replayed with a header changed.
//! Each is refused with InvalidSignatureException and changes nothing.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sdk_kms::types::KeyState;
use aws_sigv4::http_request::{
    SessionTokenMode, SignableBody, SignableRequest, SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use strongroom_server::admin;
use strongroom_store::PrincipalKind;

use crate::common::*;

/// Who signs, and how.
struct Signer<'a> {
    access_key_id: &'a str,
    secret: &'a str,
    session_token: Option<&'a str>,
    /// Headers the request carries but the signature leaves out.
    unsigned: &'a [&'static str],
    /// Sign the session token (as every SDK does) or leave it out.
    token_mode: SessionTokenMode,
}

impl<'a> Signer<'a> {
    fn root(env: &'a TestEnv) -> Self {
        Self {
            access_key_id: &env.dev.access_key_id,
            secret: &env.dev.secret_access_key,
            session_token: None,
            unsigned: &[],
            token_mode: SessionTokenMode::Include,
        }
    }
}

/// A request as it goes on the wire: its headers (with Authorization)
/// and body.
#[derive(Clone)]
struct Wire {
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Wire {
    fn set(mut self, name: &'static str, value: &str) -> Self {
        self.headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).unwrap(),
        );
        self
    }
}

fn host(env: &TestEnv) -> String {
    let url = reqwest::Url::parse(&env.dev.endpoint()).unwrap();
    format!("{}:{}", url.host_str().unwrap(), url.port().unwrap())
}

/// Signs `TrentService.<op>` with `body` using aws-sigv4.
fn signed(env: &TestEnv, s: &Signer<'_>, op: &str, body: &str) -> Wire {
    let host = host(env);
    let target = format!("TrentService.{op}");
    let headers = [
        ("content-type", "application/x-amz-json-1.1"),
        ("host", host.as_str()),
        ("x-amz-target", target.as_str()),
    ];
    let mut settings = SigningSettings::default();
    let mut excluded = settings.excluded_headers.take().unwrap_or_default();
    excluded.extend(s.unsigned.iter().map(|h| (*h).into()));
    settings.excluded_headers = Some(excluded);
    settings.session_token_mode = s.token_mode;
    let identity = Credentials::new(
        s.access_key_id,
        s.secret,
        s.session_token.map(str::to_owned),
        None,
        "sigv4-attacks",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&env.dev.region)
        .name("kms")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let url = env.dev.endpoint();
    let request = SignableRequest::new(
        "POST",
        &url,
        headers.iter().copied(),
        SignableBody::Bytes(body.as_bytes()),
    )
    .unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    let mut wire = HeaderMap::new();
    for (k, v) in headers.iter().copied().chain(instructions.headers()) {
        wire.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    Wire {
        headers: wire,
        body: body.as_bytes().to_vec(),
    }
}

async fn send(env: &TestEnv, w: Wire) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(env.dev.endpoint())
        .headers(w.headers)
        .body(w.body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap();
    let json = if body.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&body).expect("the answer is JSON")
    };
    (status, json)
}

/// Sends `w` and checks it is refused as AWS would: 400,
/// InvalidSignatureException, naming `why`.
async fn refused(env: &TestEnv, w: Wire, why: &str) {
    let (status, json) = send(env, w).await;
    assert_eq!(json["__type"], "InvalidSignatureException", "{json}");
    assert_eq!(status, 400, "{json}");
    let msg = json["message"].as_str().unwrap();
    assert!(msg.contains(why), "{msg}");
}

async fn state(env: &TestEnv, key: &str) -> KeyState {
    env.client
        .describe_key()
        .key_id(key)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_state
        .unwrap()
}

async fn key_count(env: &TestEnv) -> usize {
    env.client.list_keys().send().await.unwrap().keys().len()
}

fn key_body(key: &str) -> String {
    serde_json::json!({ "KeyId": key }).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_x_amz_target_changed_to_disable_key_is_refused() {
    let env = TestEnv::start().await;
    let key = new_key(&env.client).await;
    let s = Signer {
        unsigned: &["x-amz-target"],
        ..Signer::root(&env)
    };
    let captured = signed(&env, &s, "DescribeKey", &key_body(&key));
    // The reported attack: the operation rewritten under a valid signature.
    let attack = captured
        .clone()
        .set("x-amz-target", "TrentService.DisableKey");
    refused(&env, attack, "not signed: x-amz-target").await;
    // Unchanged, the request is refused all the same: the header is unsigned.
    refused(&env, captured, "not signed: x-amz-target").await;
    assert_eq!(state(&env, &key).await, KeyState::Enabled);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_session_token_is_refused() {
    let env = TestEnv::start().await;
    let store = env.dev.store.as_ref();
    let me = env.dev.account_id.clone();
    let allow_all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;
    admin::create_principal(
        store,
        &me,
        PrincipalKind::Role,
        "app",
        Some(allow_all.to_string()),
        Vec::new(),
        None,
    )
    .await
    .unwrap();
    let t = admin::assume_role(
        store,
        &env.dev.hsm,
        &format!("arn:aws:iam::{me}:role/app"),
        "worker-1",
        900,
    )
    .await
    .unwrap();
    let session = Signer {
        access_key_id: &t.key.access_key_id,
        secret: &t.key.secret_access_key,
        session_token: Some(&t.session_token),
        ..Signer::root(&env)
    };
    let before = key_count(&env).await;
    let token_unsigned = Signer {
        token_mode: SessionTokenMode::Exclude,
        ..session
    };
    let w = signed(&env, &token_unsigned, "CreateKey", "{}");
    assert!(w.headers.contains_key("x-amz-security-token"));
    refused(&env, w, "not signed: x-amz-security-token").await;
    assert_eq!(
        key_count(&env).await,
        before,
        "a refused request made a key"
    );
    // The same credentials, token signed, work.
    let session = Signer {
        token_mode: SessionTokenMode::Include,
        ..token_unsigned
    };
    let (status, json) = send(&env, signed(&env, &session, "CreateKey", "{}")).await;
    assert_eq!(status, 200, "{json}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_content_type_is_refused() {
    let env = TestEnv::start().await;
    let before = key_count(&env).await;
    let s = Signer {
        unsigned: &["content-type"],
        ..Signer::root(&env)
    };
    refused(
        &env,
        signed(&env, &s, "CreateKey", "{}"),
        "not signed: content-type",
    )
    .await;
    assert_eq!(
        key_count(&env).await,
        before,
        "a refused request made a key"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_proof_header_added_to_a_signed_request_is_refused() {
    let env = TestEnv::start().await;
    let before = key_count(&env).await;
    let w = signed(&env, &Signer::root(&env), "CreateKey", "{}")
        .set("x-strongroom-auth-proof", "eyJ2IjoxfQ.AAAA");
    refused(&env, w, "not signed: x-strongroom-auth-proof").await;
    // Any other x-amz-* header added on the way too.
    let w = signed(&env, &Signer::root(&env), "CreateKey", "{}")
        .set("x-amz-content-sha256", "UNSIGNED-PAYLOAD");
    refused(&env, w, "not signed: x-amz-content-sha256").await;
    assert_eq!(
        key_count(&env).await,
        before,
        "a refused request made a key"
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_swapped_under_valid_signed_headers_is_refused() {
    let env = TestEnv::start().await;
    let mine = new_key(&env.client).await;
    let victim = new_key(&env.client).await;
    let mut w = signed(&env, &Signer::root(&env), "DisableKey", &key_body(&mine));
    w.body = key_body(&victim).into_bytes();
    refused(&env, w, "signature we calculated does not match").await;
    assert_eq!(state(&env, &victim).await, KeyState::Enabled);
    assert_eq!(state(&env, &mine).await, KeyState::Enabled);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn captured_request_replayed_with_a_changed_header_is_refused() {
    let env = TestEnv::start().await;
    let key = new_key(&env.client).await;
    let captured = signed(&env, &Signer::root(&env), "DescribeKey", &key_body(&key));
    let (status, json) = send(&env, captured.clone()).await;
    assert_eq!(status, 200, "the captured request is valid: {json}");
    for (name, value) in [
        ("x-amz-target", "TrentService.DisableKey"),
        ("x-amz-target", "TrentService.ScheduleKeyDeletion"),
        ("content-type", "application/x-amz-json-1.0"),
        ("host", "kms.other.example"),
    ] {
        refused(
            &env,
            captured.clone().set(name, value),
            "signature we calculated does not match",
        )
        .await;
    }
    assert_eq!(state(&env, &key).await, KeyState::Enabled);
    env.stop().await;
}
