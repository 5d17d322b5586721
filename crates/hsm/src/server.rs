//! The module's network side: accepts TLS connections from hosts, reads
//! framed requests, queues them to the module (one at a time), and writes
//! answers back as they come, tagged with the request id.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use strongroom_hsm_proto::admin::decode;
use strongroom_hsm_proto::net::{
    WireRequest, WireResponse, caller_from_peer, encode_wire, read_frame, write_frame,
};
use strongroom_hsm_proto::{Caller, HsmError, Request, Response};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{mpsc, watch};
use zeroize::Zeroizing;

/// A request from a connection, with the slot its answer goes into.
pub type ModuleRequest = (Caller, Request, Reply);

/// Where a module's answer goes: straight into the connection's write
/// queue, in a slot reserved when the request was read (so a host that
/// sends without reading cannot grow the queue past its bound).
pub struct Reply {
    id: u64,
    slot: mpsc::OwnedPermit<Zeroizing<Vec<u8>>>,
}

impl Reply {
    /// Encodes and queues the answer.
    pub fn send(self, result: Result<Response, HsmError>) {
        self.slot.send(encode_wire(&WireResponse {
            id: self.id,
            result,
        }));
    }
}

/// Answers in flight per connection.
const IN_FLIGHT: usize = 1024;

/// The TLS configuration for the module's current identity, and a counter
/// that moves when the identity changes (open connections then close).
#[derive(Clone)]
pub struct TlsState {
    /// Current configuration.
    pub config: Arc<RwLock<Arc<rustls::ServerConfig>>>,
    /// Identity changes.
    pub changed: watch::Receiver<u64>,
}

/// Serves one accepted connection until it closes.
pub async fn serve_connection<S>(stream: S, tls: TlsState, module: mpsc::Sender<ModuleRequest>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let config = tls.config.read().expect("tls lock").clone();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let Ok(Ok(stream)) =
        tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await
    else {
        tracing::debug!("TLS handshake failed or timed out");
        return;
    };
    let Some(caller) = caller_from_peer(stream.get_ref().1.peer_certificates()) else {
        return;
    };
    let (mut rd, wr) = tokio::io::split(stream);
    let (out_tx, mut out_rx) = mpsc::channel::<Zeroizing<Vec<u8>>>(IN_FLIGHT);
    let writer = tokio::spawn(async move {
        let mut w = BufWriter::new(wr);
        while let Some(frame) = out_rx.recv().await {
            if write_frame(&mut w, &frame).await.is_err() {
                return;
            }
            // Flush only when nothing else is waiting: batches under load.
            if out_rx.is_empty() && w.flush().await.is_err() {
                return;
            }
        }
        let _ = w.shutdown().await;
    });
    let mut changed = tls.changed.clone();
    changed.mark_unchanged();
    loop {
        let frame = tokio::select! {
            f = read_frame(&mut rd) => f,
            _ = changed.changed() => break,
        };
        let Ok(Some(frame)) = frame else { break };
        let Ok(WireRequest { id, request }) = decode::<WireRequest>(&frame) else {
            tracing::debug!("malformed frame; closing the connection");
            break;
        };
        let Ok(slot) = out_tx.clone().reserve_owned().await else {
            break;
        };
        if module
            .send((caller.clone(), request, Reply { id, slot }))
            .await
            .is_err()
        {
            break;
        }
    }
    drop(out_tx);
    let _ = writer.await;
}
