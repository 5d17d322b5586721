//! Signing in (an access key id and its secret, or a one-time link),
//! the current session, and signing out.
//!
//! Sign-in calls carry no session yet, so no CSRF token: they must send
//! JSON (which a cross-site form cannot, and a cross-site script can only
//! after a preflight this listener never grants), and a browser's
//! `Origin`, when sent, must be this listener's own.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header, request::Parts};
use axum::response::Response;
use serde::Deserialize;
use zeroize::Zeroizing;

use super::{ConsoleState, Session, error_response, json_response, meta_of};
use crate::auth::Caller;
use crate::error::KmsError;

/// Largest sign-in body read.
const MAX_SIGNIN_BYTES: usize = 4096;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct KeyLogin {
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkLogin {
    token: String,
}

/// What the browser learns about its session.
fn session_json(state: &ConsoleState, session: &Session, caller: &Caller) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "accountId": caller.account_id,
        "principal": caller.identity.session_arn,
        "principalType": caller.identity.kind.trail_name(),
        "accessKeyId": caller.access_key_id,
        "region": caller.region.as_str(),
        "csrfToken": session.csrf,
        "idleSeconds": state.sessions.settings().idle.as_secs(),
    }))
    .unwrap_or_default()
}

/// Refuses a cross-site or non-JSON sign-in before anything is read.
fn same_origin_json(parts: &Parts, tls: bool) -> Result<(), KmsError> {
    let json = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(KmsError::Serialization(
            "Content-Type must be application/json.".into(),
        ));
    }
    if let Some(origin) = parts.headers.get(header::ORIGIN) {
        // HTTP/1 names the host in `Host`, HTTP/2 in `:authority`.
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .unwrap_or("");
        let scheme = if tls { "https" } else { "http" };
        if origin.as_bytes() != format!("{scheme}://{host}").as_bytes() {
            return Err(KmsError::AccessDenied(
                "Cross-origin console calls are refused.".into(),
            ));
        }
    }
    Ok(())
}

async fn read_json<T: serde::de::DeserializeOwned>(
    state: &ConsoleState,
    parts: &Parts,
    body: Body,
) -> Result<T, KmsError> {
    super::check_transport(state, parts)?;
    same_origin_json(parts, state.tls)?;
    let bytes = crate::http::intake::read_body_capped(
        parts,
        body,
        state.app.body_read_timeout,
        MAX_SIGNIN_BYTES,
    )
    .await
    .map_err(KmsError::from)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| KmsError::Serialization(format!("Could not parse the request body: {e}")))
}

/// The session cookie for `id` (`None`: one that clears it).
fn cookie(state: &ConsoleState, id: Option<&str>) -> HeaderValue {
    let max_age = match id {
        Some(_) => state.sessions.settings().lifetime.as_secs(),
        None => 0,
    };
    let value = id.unwrap_or("");
    let text = if state.tls {
        format!(
            "{}={value}; HttpOnly; SameSite=Strict; Secure; Path=/; Max-Age={max_age}",
            super::COOKIE_TLS
        )
    } else {
        format!(
            "{}={value}; HttpOnly; SameSite=Strict; Path=/console; Max-Age={max_age}",
            super::COOKIE
        )
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Opens a session for `caller`, audits the sign-in, answers with the cookie.
async fn open(
    state: &ConsoleState,
    parts: &Parts,
    caller: Caller,
    how: &str,
    started: Instant,
) -> Response<Body> {
    let mut event = super::event_for(&caller, meta_of(parts), parts, "ConsoleSignIn");
    event.additional = Some(serde_json::json!({ "method": how }));
    let (id, session) = match state.sessions.create(&caller.access_key_id) {
        Ok(s) => s,
        Err(e) => return error_response(&e),
    };
    let body = session_json(state, &session, &caller);
    let mut r = super::finish(state, event, Ok(body), started).await;
    if r.status() == StatusCode::OK {
        r.headers_mut()
            .insert(header::SET_COOKIE, cookie(state, Some(&id)));
    } else {
        state.sessions.end(&id);
    }
    r
}

/// Counts a failed sign-in (no caller: no audit record, as for a request
/// that never authenticated) and answers with its error.
fn refuse(
    state: &ConsoleState,
    parts: &Parts,
    claimed: Option<&str>,
    e: KmsError,
) -> Response<Body> {
    let source = meta_of(parts).source_ip;
    state.sessions.budget.note_failure(source);
    let claimed = claimed
        .filter(|id| id.len() <= 32 && id.bytes().all(|b| b.is_ascii_alphanumeric()))
        .map(str::to_owned);
    state
        .app
        .unauthenticated
        .note(e.type_name(), claimed, source);
    error_response(&e)
}

/// `POST /console/api/session`: sign in with an access key id and secret.
pub async fn with_keys(State(state): State<Arc<ConsoleState>>, req: Request) -> Response<Body> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let source = meta_of(&parts).source_ip;
    // Held until the answer: a sign-in being checked counts against the
    // source's budget.
    let _attempt = match state.sessions.budget.attempt(source) {
        Ok(a) => a,
        Err(e) => return error_response(&e),
    };
    let login: KeyLogin = match read_json(&state, &parts, body).await {
        Ok(l) => l,
        Err(e) => return error_response(&e),
    };
    let id = login.access_key_id.as_str();
    match check_secret(&state, id, &login.secret_access_key, source).await {
        Ok(caller) => open(&state, &parts, caller, "access key", started).await,
        Err(e) => refuse(&state, &parts, Some(id), e),
    }
}

/// The caller an access key and its secret stand for.
async fn check_secret(
    state: &ConsoleState,
    id: &str,
    secret: &str,
    source: Option<std::net::IpAddr>,
) -> Result<Caller, KmsError> {
    let key = state.app.auth.active_key_from(id, source).await?;
    if key.expires_at.is_some() {
        return Err(KmsError::UnrecognizedClient);
    }
    let matches = crate::admin::secret_matches(&state.hsm, &key, secret)
        .await
        .map_err(|e| KmsError::Internal(e.to_string()))?;
    if !matches {
        return Err(KmsError::UnrecognizedClient);
    }
    state.app.auth.caller_for(&key).await
}

/// `POST /console/api/session/link`: sign in with a one-time link's token.
pub async fn with_link(State(state): State<Arc<ConsoleState>>, req: Request) -> Response<Body> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let _attempt = match state.sessions.budget.attempt(meta_of(&parts).source_ip) {
        Ok(a) => a,
        Err(e) => return error_response(&e),
    };
    let login: LinkLogin = match read_json(&state, &parts, body).await {
        Ok(l) => l,
        Err(e) => return error_response(&e),
    };
    let caller = match state.sessions.redeem(&login.token) {
        Ok(id) => match state.app.auth.active_key(&id).await {
            Ok(key) => state.app.auth.caller_for(&key).await,
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match caller {
        Ok(caller) => open(&state, &parts, caller, "sign-in link", started).await,
        Err(e) => refuse(&state, &parts, None, e),
    }
}

/// `GET /console/api/session`: the current session (its CSRF token
/// included: a page reload has lost it), or 403.
pub async fn current(State(state): State<Arc<ConsoleState>>, parts: Parts) -> Response<Body> {
    if let Err(e) = super::check_transport(&state, &parts) {
        return error_response(&e);
    }
    let Some(id) = super::session_cookie(&parts.headers, state.tls) else {
        return error_response(&super::sessions::no_session());
    };
    let session = match state.sessions.touch(id) {
        Ok(s) => s,
        Err(e) => return error_response(&e),
    };
    let caller = match state.app.auth.active_key(&session.access_key_id).await {
        Ok(key) => state.app.auth.caller_for(&key).await,
        Err(e) => Err(e),
    };
    match caller {
        Ok(caller) => json_response(StatusCode::OK, session_json(&state, &session, &caller)),
        Err(_) => {
            state.sessions.end(id);
            error_response(&super::sessions::no_session())
        }
    }
}

/// `DELETE /console/api/session`: signs out (CSRF token required).
pub async fn sign_out(State(state): State<Arc<ConsoleState>>, parts: Parts) -> Response<Body> {
    let started = Instant::now();
    let signed = match super::signed_in(&state, &parts).await {
        Ok(s) => s,
        Err(e) => return error_response(&e),
    };
    if let Some(id) = super::session_cookie(&parts.headers, state.tls) {
        state.sessions.end(id);
    }
    let event = super::event_for(&signed.caller, signed.meta, &parts, "ConsoleSignOut");
    let mut r = super::finish(&state, event, Ok(b"{}".to_vec()), started).await;
    r.headers_mut()
        .insert(header::SET_COOKIE, cookie(&state, None));
    r
}
