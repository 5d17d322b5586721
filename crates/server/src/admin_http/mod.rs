//! The admin listener (`--admin-listen`): its own small router, apart
//! from the KMS API, serving `GET /metrics`, `GET /healthz` and
//! `GET /readyz` (docs/operations.md, "Monitoring"), and the web console
//! at `/console/` ([`crate::console`], docs/console.md). The monitoring
//! paths take no credentials and answer only with bounded labels and fixed
//! words, so bind it to loopback or a management network; every console
//! call needs a signed-in access key.

mod listener;
pub mod ready;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use strongroom_hsm_proto::HsmClient;
use strongroom_store::Store;
use tokio::sync::watch;

use crate::audit::AuditLog;
use crate::processor::Processor;
use crate::telemetry::Telemetry;
use crate::telemetry::scrape::Scraper;

pub use listener::serve;

/// Where and how the admin listener serves.
#[derive(Clone)]
pub struct AdminConfig {
    /// Address to listen on (port 0 picks one).
    pub listen: SocketAddr,
    /// Serve HTTPS with this configuration (the API's certificate).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Serve the web console at `/console/` with these session limits
    /// (docs/console.md); `None`: no console.
    pub console: Option<crate::console::ConsoleSettings>,
    /// The accounts whose principals may open the console's fleet view
    /// (with `strongroom:ReadFleet`; their roots may); no other account's.
    pub fleet_accounts: Vec<String>,
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("listen", &self.listen)
            .field("tls", &self.tls.is_some())
            .field("console", &self.console)
            .field("fleet_accounts", &self.fleet_accounts)
            .finish()
    }
}

/// What the admin handlers read.
pub struct AdminState {
    /// The counters.
    pub telemetry: Arc<Telemetry>,
    /// Store and module facts for `/metrics`, cached.
    pub scraper: Scraper,
    /// The store (readiness).
    pub store: Arc<dyn Store>,
    /// The modules (readiness).
    pub hsm: HsmClient,
    /// The processor (its caches' counters).
    pub processor: Arc<Processor>,
    /// The audit trail (writer health).
    pub audit: AuditLog,
}

/// Binds the admin listener (`/metrics`, `/healthz`, `/readyz`, and the
/// console if configured); returns its address, its serving task and the
/// console's state.
pub(crate) async fn start(
    admin: crate::admin_http::AdminConfig,
    (state, processor, telemetry): (
        &Arc<crate::http::AppState>,
        &Arc<Processor>,
        &Arc<crate::telemetry::Telemetry>,
    ),
    (store, hsm): (Arc<dyn Store>, HsmClient),
    audit_dir: std::path::PathBuf,
    rx: watch::Receiver<bool>,
) -> std::io::Result<(
    SocketAddr,
    impl std::future::Future<Output = ()> + Send + use<>,
    Option<Arc<crate::console::ConsoleState>>,
)> {
    let admin_state = Arc::new(crate::admin_http::AdminState {
        telemetry: telemetry.clone(),
        scraper: crate::telemetry::scrape::Scraper::new(store.clone(), hsm.clone()),
        store: store.clone(),
        hsm: hsm.clone(),
        processor: processor.clone(),
        audit: state.audit.clone(),
    });
    let console = admin.console.map(|settings| {
        Arc::new(crate::console::ConsoleState::new(
            state.clone(),
            (hsm, store),
            audit_dir,
            admin.tls.is_some(),
            settings,
            admin.fleet_accounts.clone(),
        ))
    });
    let mut app = crate::admin_http::router(admin_state);
    if let Some(c) = &console {
        app = app.merge(crate::console::router(c.clone()));
    }
    let (addr, serving) = crate::admin_http::serve(admin, app, rx).await?;
    tracing::info!(%addr, console = console.is_some(), "serving /metrics, /healthz and /readyz");
    Ok((addr, serving, console))
}

/// The admin router.
pub fn router(state: Arc<AdminState>) -> axum::Router {
    axum::Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn metrics(State(s): State<Arc<AdminState>>) -> Response {
    let scraped = s.scraper.facts().await;
    let body = crate::telemetry::render(
        &s.telemetry,
        scraped,
        &s.processor,
        Some(s.audit.writer_health()),
    );
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::telemetry::CONTENT_TYPE),
    );
    r
}

/// Always 200 while the process serves.
async fn healthz() -> Response {
    json(StatusCode::OK, &serde_json::json!({ "status": "alive" }))
}

async fn readyz(State(s): State<Arc<AdminState>>) -> Response {
    let report = ready::check(&s.store, &s.hsm, &s.audit).await;
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(status, &report)
}

fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut r = (status, bytes).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
