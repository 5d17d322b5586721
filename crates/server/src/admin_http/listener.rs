//! The admin listener's accept loop: plain or TLS (the API's certificate),
//! a small cap on connections, and the same header, handshake and read
//! time limits as the API, so a scraper or a silent socket cannot hold it
//! open.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::AdminConfig;

/// Most admin connections served at once; more are closed as accepted.
const MAX_CONNECTIONS: usize = 32;
/// Time to finish a TLS handshake and send request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a connection may send nothing once it has sent its first bytes
/// (between keep-alive requests, or an HTTP/2 connection with nothing open).
/// Long, because the deadline also runs while a request is being answered
/// (hyper watches for the peer hanging up), and a console audit export or
/// chain verification over a large trail can take minutes.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);

/// Binds `config.listen`; the returned task serves `app` until `shutdown`.
pub async fn serve(
    config: AdminConfig,
    app: axum::Router,
    shutdown: watch::Receiver<bool>,
) -> std::io::Result<(SocketAddr, impl std::future::Future<Output = ()> + Send)> {
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    Ok((addr, accept_loop(listener, config, app, shutdown)))
}

async fn accept_loop(
    listener: TcpListener,
    config: AdminConfig,
    app: axum::Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let acceptor = config.tls.map(tokio_rustls::TlsAcceptor::from);
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut http = Builder::new(TokioExecutor::new());
    http.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    // Dropping the set aborts every connection when the loop ends.
    let mut connections = JoinSet::new();
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "admin listener: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(%peer, "admin connection refused: too many connections");
            continue;
        };
        // A silent peer must not hold its slot: hyper's header timeout
        // starts only after the protocol is sniffed.
        let stream = crate::read_deadline::ReadDeadline::new(stream, HEADER_TIMEOUT, IDLE_TIMEOUT);
        let (acceptor, http, app) = (acceptor.clone(), http.clone(), app.clone());
        connections.spawn(async move {
            let _permit = permit;
            let result = match acceptor {
                None => {
                    let service = with_conn_info(app, peer, false);
                    http.serve_connection(TokioIo::new(stream), service).await
                }
                Some(acceptor) => {
                    let Ok(Ok(tls)) =
                        tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    let service = with_conn_info(app, peer, true);
                    http.serve_connection(TokioIo::new(tls), service).await
                }
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "admin connection ended with an error");
            }
        });
    }
}

/// `app`, with each request told its connection's facts (the console's
/// audit records and sign-in budget use the peer's address).
fn with_conn_info(
    app: axum::Router,
    peer: SocketAddr,
    tls: bool,
) -> TowerToHyperService<
    tower::util::MapRequest<
        axum::Router,
        impl FnMut(
            axum::http::Request<hyper::body::Incoming>,
        ) -> axum::http::Request<hyper::body::Incoming>
        + Clone,
    >,
> {
    let info = crate::http::ConnInfo {
        peer,
        tls,
        client_cert: false,
    };
    TowerToHyperService::new(tower::ServiceExt::map_request(
        app,
        move |mut r: axum::http::Request<hyper::body::Incoming>| {
            r.extensions_mut().insert(info);
            r
        },
    ))
}
