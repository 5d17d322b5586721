//! The web console (docs/console.md), served by the admin listener at
//! `/console/`: embedded static assets, and a JSON API under
//! `/console/api/` for a browser holding a session cookie.
//!
//! A session stands for one access key. Every call re-reads that key (a
//! deactivated key ends its sessions), builds the same [`Caller`] a SigV4
//! request with it would get, and goes through the same processor
//! dispatch and audit trail as the KMS API ([`kms`]); the read views
//! (audit, usage, fleet) are authorized as that caller too ([`reads`]).
//! Every call but sign-in must carry the session's CSRF token.

mod assets;
pub mod budget;
mod fleet;
mod kms;
mod query;
mod reads;
pub mod sessions;
mod signin;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Response, StatusCode, header, request::Parts};
use axum::routing::{get, post};
use strongroom_hsm_proto::HsmClient;
use strongroom_store::Store;

use crate::audit::AuditEvent;
use crate::auth::Caller;
use crate::authz::RequestMeta;
use crate::error::KmsError;
use crate::http::AppState;
pub use sessions::{ConsoleSettings, Session, Sessions};

/// The header every console call carries its session's CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The header naming the region a console call acts in (default: the
/// frontend's default region); it must be one the frontend serves.
pub const REGION_HEADER: &str = "x-strongroom-region";
/// The session cookie's name over plain HTTP (`Path=/console`).
pub const COOKIE: &str = "strongroom-console";
/// The session cookie's name over TLS (`Secure; Path=/`, so a sibling
/// host or a plain-HTTP page cannot set or shadow it).
pub const COOKIE_TLS: &str = "__Host-strongroom-console";
/// The `User-Agent` prefix of every console call in the audit trail.
pub const USER_AGENT_PREFIX: &str = "strongroom-console";

/// The Content-Security-Policy of every console response: scripts,
/// styles and calls from this origin only, nothing inline, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// What the console's handlers share.
pub struct ConsoleState {
    /// The KMS API's state: processor, authenticator, audit trail.
    pub app: Arc<AppState>,
    /// The modules (sign-in secret checks, fleet view).
    pub hsm: HsmClient,
    /// The store (usage, rewrap progress, module log cursors).
    pub store: Arc<dyn Store>,
    /// Signed-in browsers and sign-in links.
    pub sessions: Sessions,
    /// The audit directory (the audit view reads it).
    pub audit_dir: PathBuf,
    /// Whether the admin listener serves TLS (the cookie's form).
    pub tls: bool,
    /// The fleet view's cache.
    pub(crate) fleet: fleet::FleetCache,
    /// The read views' concurrency bound.
    pub(crate) heavy: reads::HeavyReads,
    /// The accounts that may open the fleet view (the operator's).
    pub fleet_accounts: Vec<String>,
}

impl ConsoleState {
    /// Console state over the API's state.
    pub fn new(
        app: Arc<AppState>,
        (hsm, store): (HsmClient, Arc<dyn Store>),
        audit_dir: PathBuf,
        tls: bool,
        settings: ConsoleSettings,
        fleet_accounts: Vec<String>,
    ) -> Self {
        Self {
            app,
            hsm,
            store,
            sessions: Sessions::new(settings),
            audit_dir,
            tls,
            fleet: fleet::FleetCache::default(),
            heavy: reads::HeavyReads::default(),
            fleet_accounts,
        }
    }

    /// A one-time sign-in link path (`/console/?login=TOKEN`) for
    /// `access_key_id`, valid for the settings' `login_ttl`.
    pub fn login_path(&self, access_key_id: &str) -> Result<String, KmsError> {
        Ok(format!(
            "/console/?login={}",
            self.sessions.login_token(access_key_id)?
        ))
    }
}

/// The console's routes (to merge into the admin router).
pub fn router(state: Arc<ConsoleState>) -> axum::Router {
    axum::Router::new()
        .route("/console", get(assets::to_console))
        .route("/console/", get(assets::index))
        .route("/console/assets/{file}", get(assets::asset))
        .route(
            "/console/api/session",
            get(signin::current)
                .post(signin::with_keys)
                .delete(signin::sign_out),
        )
        .route("/console/api/session/link", post(signin::with_link))
        .route("/console/api/kms/{operation}", post(kms::call))
        .route("/console/api/audit", get(reads::audit))
        .route("/console/api/audit/verify", get(reads::verify))
        .route("/console/api/audit/export", get(reads::export))
        .route("/console/api/usage", get(reads::usage))
        .route("/console/api/fleet", get(fleet::fleet))
        .route("/console/api/{*rest}", axum::routing::any(not_found))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn not_found() -> Response<Body> {
    error_response(&KmsError::UnknownOperation("No such console call.".into()))
}

/// Headers on every console response.
async fn security_headers(mut r: Response<Body>) -> Response<Body> {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// A JSON answer. It may hold plaintext (a KMS answer such as
/// GenerateDataKey's): its buffer is zeroized when the connection drops it.
pub(crate) fn json_response(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let body = bytes::Bytes::from_owner(zeroize::Zeroizing::new(body));
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// An AWS-shaped error answer.
pub(crate) fn error_response(e: &KmsError) -> Response<Body> {
    json_response(e.status(), e.body())
}

/// The request's connection facts.
pub(crate) fn meta_of(parts: &Parts) -> RequestMeta {
    parts
        .extensions
        .get::<crate::http::ConnInfo>()
        .map(|c| RequestMeta {
            source_ip: Some(c.peer.ip()),
            secure: c.tls,
        })
        .unwrap_or_default()
}

/// Whether a console call may come over this connection: over plain HTTP
/// only from this machine, since signing in sends the secret access key
/// itself (a SigV4 request never does) and every call a session cookie.
pub fn transport_allows(tls: bool, peer: Option<std::net::IpAddr>) -> bool {
    tls || peer.is_some_and(|ip| ip.to_canonical().is_loopback())
}

/// Refuses a console call that [`transport_allows`] does not.
pub(crate) fn check_transport(state: &ConsoleState, parts: &Parts) -> Result<(), KmsError> {
    if transport_allows(state.tls, meta_of(parts).source_ip) {
        return Ok(());
    }
    Err(KmsError::AccessDenied(
        "Over plain HTTP the console serves only this machine (127.0.0.1, ::1): \
         serve the admin listener over TLS (--tls-cert) to use it from elsewhere."
            .into(),
    ))
}

/// The session id the request's cookie carries, if any.
pub(crate) fn session_cookie(headers: &HeaderMap, tls: bool) -> Option<&str> {
    let name = if tls { COOKIE_TLS } else { COOKIE };
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A signed-in call: the caller its session's access key is now.
pub(crate) struct SignedIn {
    /// Who the call acts as.
    pub caller: Caller,
    /// Connection facts.
    pub meta: RequestMeta,
}

/// The session of a request, with its CSRF token checked, and the caller
/// its access key stands for now (an access key deactivated since sign-in
/// ends the session).
pub(crate) async fn signed_in(state: &ConsoleState, parts: &Parts) -> Result<SignedIn, KmsError> {
    check_transport(state, parts)?;
    let id = session_cookie(&parts.headers, state.tls).ok_or_else(sessions::no_session)?;
    let session = state.sessions.touch(id)?;
    let presented = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !session.csrf_matches(presented) {
        return Err(KmsError::AccessDenied(
            "The console call has no valid CSRF token (X-CSRF-Token).".into(),
        ));
    }
    let caller = match state.app.auth.active_key(&session.access_key_id).await {
        Ok(key) => state.app.auth.caller_for(&key).await,
        Err(e) => Err(e),
    };
    let mut caller = match caller {
        Ok(c) => c,
        Err(KmsError::UnrecognizedClient) => {
            state.sessions.end_all_of(&session.access_key_id);
            return Err(sessions::no_session());
        }
        Err(e) => return Err(e),
    };
    if let Some(name) = parts.headers.get(REGION_HEADER) {
        let name = name.to_str().unwrap_or("");
        caller.region = state.app.auth.served_region(name).ok_or_else(|| {
            let shown: String = name.chars().take(64).collect();
            KmsError::Validation(format!("This frontend does not serve region '{shown}'."))
        })?;
    }
    Ok(SignedIn {
        caller,
        meta: meta_of(parts),
    })
}

/// The audit event of a console call by `caller`.
pub(crate) fn event_for(
    caller: &Caller,
    meta: RequestMeta,
    parts: &Parts,
    operation: &str,
) -> AuditEvent {
    let mut e = AuditEvent::for_caller(caller, operation);
    e.source_ip = meta.source_ip;
    e.user_agent = Some(user_agent(parts));
    e
}

/// `strongroom-console (<browser's agent>)`, printable and bounded.
fn user_agent(parts: &Parts) -> String {
    let browser = crate::http::intake::sanitized_user_agent(parts.headers.get(header::USER_AGENT));
    let mut ua = match browser {
        Some(b) => format!("{USER_AGENT_PREFIX} ({b})"),
        None => USER_AGENT_PREFIX.to_owned(),
    };
    ua.truncate(256);
    ua
}

/// Records a finished console call that had no intent record: its audit
/// record (a call whose record cannot be written fails) and its count.
pub(crate) async fn finish(
    state: &ConsoleState,
    mut event: AuditEvent,
    result: Result<Vec<u8>, KmsError>,
    started: Instant,
) -> Response<Body> {
    event.error = result
        .as_ref()
        .err()
        .map(|e| (e.type_name().to_owned(), e.to_string()));
    let op = event.operation.clone();
    let result = match state.app.audit.record(event).await {
        Ok(()) => result,
        Err(e) => Err(e),
    };
    state
        .app
        .telemetry
        .request_done(&op, result.as_ref().err(), false, started.elapsed());
    match result {
        Ok(body) => json_response(StatusCode::OK, body),
        Err(e) => error_response(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::transport_allows;

    #[test]
    fn plain_http_serves_this_machine_only() {
        for (tls, peer, ok) in [
            (false, Some("127.0.0.1"), true),
            (false, Some("::1"), true),
            (false, Some("::ffff:127.0.0.1"), true),
            (false, Some("10.0.0.7"), false),
            (false, Some("::ffff:10.0.0.7"), false),
            (false, Some("fe80::1"), false),
            (false, None, false),
            (true, Some("10.0.0.7"), true),
        ] {
            let peer = peer.map(|p| p.parse().unwrap());
            assert_eq!(transport_allows(tls, peer), ok, "{tls} {peer:?}");
        }
    }
}
