//! The module's network side: accepts TLS connections from hosts, reads
//! framed requests, queues them to the module (one at a time), and writes
//! answers back as they come, tagged with the request id.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use strongroom_hsm_proto::net::{
    WireRequest, WireResponse, caller_from_peer, encode_wire, read_frame, write_frame,
};
use strongroom_hsm_proto::{Envelope, admin::decode};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{mpsc, oneshot, watch};
use zeroize::Zeroizing;

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
pub async fn serve_connection<S>(stream: S, tls: TlsState, module: mpsc::Sender<Envelope>)
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
    let (out_tx, mut out_rx) = mpsc::channel::<Zeroizing<Vec<u8>>>(1024);
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
        let (reply_tx, reply_rx) = oneshot::channel();
        if module
            .send((caller.clone(), request, reply_tx))
            .await
            .is_err()
        {
            break;
        }
        let out = out_tx.clone();
        tokio::spawn(async move {
            if let Ok(result) = reply_rx.await {
                let _ = out.send(encode_wire(&WireResponse { id, result })).await;
            }
        });
    }
    drop(out_tx);
    let _ = writer.await;
}
