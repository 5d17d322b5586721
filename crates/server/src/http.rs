//! The HTTP edge: one handler for `POST /`, dispatching on `X-Amz-Target`,
//! taking the body as bytes (axum's `Json` refuses `x-amz-json-1.1`).
//!
//! Order matters here. What the headers alone can refuse is refused before
//! the body is read ([`intake`]); a request that never authenticates costs
//! one in-memory count, not an audit row ([`crate::unauthenticated`]); a
//! state-changing operation runs only after its intent is durably audited;
//! request and response bodies live in zeroizing buffers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use zeroize::Zeroizing;

use crate::audit::{AuditEvent, AuditIdentity, AuditLog};
use crate::auth::{Authenticator, Caller};
use crate::authz::{AuditFacts, RequestMeta};
use crate::error::KmsError;
use crate::processor::Processor;
use crate::unauthenticated::UnauthenticatedLog;

pub mod intake;

pub use intake::MAX_BODY_BYTES;

const JSON_11: &str = "application/x-amz-json-1.1";
const TARGET_PREFIX: &str = "TrentService.";

/// Whether `op` may change durable state (and so is audited before it
/// runs): the operation table's `effect` column. Unknown operations count
/// as changing state; CreateAuthenticationProof (served here, not by the
/// table) only reads.
pub fn changes_state(op: &str) -> bool {
    if op == "CreateAuthenticationProof" {
        return false;
    }
    crate::authz::operations::find(crate::ops::OPERATIONS, op)
        .is_none_or(|o| o.effect == crate::authz::operations::Effect::Writes)
}

/// What every request handler shares.
pub struct AppState {
    /// The request processor.
    pub processor: Arc<Processor>,
    /// SigV4 verification.
    pub auth: Authenticator,
    /// The audit trail every authenticated request is recorded in.
    pub audit: AuditLog,
    /// Counts of requests that never authenticated, summarised periodically.
    pub unauthenticated: Arc<UnauthenticatedLog>,
    /// Authentication proofs for services acting for customers.
    pub proofs: crate::proof::Proofs,
    /// How long a client may take to send a request body.
    pub body_read_timeout: Duration,
    /// The XKS proxy API (docs/xks.md).
    pub xks: crate::xks::XksState,
    /// The counters `/metrics` reports.
    pub telemetry: Arc<crate::telemetry::Telemetry>,
}

/// What the connection knows about a request's origin (set per connection).
#[derive(Debug, Clone, Copy)]
pub struct ConnInfo {
    /// The peer's address.
    pub peer: std::net::SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// Whether the client presented a certificate the listener's client
    /// verifier accepted (XKS mTLS).
    pub client_cert: bool,
}

/// The outcome of one request before it is audited.
struct Served {
    op: String,
    caller: Option<Caller>,
    facts: AuditFacts,
    /// Whether the intent record was written before the operation ran.
    intent_recorded: bool,
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
        facts: AuditFacts::default(),
        intent_recorded: false,
        result: Err(KmsError::Internal(String::new())),
    };
    // Refused from the headers: the body is never read (the connection is
    // closed rather than drained).
    if let Err(e) = intake::check_headers(&state.auth, parts).await {
        served.result = Err(e);
        return served;
    }
    let body = match intake::read_body(parts, body, state.body_read_timeout).await {
        Ok(b) => b,
        Err(e) => {
            served.result = Err(e);
            return served;
        }
    };
    let caller = match caller_of(state, meta, parts, &body, op).await {
        Ok(c) => c,
        Err((caller, e)) => {
            served.caller = caller;
            served.result = Err(e);
            return served;
        }
    };
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
        served.result = create_proof(state, &caller, meta, &body).await;
        return served;
    }
    // A state-changing operation runs only once its intent is durable, so
    // the trail never lacks an operation that happened; the processor
    // writes it when the request has authorized everything its row names
    // (so it names the keys), before anything changes. Its outcome record
    // follows (and cannot then withhold an answer that may be the only
    // copy of what it made, such as SuspendKey's wrapped material).
    let mut intent = audit_event("", meta, parts, &served);
    intent.request_id = request_id_of(parts);
    let (result, facts) = state
        .processor
        .dispatch(&caller, meta, op, &body, Some(intent))
        .await;
    served.intent_recorded = facts.intent_recorded;
    served.result = result;
    served.facts = facts;
    served
}

/// The request's caller: its SigV4 signature verified and, when it
/// presents a proof, the customer the proof acts for. On failure, the
/// caller known so far (for the audit record) and why.
async fn caller_of(
    state: &AppState,
    meta: RequestMeta,
    parts: &axum::http::request::Parts,
    body: &[u8],
    op: Option<&str>,
) -> Result<Caller, (Option<Caller>, KmsError)> {
    let now = time::OffsetDateTime::now_utc();
    let caller = state
        .auth
        .authenticate(
            &parts.method,
            &parts.uri,
            &parts.headers,
            body,
            now,
            meta.source_ip,
        )
        .await
        .map_err(|e| (None, e))?;
    // A service presenting a proof acts as the customer, via itself.
    let Some(proof) = parts.headers.get(crate::proof::PROOF_HEADER) else {
        return Ok(caller);
    };
    let proof = proof.to_str().unwrap_or("");
    match state.proofs.accept(&state.auth, &caller, op, proof).await {
        Ok(customer) => Ok(customer),
        Err(e) => Err((Some(caller), e)),
    }
}

/// CreateAuthenticationProof: served here, not by the processor (it
/// concerns the caller, not a key).
async fn create_proof(
    state: &AppState,
    caller: &Caller,
    meta: RequestMeta,
    body: &[u8],
) -> Result<Vec<u8>, KmsError> {
    let req = serde_json::from_slice(body)
        .map_err(|e| KmsError::Serialization(format!("Could not parse the request body: {e}")))?;
    let r = state
        .proofs
        .create(&state.auth, caller, meta.source_ip, req)
        .await?;
    crate::protocol::to_json_exact(&r).map_err(|e| KmsError::Internal(e.to_string()))
}

/// The request id [`handle`] assigned.
fn request_id_of(parts: &axum::http::request::Parts) -> String {
    parts
        .extensions
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default()
}

/// The id of one request, shared by its intent and outcome records.
#[derive(Clone)]
struct RequestId(String);

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
            ..Default::default()
        },
    };
    AuditEvent {
        time_ms: (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64,
        request_id: request_id.to_owned(),
        operation: s.op.clone(),
        identity,
        source_ip: meta.source_ip,
        user_agent: intake::sanitized_user_agent(parts.headers.get(header::USER_AGENT)),
        key_arns: s.facts.key_arns.clone(),
        context: s.facts.context.clone(),
        grant_id: s.facts.grant_id.clone(),
        error: s
            .result
            .as_ref()
            .err()
            .map(|e| (e.type_name().to_owned(), e.to_string())),
        event_source: None,
        additional: None,
        intent: false,
        service: false,
    }
}

/// Records the outcome: a durable audit record for an authenticated
/// caller, a count for anyone else. Returns the result to answer with.
async fn record_outcome(
    state: &AppState,
    request_id: &str,
    meta: RequestMeta,
    parts: &axum::http::request::Parts,
    served: &mut Served,
) {
    if served.caller.is_none() {
        let code = match &served.result {
            Err(e) => e.type_name(),
            Ok(_) => "-",
        };
        state
            .unauthenticated
            .note(code, intake::claimed_access_key(parts), meta.source_ip);
        return;
    }
    let event = audit_event(request_id, meta, parts, served);
    if let Err(e) = state.audit.record(event).await {
        if served.intent_recorded && served.result.is_ok() {
            // The intent record shows the operation; its answer stands.
            tracing::error!(%request_id, op = served.op, "outcome audit record not written after the operation ran; answering anyway (its intent record is durable)");
        } else {
            served.result = Err(e);
        }
    }
}

/// Counts a finished request and writes its access log event (target
/// `strongroom::request`): ids, operation, account, latency and error type,
/// never a payload, key, secret or signature.
fn log_request(state: &AppState, request_id: &str, served: &Served, elapsed: Duration) {
    let error = served.result.as_ref().err();
    state
        .telemetry
        .request_done(&served.op, error, served.caller.is_none(), elapsed);
    tracing::info!(
        target: "strongroom::request",
        request_id,
        operation = served.op.as_str(),
        account = served.caller.as_ref().map_or("-", |c| c.account_id.as_str()),
        latency_us = elapsed.as_micros() as u64,
        error = error.map_or("none", KmsError::type_name),
        "request"
    );
}

/// Serves one request.
pub async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    // The XKS proxy API shares the listener (its paths are never `/`).
    if crate::xks::is_xks_path(req.uri().path()) {
        // Boxed, as is `serve` below: each would otherwise make this
        // future as large as both, copied whole for every request.
        return Box::pin(crate::xks::handle(state, req)).await;
    }
    let started = Instant::now();
    let _in_flight = state.telemetry.in_flight();
    let request_id = uuid::Uuid::new_v4().to_string();
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(RequestId(request_id.clone()));
    let meta = parts
        .extensions
        .get::<ConnInfo>()
        .map(|c| RequestMeta {
            source_ip: Some(c.peer.ip()),
            secure: c.tls,
        })
        .unwrap_or_default();
    let mut served = Box::pin(serve(&state, meta, &parts, body)).await;
    // No answer leaves before its audit record is durable (but see
    // `record_outcome` for operations that already ran).
    record_outcome(&state, &request_id, meta, &parts, &mut served).await;
    log_request(&state, &request_id, &served, started.elapsed());
    let op = served.op;
    let (status, body) = match served.result {
        Ok(out) => {
            tracing::debug!(%request_id, op, "ok");
            (StatusCode::OK, Zeroizing::new(out))
        }
        Err(e) => {
            if e.status().is_server_error() {
                tracing::error!(%request_id, op, error = e.type_name(), message = %e, "request failed");
            } else {
                tracing::debug!(%request_id, op, error = e.type_name(), "request refused");
            }
            (e.status(), Zeroizing::new(e.body()))
        }
    };
    tracing::trace!(%request_id, op, micros = started.elapsed().as_micros() as u64, "done");
    // The answer may hold plaintext: its buffer is zeroized when the
    // connection drops it.
    let mut resp = Response::new(Body::from(Bytes::from_owner(body)));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_11));
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        h.insert("x-amzn-requestid", v);
    }
    resp
}
