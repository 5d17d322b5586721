//! The HTTP edge: one handler for `POST /`, dispatching on `X-Amz-Target`,
//! taking the body as bytes (axum's `Json` refuses `x-amz-json-1.1`).

use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;

use crate::auth::{Authenticator, Caller};
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

async fn serve(
    state: &AppState,
    req: Request,
) -> Result<(String, Caller, Vec<u8>), (Option<String>, KmsError)> {
    let (parts, body) = req.into_parts();
    let body: Bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            (
                None,
                KmsError::Validation(format!("The request body exceeds {MAX_BODY_BYTES} bytes.")),
            )
        })?;
    if parts.method != Method::POST || parts.uri.path() != "/" {
        return Err((
            None,
            KmsError::UnknownOperation(
                "Strongroom serves the AWS KMS JSON protocol: POST / with X-Amz-Target.".into(),
            ),
        ));
    }
    let now = time::OffsetDateTime::now_utc();
    let caller = state
        .auth
        .authenticate(&parts.method, &parts.uri, &parts.headers, &body, now)
        .await
        .map_err(|e| (None, e))?;
    if !content_type_ok(parts.headers.get(header::CONTENT_TYPE)) {
        return Err((
            None,
            KmsError::Serialization(format!("Content-Type must be {JSON_11}.")),
        ));
    }
    let op = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.strip_prefix(TARGET_PREFIX))
        .filter(|op| {
            !op.is_empty() && op.len() <= 64 && op.bytes().all(|b| b.is_ascii_alphanumeric())
        })
        .ok_or_else(|| {
            (
                None,
                KmsError::UnknownOperation("Missing or unrecognised X-Amz-Target.".into()),
            )
        })?
        .to_owned();
    match state.processor.dispatch(&caller, &op, &body).await {
        Ok(out) => Ok((op, caller, out)),
        Err(e) => Err((Some(op), e)),
    }
}

/// Serves one request.
pub async fn handle(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let started = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let (status, body, op) = match serve(&state, req).await {
        Ok((op, caller, out)) => {
            tracing::debug!(%request_id, op, account = %caller.account_id, "ok");
            (StatusCode::OK, out, op)
        }
        Err((op, e)) => {
            let op = op.unwrap_or_else(|| "-".into());
            if e.status().is_server_error() {
                tracing::error!(%request_id, op, error = e.type_name(), message = %e, "request failed");
            } else {
                tracing::debug!(%request_id, op, error = e.type_name(), "request refused");
            }
            (e.status(), e.body(), op)
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
