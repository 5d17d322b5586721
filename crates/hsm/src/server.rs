//! The module's network side: admits a bounded number of connections,
//! accepts TLS from hosts, reads framed requests under size, time and class
//! limits, queues them to the module (which takes them one at a time and
//! hands private-key work to its worker threads), and writes answers back
//! as they come, in any order, tagged with the request id.
//!
//! Cheap checks come first: the connection cap before the TLS handshake,
//! the handshake under a deadline, each frame's header (version, class,
//! length against what this peer may send) before any body is read, the
//! body under a deadline and into a buffer that grows only with what
//! arrived, and only then decoding and the module's own checks.

use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use strongroom_hsm_proto::codec::{decode_bare, encode_bare};
use strongroom_hsm_proto::frame::{
    BULK_MAX, CONTROL_MAX, FrameClass, UNLISTED_MAX, encode_frame, read_frame_after, write_frame,
};
use strongroom_hsm_proto::net::caller_from_peer;
use strongroom_hsm_proto::{Caller, HsmError, Request, Response};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use zeroize::Zeroizing;

use crate::Module;

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
        let mut class = FrameClass::of_result(&result);
        let mut payload = Zeroizing::new(encode_bare(&result));
        if payload.len() > class.max_len() {
            let too_big: Result<Response, HsmError> = Err(HsmError::Internal(format!(
                "the answer ({} bytes) exceeds the module protocol's limit",
                payload.len()
            )));
            class = FrameClass::of_result(&too_big);
            payload = Zeroizing::new(encode_bare(&too_big));
        }
        self.slot.send(encode_frame(class, self.id, &payload));
    }
}

/// Limits of the module's network side (`strongroom-hsm` flags).
#[derive(Debug, Clone)]
pub struct NetLimits {
    /// Connections served at once; more are closed on accept.
    pub max_connections: usize,
    /// Time a peer has to finish the TLS handshake.
    pub handshake_timeout: Duration,
    /// Time a peer has to finish a frame once its first byte arrived.
    pub frame_timeout: Duration,
    /// A connection with no frame and no answer owed for this long closes.
    pub idle_timeout: Duration,
}

impl Default for NetLimits {
    fn default() -> Self {
        Self {
            max_connections: 256,
            handshake_timeout: Duration::from_secs(10),
            frame_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// Host keys listed by a domain the module holds. Their frames may be as
/// large as their class allows and bulk; any other peer (an operator tool,
/// a stranger) is held to [`UNLISTED_MAX`] and control frames.
#[derive(Debug, Clone, Default)]
pub struct ListedHosts(Arc<RwLock<HashSet<Vec<u8>>>>);

impl ListedHosts {
    /// Replaces the set (after a command changed the module's domains).
    pub fn replace(&self, keys: impl IntoIterator<Item = Vec<u8>>) {
        *self.0.write().expect("hosts lock") = keys.into_iter().collect();
    }

    /// Whether `key` is listed.
    pub fn lists(&self, key: &[u8]) -> bool {
        self.0.read().expect("hosts lock").contains(key)
    }

    /// How long a frame of `class` may be from a peer, by whether it is listed.
    fn limit(listed: bool, class: FrameClass) -> Option<usize> {
        match (class, listed) {
            (FrameClass::Control, true) => Some(CONTROL_MAX),
            (FrameClass::Control, false) => Some(UNLISTED_MAX),
            (FrameClass::Bulk, true) => Some(BULK_MAX),
            (FrameClass::Bulk, false) => None,
        }
    }
}

/// Requests any TLS peer may send: public reads (status, attestation,
/// domain tokens, logs) and operator commands, which carry their own
/// authority (quorum signatures). Everything else needs a host key listed
/// by a domain this module holds; the module checks the domain after that.
/// No wildcard: a new request must be placed on one side.
pub fn open_to_unlisted(r: &Request) -> bool {
    match r {
        Request::Status
        | Request::Attest { .. }
        | Request::ListDomains
        | Request::GetDomainToken { .. }
        | Request::ListLogs
        | Request::DescribeLog { .. }
        | Request::GetLog { .. }
        | Request::Command(_) => true,
        Request::GenerateBackingKey { .. }
        | Request::GenerateVolatileKey { .. }
        | Request::InstallVolatileKey { .. }
        | Request::GenerateExposedKey { .. }
        | Request::Encrypt { .. }
        | Request::Decrypt { .. }
        | Request::ReEncrypt { .. }
        | Request::GenerateDataKey { .. }
        | Request::DeriveKey { .. }
        | Request::RevealDerivedKey { .. }
        | Request::XksEncrypt { .. }
        | Request::XksDecrypt { .. }
        | Request::GenerateRandom { .. }
        | Request::SealCredential { .. }
        | Request::DeriveSigV4Key { .. }
        | Request::GenerateMac { .. }
        | Request::VerifyMac { .. }
        | Request::Sign { .. }
        | Request::Verify { .. }
        | Request::GetPublicKey { .. }
        | Request::AsymmetricDecrypt { .. }
        | Request::AsymmetricEncrypt { .. }
        | Request::DeriveSharedSecret { .. }
        | Request::GenerateDataKeyPair { .. }
        | Request::PrepareImport { .. }
        | Request::ImportKeyMaterial { .. }
        | Request::ForgetKey { .. }
        | Request::ShredKey { .. }
        | Request::SuspendKey { .. }
        | Request::ReinstateKey { .. }
        | Request::RewrapKeys { .. }
        | Request::RewrapCredentials { .. }
        | Request::GenerateOwnedBackingKey { .. }
        | Request::RotateBackingKey { .. }
        | Request::UpdateSuspensionOwner { .. }
        | Request::InDomain { .. }
        | Request::SignAuditSeal { .. }
        | Request::AuditSealKeys => false,
    }
}

impl Module {
    /// Host keys that a domain this module holds lists.
    pub fn listed_hosts(&self) -> Vec<Vec<u8>> {
        self.domains
            .values()
            .filter_map(|d| d.body.as_ref())
            .flat_map(|b| b.hosts.iter().cloned())
            .collect()
    }
}

/// Connection slots: a connection is served only with a permit.
#[derive(Debug, Clone)]
pub struct ConnectionSlots(Arc<Semaphore>);

impl ConnectionSlots {
    /// `max` slots.
    pub fn new(max: usize) -> Self {
        Self(Arc::new(Semaphore::new(max)))
    }

    /// A slot for a new connection, or `None` when all are taken (the
    /// caller then closes the socket before any TLS work).
    pub fn admit(&self) -> Option<OwnedSemaphorePermit> {
        let permit = self.0.clone().try_acquire_owned().ok();
        if permit.is_none() {
            tracing::debug!("connection limit reached; closing a new connection");
        }
        permit
    }
}

/// Answers in flight per connection.
const IN_FLIGHT: usize = 1024;

/// Connections at once from peers no domain lists (operator tools,
/// strangers): their own small pool, so they can never take the slots
/// frontends need.
pub const STRANGER_CONNECTIONS: usize = 16;

/// The TLS configuration for the module's current identity, and a counter
/// that moves when the identity changes (open connections then close).
#[derive(Clone)]
pub struct TlsState {
    /// Current configuration.
    pub config: Arc<RwLock<Arc<rustls::ServerConfig>>>,
    /// Identity changes.
    pub changed: watch::Receiver<u64>,
}

/// What every connection shares.
#[derive(Clone)]
pub struct Shared {
    /// The module's TLS identity.
    pub tls: TlsState,
    /// The module's request queue.
    pub module: mpsc::Sender<ModuleRequest>,
    /// Hosts listed by the module's domains.
    pub listed: ListedHosts,
    /// Limits.
    pub limits: Arc<NetLimits>,
    /// Slots for peers no domain lists ([`STRANGER_CONNECTIONS`]).
    pub stranger_slots: ConnectionSlots,
}

/// Serves one accepted connection until it closes; `_slot` is its place
/// under the connection cap, released when it ends.
pub async fn serve_connection<S>(stream: S, shared: Shared, _slot: OwnedSemaphorePermit)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Shared {
        tls,
        module,
        listed,
        limits,
        stranger_slots,
    } = shared;
    let Some((stream, caller, peer_key)) = handshake(stream, &tls, &limits).await else {
        return;
    };
    let stranger = !listed.lists(&peer_key);
    let Some((_stranger_slot, idle_timeout)) = admit_peer(stranger, &stranger_slots, &limits)
    else {
        return;
    };
    let (mut rd, wr) = tokio::io::split(stream);
    let (out_tx, writer) = spawn_writer(wr, limits.frame_timeout);
    let mut changed = tls.changed.clone();
    changed.mark_unchanged();
    loop {
        // Wait for the next frame's first byte (cancel-safe); close when
        // idle with no answer owed.
        let first = tokio::select! {
            b = rd.read_u8() => b,
            _ = changed.changed() => break,
            _ = tokio::time::sleep(idle_timeout) => {
                if out_tx.capacity() < IN_FLIGHT {
                    continue;
                }
                tracing::debug!("idle connection closed");
                break;
            }
        };
        let Ok(first) = first else { break };
        let is_listed = listed.lists(&peer_key);
        let Some((id, request)) = read_request(first, &mut rd, is_listed, &limits).await else {
            break;
        };
        let Ok(Ok(slot)) =
            tokio::time::timeout(limits.frame_timeout, out_tx.clone().reserve_owned()).await
        else {
            break;
        };
        if !is_listed && !open_to_unlisted(&request) {
            // Refused here, without queueing to the module at all.
            Reply { id, slot }.send(Err(HsmError::HostNotAuthorized(
                "no domain of this module lists the host's key".into(),
            )));
            continue;
        }
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

/// A peer no domain lists (a `stranger`) takes a slot of its own small
/// pool too, and gets short deadlines: it cannot sit on the slots
/// frontends need. Its slot, if any, and its idle timeout; none if the
/// pool is full.
fn admit_peer(
    stranger: bool,
    stranger_slots: &ConnectionSlots,
    limits: &NetLimits,
) -> Option<(Option<OwnedSemaphorePermit>, Duration)> {
    if !stranger {
        return Some((None, limits.idle_timeout));
    }
    let Some(slot) = stranger_slots.admit() else {
        tracing::debug!("too many connections from unlisted peers");
        return None;
    };
    Some((
        Some(slot),
        limits.idle_timeout.min(limits.handshake_timeout),
    ))
}

/// The TLS handshake (within the handshake timeout), and the host the
/// peer's certificate names; none if either fails.
async fn handshake<S>(
    stream: S,
    tls: &TlsState,
    limits: &NetLimits,
) -> Option<(tokio_rustls::server::TlsStream<S>, Caller, Arc<[u8]>)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let config = tls.config.read().expect("tls lock").clone();
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let Ok(Ok(stream)) =
        tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)).await
    else {
        tracing::debug!("TLS handshake failed or timed out");
        return None;
    };
    let caller = caller_from_peer(stream.get_ref().1.peer_certificates())?;
    let peer_key: Arc<[u8]> = match &caller {
        Caller::Host(k) => k.clone(),
        Caller::InProcess => return None,
    };
    Some((stream, caller, peer_key))
}

/// The task writing a connection's answers, in the order they are queued;
/// a peer that stops reading them is cut off after `write_timeout`.
fn spawn_writer<W>(
    wr: W,
    write_timeout: Duration,
) -> (
    mpsc::Sender<Zeroizing<Vec<u8>>>,
    tokio::task::JoinHandle<()>,
)
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (out_tx, mut out_rx) = mpsc::channel::<Zeroizing<Vec<u8>>>(IN_FLIGHT);
    let writer = tokio::spawn(async move {
        let mut w = BufWriter::new(wr);
        // A peer that stops reading its answers is cut off, not waited for.
        while let Some(frame) = out_rx.recv().await {
            let wrote = tokio::time::timeout(write_timeout, async {
                write_frame(&mut w, &frame).await?;
                // Flush only when nothing else is waiting: batches under load.
                if out_rx.is_empty() {
                    w.flush().await?;
                }
                Ok::<(), std::io::Error>(())
            })
            .await;
            if !matches!(wrote, Ok(Ok(()))) {
                return;
            }
        }
        let _ = w.shutdown().await;
    });
    (out_tx, writer)
}

/// The rest of the frame whose first byte is `first` (within the frame
/// timeout, under the size limit of a listed or unlisted peer), decoded;
/// none closes the connection.
async fn read_request<R: AsyncRead + Unpin>(
    first: u8,
    rd: &mut R,
    is_listed: bool,
    limits: &NetLimits,
) -> Option<(u64, Request)> {
    let frame = match tokio::time::timeout(
        limits.frame_timeout,
        read_frame_after(first, rd, |c| ListedHosts::limit(is_listed, c)),
    )
    .await
    {
        Ok(Ok(frame)) => frame,
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "refused frame; closing the connection");
            return None;
        }
        Err(_) => {
            tracing::debug!("frame not completed in time; closing the connection");
            return None;
        }
    };
    match decode_bare::<Request>(&frame.payload) {
        Ok(r) if FrameClass::of_request(&r) == frame.class => Some((frame.id, r)),
        _ => {
            tracing::debug!("malformed frame; closing the connection");
            None
        }
    }
}
