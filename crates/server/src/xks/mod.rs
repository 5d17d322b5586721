//! The AWS KMS External Key Store (XKS) proxy API (docs/xks.md), served on
//! the normal listener under `/{uri-prefix}/kms/xks/v1/`. An external key
//! store is a principal of a Strongroom account; AWS KMS signs each request
//! with one of its credentials (SigV4, service `kms-xks-proxy`), and each
//! key operation is authorized as the KMS operation it stands for by the
//! key's policy and grants, and audited with the AWS-side request metadata.
//!
//! Order of checks: the path (InvalidUriPathException, before anything is
//! looked up but the prefix table); the method (405); the access key, from
//! the headers alone (no body read for an unknown one); the body, capped;
//! the signature, and that the signer is this prefix's key store; then the
//! JSON. Only a request that authenticated leaves an audit record; the
//! others are counted, as for the KMS API.

pub mod admin;
pub mod error;
mod handlers;
pub mod health;
pub mod keystores;
pub mod mtls;
pub mod path;
pub mod throttle;
pub mod wire;

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header, request::Parts};
use axum::response::Response;
use bytes::Bytes;
use zeroize::Zeroizing;

use crate::audit::{AuditEvent, AuditIdentity};
use crate::auth::Caller;
use crate::authz::{AuditFacts, RequestMeta};
use crate::http::{AppState, ConnInfo, intake};
use error::XksError;
use path::Endpoint;
use wire::RequestMetadata;

pub use path::is_xks_path;

/// What the XKS API needs besides the KMS API's state.
pub struct XksState {
    /// URI prefix → key store.
    pub key_stores: keystores::KeyStores,
    /// The module fleet's health.
    pub health: health::Health,
    /// Whether requests need a verified client certificate (mTLS).
    client_cert_required: bool,
    /// Each key store's request budget.
    throttle: throttle::KeyStoreThrottle,
}

impl XksState {
    /// XKS state over `store` and the modules `hsm` reaches.
    pub fn new(
        store: Arc<dyn strongroom_store::Store>,
        hsm: strongroom_hsm_proto::HsmClient,
    ) -> Self {
        Self {
            key_stores: keystores::KeyStores::new(store),
            health: health::Health::new(hsm),
            client_cert_required: false,
            throttle: throttle::KeyStoreThrottle::new(None),
        }
    }

    /// Limits each key store to `per_second` requests (`None`: unlimited).
    pub fn with_requests_per_second(mut self, per_second: Option<NonZeroU32>) -> Self {
        self.throttle = throttle::KeyStoreThrottle::new(per_second);
        self
    }

    /// Requires a verified client certificate on every XKS request.
    pub fn with_client_cert_required(mut self, required: bool) -> Self {
        self.client_cert_required = required;
        self
    }
}

/// One request, as far as it got.
struct Served {
    endpoint: Option<Endpoint>,
    prefix: Option<String>,
    caller: Option<Caller>,
    xks: Option<RequestMetadata>,
    facts: AuditFacts,
    result: Result<Vec<u8>, XksError>,
}

fn json<T: serde::Serialize>(v: &T) -> Result<Vec<u8>, XksError> {
    serde_json::to_vec(v).map_err(|e| XksError::Internal(format!("response encoding: {e}")))
}

/// The key store of a path, if it names one: the prefix must be known (in
/// the table, or as the key store of the request's access key).
async fn route(state: &AppState, parts: &Parts) -> Result<(String, Endpoint), XksError> {
    let (prefix, endpoint) =
        path::parse(parts.uri.path()).map_err(|e| XksError::InvalidUriPath(e.to_string()))?;
    if state.xks.key_stores.find(prefix).await?.is_some() {
        return Ok((prefix.to_owned(), endpoint));
    }
    let unknown = || XksError::InvalidUriPath("No external key store has this URI path.".into());
    let Some(id) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| crate::sigv4::parse_authorization(v).ok())
        .map(|a| a.access_key_id)
    else {
        return Err(unknown());
    };
    let source = parts.extensions.get::<ConnInfo>().map(|c| c.peer.ip());
    let key = state.auth.active_key_from(&id, source).await?;
    let Some(principal) = key.principal_arn.as_deref() else {
        return Err(unknown());
    };
    match state
        .xks
        .key_stores
        .find_by_principal(prefix, &key.account_id, principal)
        .await?
    {
        Some(_) => Ok((prefix.to_owned(), endpoint)),
        None => Err(unknown()),
    }
}

/// Authenticates the request as the key store of `prefix`.
async fn authenticate(
    state: &AppState,
    parts: &Parts,
    prefix: &str,
    body: &[u8],
) -> Result<Caller, XksError> {
    let now = time::OffsetDateTime::now_utc();
    let source = parts.extensions.get::<ConnInfo>().map(|c| c.peer.ip());
    let caller = state
        .auth
        .authenticate_xks(&parts.method, &parts.uri, &parts.headers, body, now, source)
        .await?;
    // A credential of another key store (even in the same account) signs
    // for that one only.
    let expected = state.xks.key_stores.find(prefix).await?;
    if expected.is_none_or(|k| k.arn != caller.identity.arn) {
        return Err(XksError::AuthenticationFailed(
            "The credential is not one of this external key store's.".into(),
        ));
    }
    Ok(caller)
}

/// Refusals from the headers alone: no credential, a body declared over
/// the cap, an unknown or inactive access key (looked up within the
/// source's budget).
async fn check_headers(state: &AppState, parts: &Parts) -> Result<(), XksError> {
    if intake::declared_length(parts).is_some_and(|n| n > wire::MAX_BODY as u64) {
        return Err(XksError::UnsupportedOperation(format!(
            "The request body exceeds {} bytes.",
            wire::MAX_BODY
        )));
    }
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| XksError::AuthenticationFailed("No SigV4 Authorization header.".into()))?;
    let parsed = crate::sigv4::parse_authorization(value)
        .map_err(|e| XksError::AuthenticationFailed(e.to_string()))?;
    let source = parts.extensions.get::<ConnInfo>().map(|c| c.peer.ip());
    state
        .auth
        .active_key_from(&parsed.access_key_id, source)
        .await?;
    Ok(())
}

async fn serve(state: &AppState, meta: RequestMeta, parts: &Parts, body: Body) -> Served {
    let mut s = Served {
        endpoint: None,
        prefix: None,
        caller: None,
        xks: None,
        facts: AuditFacts::default(),
        result: Err(XksError::Internal(String::new())),
    };
    let (prefix, endpoint) = match route(state, parts).await {
        Ok(r) => r,
        Err(e) => {
            s.result = Err(e);
            return s;
        }
    };
    s.endpoint = Some(endpoint.clone());
    s.prefix = Some(prefix.clone());
    if let Err(e) = check_request(state, parts).await {
        s.result = Err(e);
        return s;
    }
    let body = match intake::read_body_capped(parts, body, state.body_read_timeout, wire::MAX_BODY)
        .await
    {
        Ok(b) => b,
        Err(e) => {
            s.result = Err(e.into());
            return s;
        }
    };
    let caller = match authenticate(state, parts, &prefix, &body).await {
        Ok(c) => c,
        Err(e) => {
            s.result = Err(e);
            return s;
        }
    };
    s.caller = Some(caller.clone());
    if !state.xks.throttle.admit(&caller.identity.arn) {
        s.result = Err(XksError::Throttling(
            "This external key store is over its request rate; retry later.".into(),
        ));
        return s;
    }
    let result = strongroom_hsm_proto::routing::with_pins(answer(
        state, meta, &endpoint, &caller, &body, &mut s,
    ))
    .await;
    s.result = result;
    s
}

/// Refuses, before the body is read, what the spec refuses: methods other
/// than POST, a connection without the client certificate this proxy
/// requires, query strings, and headers [`check_headers`] refuses.
async fn check_request(state: &AppState, parts: &Parts) -> Result<(), XksError> {
    if parts.method != Method::POST {
        return Err(XksError::MethodNotAllowed);
    }
    let client_cert = parts
        .extensions
        .get::<ConnInfo>()
        .is_some_and(|c| c.client_cert);
    if state.xks.client_cert_required && !client_cert {
        return Err(XksError::AuthenticationFailed(
            "This proxy requires a TLS client certificate.".into(),
        ));
    }
    if parts.uri.query().is_some() {
        return Err(XksError::InvalidUriPath(
            "XKS proxy API paths take no query string.".into(),
        ));
    }
    check_headers(state, parts).await
}

/// The endpoint's answer to `body` from `caller`, noting the request's
/// XKS metadata and audit facts in `s`.
async fn answer(
    state: &AppState,
    meta: RequestMeta,
    endpoint: &Endpoint,
    caller: &Caller,
    body: &[u8],
    s: &mut Served,
) -> Result<Vec<u8>, XksError> {
    let p = &state.processor;
    match endpoint {
        Endpoint::Health => {
            let m = wire::parse_metadata_only(body, false)?;
            s.xks = Some(m);
            json(&state.xks.health.status().await?)
        }
        Endpoint::Metadata(id) => {
            let m = wire::parse_metadata_only(body, true)?;
            let out = p.xks_metadata(caller, meta, id, &m, &mut s.facts).await;
            s.xks = Some(m);
            json(&out?)
        }
        Endpoint::Encrypt(id) => {
            let input = wire::parse_encrypt(body)?;
            s.xks = Some(input.meta.clone());
            json(&p.xks_encrypt(caller, meta, id, input, &mut s.facts).await?)
        }
        Endpoint::Decrypt(id) => {
            let input = wire::parse_decrypt(body)?;
            s.xks = Some(input.meta.clone());
            let plaintext = p.xks_decrypt(caller, meta, id, input, &mut s.facts).await?;
            Ok(decrypt_answer(&plaintext))
        }
    }
}

/// `{"plaintext": "<base64>"}`, built in zeroizing buffers only.
fn decrypt_answer(plaintext: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let mut encoded = Zeroizing::new(String::new());
    base64::engine::general_purpose::STANDARD.encode_string(plaintext, &mut encoded);
    let mut out = Vec::with_capacity(encoded.len() + 16);
    out.extend_from_slice(b"{\"plaintext\":\"");
    out.extend_from_slice(encoded.as_bytes());
    out.extend_from_slice(b"\"}");
    out
}

/// The audit record of an authenticated XKS request: the key store as the
/// caller, the AWS-side request metadata under `additionalEventData.xks`.
fn audit_event(request_id: &str, meta: RequestMeta, parts: &Parts, s: &Served) -> AuditEvent {
    let caller = s.caller.as_ref().expect("only authenticated requests");
    let mut xks = serde_json::to_value(s.xks.clone().unwrap_or_default())
        .unwrap_or_else(|_| serde_json::json!({}));
    if let Some(o) = xks.as_object_mut() {
        o.insert("uriPrefix".into(), s.prefix.clone().into());
        if let Some(id) = s.endpoint.as_ref().and_then(Endpoint::external_key_id) {
            o.insert("externalKeyId".into(), id.into());
        }
    }
    AuditEvent {
        time_ms: (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64,
        request_id: request_id.to_owned(),
        operation: s
            .endpoint
            .as_ref()
            .map_or("-", Endpoint::audit_name)
            .to_owned(),
        identity: AuditIdentity {
            kind: caller.identity.kind.trail_name(),
            arn: Some(caller.identity.session_arn.clone()),
            account_id: Some(caller.account_id.clone()),
            access_key_id: Some(caller.access_key_id.clone()),
            invoked_by: None,
        },
        source_ip: meta.source_ip,
        user_agent: intake::sanitized_user_agent(parts.headers.get(header::USER_AGENT)),
        key_arns: s.facts.key_arns.clone(),
        context: Vec::new(),
        grant_id: None,
        error: s
            .result
            .as_ref()
            .err()
            .map(|e| (e.name().to_owned(), e.message())),
        event_source: Some("kms-xks-proxy"),
        additional: Some(serde_json::json!({ "xks": xks })),
        intent: false,
        service: false,
    }
}

/// Serves one XKS proxy API request (any method; the caller routed it here
/// by [`is_xks_path`]).
pub async fn handle(state: Arc<AppState>, req: Request) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = req.into_parts();
    let meta = parts
        .extensions
        .get::<ConnInfo>()
        .map(|c| RequestMeta {
            source_ip: Some(c.peer.ip()),
            secure: c.tls,
        })
        .unwrap_or_default();
    let mut s = serve(&state, meta, &parts, body).await;
    if s.caller.is_some() {
        // No answer leaves before its audit record is durable.
        let event = audit_event(&request_id, meta, &parts, &s);
        if let Err(e) = state.audit.record(event).await {
            s.result = Err(e.into());
        }
    } else {
        let code = s.result.as_ref().err().map_or("-", XksError::name);
        state
            .unauthenticated
            .note(code, intake::claimed_access_key(&parts), meta.source_ip);
    }
    let (status, body) = match s.result {
        Ok(out) => (StatusCode::OK, Zeroizing::new(out)),
        Err(e) => {
            if e.status().is_server_error() && e.status() != StatusCode::NOT_IMPLEMENTED {
                tracing::error!(%request_id, error = e.name(), message = %e.message(), "XKS request failed");
            } else {
                tracing::debug!(%request_id, error = e.name(), "XKS request refused");
            }
            (e.status(), Zeroizing::new(e.body()))
        }
    };
    let mut resp = Response::new(Body::from(Bytes::from_owner(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if status == StatusCode::METHOD_NOT_ALLOWED {
        h.insert(header::ALLOW, HeaderValue::from_static("POST"));
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}
