//! The web console's security (docs/console.md), with a plain HTTP client:
//! no access without a session, a CSRF token on every change, an HttpOnly
//! SameSite=Strict cookie, sessions that expire, one-time sign-in links,
//! one account per session, and the same authorization and audit trail as
//! the KMS API.

use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::{Value, json};
use strongroom_cli::dev::DevEnvironment;
use strongroom_server::console::ConsoleSettings;

use crate::common::*;

mod attacks;
mod sessions;
mod views;

/// A dev environment serving the console, with these session limits.
async fn console_env(settings: ConsoleSettings) -> TestEnv {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        o.admin_listen = Some("127.0.0.1:0".parse().unwrap());
        o.console = settings;
    })
    .await;
    let client = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    TestEnv { dev, client, dir }
}

/// A browser-like session: its cookie and CSRF token.
struct Browser {
    base: String,
    http: reqwest::Client,
    cookie: String,
    csrf: String,
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
    text: String,
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text.clone()));
    Answer {
        status,
        headers,
        body,
        text,
    }
}

fn admin(dev: &DevEnvironment) -> String {
    dev.admin_endpoint().expect("admin listener")
}

async fn post_json(base: &str, path: &str, body: Value) -> Answer {
    let r = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    answer(r).await
}

fn session_from(base: &str, a: &Answer) -> Browser {
    assert_eq!(a.status, 200, "{}", a.body);
    let set = a.headers.get(SET_COOKIE).unwrap().to_str().unwrap();
    let cookie = set.split(';').next().unwrap().to_owned();
    Browser {
        base: base.to_owned(),
        http: reqwest::Client::new(),
        cookie,
        csrf: a.body["csrfToken"].as_str().unwrap().to_owned(),
    }
}

async fn sign_in(dev: &DevEnvironment, id: &str, secret: &str) -> Browser {
    let base = admin(dev);
    let a = post_json(
        &base,
        "/console/api/session",
        json!({"accessKeyId": id, "secretAccessKey": secret}),
    )
    .await;
    session_from(&base, &a)
}

fn token_of(link: &str) -> String {
    link.split_once("?login=").unwrap().1.to_owned()
}

impl Browser {
    async fn kms_with(&self, op: &str, body: Value, csrf: Option<&str>) -> Answer {
        let mut rq = self
            .http
            .post(format!("{}/console/api/kms/{op}", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(t) = csrf {
            rq = rq.header("x-csrf-token", t);
        }
        answer(rq.send().await.unwrap()).await
    }

    async fn kms(&self, op: &str, body: Value) -> Answer {
        self.kms_with(op, body, Some(&self.csrf.clone())).await
    }

    async fn get(&self, path: &str) -> Answer {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf)
            .send()
            .await
            .unwrap();
        answer(r).await
    }
}

fn error_type(a: &Answer) -> &str {
    a.body["__type"].as_str().unwrap_or("<none>")
}

impl Answer {
    fn to_string_lossy(&self) -> String {
        format!("{:?} {}", self.headers, self.body)
    }
}
