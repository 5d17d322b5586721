//! The HTTP edge: one handler for `POST /`, dispatching on `X-Amz-Target`,
//! taking the body as bytes (axum's `Json` refuses `x-amz-json-1.1`).

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;

use crate::audit::{AuditEvent, AuditIdentity, AuditLog};
use crate::auth::{Authenticator, Caller};
use crate::authz::{AuditFacts, RequestMeta};
use crate::error::KmsError;
use crate::processor::Processor;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1 << 20;
const JSON_11: &str = "application/x-amz-json-1.1";
const TARGET_PREFIX: &str = "TrentService.";

/// What every request handler shares.
pub struct AppState {
    /// The request processor.
    pub processor: Arc<Processor>,
    /// SigV4 verification.
    pub auth: Authenticator,
    /// The audit trail every request is recorded in.
    pub audit: AuditLog,
    /// Authentication proofs for services acting for customers.
    pub proofs: crate::proof::Proofs,
}

/// What the connection knows about a request's origin (set per connection).
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    /// The peer's address.
    pub peer: std::net::SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
}

/// The outcome of one request before it is audited.
struct Served {
    op: String,
    caller: Option<Caller>,
    claimed_key: Option<String>,
    facts: AuditFacts,
    result: Result<Vec<u8>, KmsError>,
}

/// The axum router: every path and method reaches [`handle`].
pub fn router(state: Arc<AppState>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(state)
}

fn content_type_ok(v: Option<&HeaderValue>) -> bool {
    let Some(v) = v.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let media = v.split(';').next().unwrap_or("").trim();
    media.eq_ignore_ascii_case(JSON_11) || media.eq_ignore_ascii_case("application/x-amz-json-1.0")
}

fn operation(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .filter(|op| {
            !op.is_empty() && op.len() <= 64 && op.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

async fn serve(
    state: &AppState,
    meta: RequestMeta,
    parts: &axum::http::request::Parts,
    body: Body,
) -> Served {
    let op = operation(&parts.headers);
    let mut served = Served {
        op: op.unwrap_or("-").to_owned(),
        caller: None,
        claimed_key: parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| crate::sigv4::parse_authorization(v).ok())
            .map(|a| a.access_key_id)
            .filter(|k| k.len() <= 128),
        facts: AuditFacts::default(),
        result: Err(KmsError::Internal(String::new())),
    };
    let body: Bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(b) => b,
        Err(_) => {
            served.result = Err(KmsError::Validation(format!(
                "The request body exceeds {MAX_BODY_BYTES} bytes."
            )));
            return served;
        }
    };
    if parts.method != Method::POST || parts.uri.path() != "/" {
        served.result = Err(KmsError::UnknownOperation(
            "Strongroom serves the AWS KMS JSON protocol: POST / with X-Amz-Target.".into(),
        ));
        return served;
    }
    let now = time::OffsetDateTime::now_utc();
    let mut caller = match state
        .auth
        .authenticate(&parts.method, &parts.uri, &parts.headers, &body, now)
        .await
    {
        Ok(c) => c,
        Err(e) => {
            served.result = Err(e);
            return served;
        }
    };
    // A service presenting a proof acts as the customer, via itself.
    if let Some(proof) = parts.headers.get(crate::proof::PROOF_HEADER) {
        let proof = proof.to_str().unwrap_or("");
        match state.proofs.accept(&state.auth, &caller, proof).await {
            Ok(customer) => caller = customer,
            Err(e) => {
                served.caller = Some(caller);
                served.result = Err(e);
                return served;
            }
        }
    }
    served.caller = Some(caller.clone());
    if !content_type_ok(parts.headers.get(header::CONTENT_TYPE)) {
        served.result = Err(KmsError::Serialization(format!(
            "Content-Type must be {JSON_11}."
        )));
        return served;
    }
    let Some(op) = op else {
        served.result = Err(KmsError::UnknownOperation(
            "Missing or unrecognised X-Amz-Target.".into(),
        ));
        return served;
    };
    if op == "CreateAuthenticationProof" {
        served.result = match serde_json::from_slice(&body) {
            Ok(req) => state
                .proofs
                .create(&state.auth, &caller, req)
                .await
                .and_then(|r| {
                    serde_json::to_vec(&r).map_err(|e| KmsError::Internal(e.to_string()))
                }),
            Err(e) => Err(KmsError::Serialization(format!(
                "Could not parse the request body: {e}"
            ))),
        };
        return served;
    }
    let (result, facts) = state.processor.dispatch(&caller, meta, op, &body).await;
    served.result = result;
    served.facts = facts;
    served
}

fn audit_event(
    request_id: &str,
    meta: RequestMeta,
    parts: &axum::http::request::Parts,
    s: &Served,
) -> AuditEvent {
    let identity = match &s.caller {
        Some(c) => AuditIdentity {
            kind: c.identity.kind.trail_name(),
            arn: Some(c.identity.session_arn.clone()),
            account_id: Some(c.account_id.clone()),
            access_key_id: Some(c.access_key_id.clone()),
            invoked_by: c.via_service.clone(),
        },
        None => AuditIdentity {
            kind: "Unknown",
            access_key_id: s.claimed_key.clone(),
            ..Default::default()
        },
    };
    AuditEvent {
        time_ms: (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64,
        request_id: request_id.to_owned(),
        operation: s.op.clone(),
        identity,
        source_ip: meta.source_ip,
        user_agent: parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(256).collect()),
        key_arns: s.facts.key_arns.clone(),
        context: s.facts.context.clone(),
        error: s
            .result
            .as_ref()
            .err()
            .map(|e| (e.type_name().to_owned(), e.to_string())),
        event_source: None,
        additional: None,
    }
}

/// Serves one request.
pub async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let started = Instant::now();
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
    let mut served = serve(&state, meta, &parts, body).await;
    // No answer leaves before its audit record is durable.
    if let Err(e) = state
        .audit
        .record(audit_event(&request_id, meta, &parts, &served))
        .await
    {
        served.result = Err(e);
    }
    let op = served.op;
    let (status, body) = match served.result {
        Ok(out) => {
            tracing::debug!(%request_id, op, "ok");
            (StatusCode::OK, out)
        }
        Err(e) => {
            if e.status().is_server_error() {
                tracing::error!(%request_id, op, error = e.type_name(), message = %e, "request failed");
            } else {
                tracing::debug!(%request_id, op, error = e.type_name(), "request refused");
            }
            (e.status(), e.body())
        }
    };
    tracing::trace!(%request_id, op, micros = started.elapsed().as_micros() as u64, "done");
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_11));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}
