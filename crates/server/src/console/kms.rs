//! `POST /console/api/kms/{Operation}`: a KMS JSON request made by the
//! session's principal. It takes the path the KMS API takes after SigV4:
//! the processor's dispatch (authorization, intent record before any
//! change) and an outcome record in the audit trail, so a console call and
//! an SDK call by the same principal are authorized and audited alike.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use zeroize::Zeroizing;

use super::{ConsoleState, error_response, json_response};
use crate::error::KmsError;

/// Whether the operation name is one the KMS API could carry.
fn plausible(op: &str) -> bool {
    !op.is_empty() && op.len() <= 64 && op.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn json_body(parts: &axum::http::request::Parts) -> bool {
    parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// Serves one KMS call for the signed-in principal.
pub async fn call(
    State(state): State<Arc<ConsoleState>>,
    Path(operation): Path<String>,
    req: Request,
) -> Response<Body> {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let signed = match super::signed_in(&state, &parts).await {
        Ok(s) => s,
        Err(e) => return error_response(&e),
    };
    if !plausible(&operation) {
        return error_response(&KmsError::UnknownOperation(
            "Missing or unrecognised operation.".into(),
        ));
    }
    let mut event = super::event_for(&signed.caller, signed.meta, &parts, &operation);
    let body: Result<Zeroizing<Vec<u8>>, KmsError> = if json_body(&parts) {
        crate::http::intake::read_body(&parts, body, state.app.body_read_timeout).await
    } else {
        Err(KmsError::Serialization(
            "Content-Type must be application/json.".into(),
        ))
    };
    let body = match body {
        Ok(b) => b,
        Err(e) => return super::finish(&state, event, Err(e), started).await,
    };
    let intent = event.clone();
    let (result, facts) = state
        .app
        .processor
        .dispatch(&signed.caller, signed.meta, &operation, &body, Some(intent))
        .await;
    event.key_arns = facts.key_arns;
    event.context = facts.context;
    event.grant_id = facts.grant_id;
    event.time_ms = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    if facts.intent_recorded && result.is_ok() {
        // The operation ran: its intent record is durable, so its answer
        // stands even if the outcome record cannot be written.
        let op = event.operation.clone();
        if let Err(e) = state.app.audit.record(event).await {
            tracing::error!(op, error = %e, "console: outcome audit record not written after the operation ran; answering anyway");
        }
        state
            .app
            .telemetry
            .request_done(&op, None, false, started.elapsed());
        return json_response(StatusCode::OK, result.unwrap_or_default());
    }
    super::finish(&state, event, result, started).await
}
