//! The host↔module channel over a socket: TLS 1.3 (rustls) with both sides
//! authenticated by pinned P-384 keys rather than a CA, and versioned,
//! size-classed frames ([`crate::frame`]) carrying request ids, so one
//! connection has many requests in flight and answers may come back in any
//! order.
//!
//! - The module presents a self-signed certificate for its identity key; a
//!   host accepts it only if that key is pinned (a member of the domain
//!   token the host was given), or — for operator tools, whose commands are
//!   authenticated by signatures instead — if pinning is explicitly off.
//! - The host presents a self-signed certificate for its host key; the
//!   module admits any well-signed client, and then lets it use a domain
//!   only if the domain token lists that host key.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use strongroom_crypto::SigningKeyPair;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::{mpsc, oneshot};

use crate::client::{Caller, Envelope};
use crate::codec::{decode_bare, encode_bare};
use crate::frame::{FrameClass, FrameError, encode_frame, read_frame, write_frame};
use crate::{HsmError, Response};
/// The TLS server name both sides use (identity comes from the pinned key).
pub const SERVER_NAME: &str = "strongroom-hsm";

/// Where a module listens: `HOST:PORT` (or `tcp:HOST:PORT`) or `unix:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModuleAddr {
    /// A TCP address.
    Tcp(String),
    /// A Unix socket path.
    Unix(PathBuf),
}

impl FromStr for ModuleAddr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(p) = s.strip_prefix("unix:") {
            return Ok(Self::Unix(PathBuf::from(p)));
        }
        let t = s.strip_prefix("tcp:").unwrap_or(s);
        if t.rsplit_once(':')
            .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok())
        {
            Ok(Self::Tcp(t.to_string()))
        } else {
            Err(format!("{s}: expected HOST:PORT or unix:PATH"))
        }
    }
}

impl std::fmt::Display for ModuleAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tcp(a) => f.write_str(a),
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// Why a channel could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// Certificate or TLS configuration failure.
    #[error("TLS setup: {0}")]
    Tls(String),
}

/// A self-signed certificate for `key`, the only thing TLS needs from it.
pub fn self_signed_cert(key: &SigningKeyPair) -> Result<CertificateDer<'static>, NetError> {
    let pkcs8 = PrivatePkcs8KeyDer::from(key.expose_pkcs8());
    let pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_ECDSA_P384_SHA384)
        .map_err(|e| NetError::Tls(e.to_string()))?;
    let params = rcgen::CertificateParams::new(vec![SERVER_NAME.to_string()])
        .map_err(|e| NetError::Tls(e.to_string()))?;
    let cert = params
        .self_signed(&pair)
        .map_err(|e| NetError::Tls(e.to_string()))?;
    Ok(cert.der().clone())
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn private_key(key: &SigningKeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.expose_pkcs8().to_vec()))
}

/// The public key (DER SPKI) a certificate carries.
pub fn certificate_key(cert: &CertificateDer<'_>) -> Option<Vec<u8>> {
    let ee = webpki::EndEntityCert::try_from(cert).ok()?;
    Some(ee.subject_public_key_info().as_ref().to_vec())
}

fn verify13(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    rustls::crypto::verify_tls13_signature(
        message,
        cert,
        dss,
        &provider().signature_verification_algorithms,
    )
}

/// Both sides speak TLS 1.3 only.
fn tls12_refused() -> Result<HandshakeSignatureValid, rustls::Error> {
    Err(rustls::Error::PeerIncompatible(
        rustls::PeerIncompatible::Tls12NotOffered,
    ))
}

fn schemes() -> Vec<SignatureScheme> {
    provider()
        .signature_verification_algorithms
        .supported_schemes()
}

/// Which module keys a host accepts.
#[derive(Clone, Debug, Default)]
pub struct ModulePins(Option<Arc<RwLock<HashSet<Vec<u8>>>>>);

impl ModulePins {
    /// Accept any module key: only for operator tools, whose commands and
    /// results are authenticated by signatures.
    pub fn any() -> Self {
        Self(None)
    }

    /// Accept exactly these module keys (DER SPKI); updatable later.
    pub fn keys(keys: impl IntoIterator<Item = Vec<u8>>) -> Self {
        Self(Some(Arc::new(RwLock::new(keys.into_iter().collect()))))
    }

    /// Replaces the accepted keys (after ingesting a newer domain token).
    pub fn replace(&self, keys: impl IntoIterator<Item = Vec<u8>>) {
        if let Some(set) = &self.0 {
            *set.write().expect("pin lock") = keys.into_iter().collect();
        }
    }

    fn allows(&self, key: &[u8]) -> bool {
        match &self.0 {
            None => true,
            Some(set) => set.read().expect("pin lock").contains(key),
        }
    }
}

#[derive(Debug)]
struct PinnedModule(ModulePins);

impl ServerCertVerifier for PinnedModule {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let key = certificate_key(end_entity).ok_or(rustls::Error::InvalidCertificate(
            rustls::CertificateError::BadEncoding,
        ))?;
        if self.0.allows(&key) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        _m: &[u8],
        _c: &CertificateDer<'_>,
        _d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls12_refused()
    }

    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify13(m, c, d)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        schemes()
    }
}

/// Admits any client that proves possession of its certificate's key; the
/// module authorises that key per domain afterwards.
#[derive(Debug)]
struct AnyHostKey;

impl ClientCertVerifier for AnyHostKey {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        certificate_key(end_entity)
            .map(|_| ClientCertVerified::assertion())
            .ok_or(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadEncoding,
            ))
    }

    fn verify_tls12_signature(
        &self,
        _m: &[u8],
        _c: &CertificateDer<'_>,
        _d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        tls12_refused()
    }

    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify13(m, c, d)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        schemes()
    }
}

/// TLS configuration of a module with identity key `identity`.
pub fn module_tls_config(identity: &SigningKeyPair) -> Result<Arc<rustls::ServerConfig>, NetError> {
    let cert = self_signed_cert(identity)?;
    let cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| NetError::Tls(e.to_string()))?
        .with_client_cert_verifier(Arc::new(AnyHostKey))
        .with_single_cert(vec![cert], private_key(identity))
        .map_err(|e| NetError::Tls(e.to_string()))?;
    Ok(Arc::new(cfg))
}

/// TLS configuration of a host with key `host`, accepting modules `pins`.
pub fn host_tls_config(
    host: &SigningKeyPair,
    pins: ModulePins,
) -> Result<Arc<rustls::ClientConfig>, NetError> {
    let cert = self_signed_cert(host)?;
    let cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| NetError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedModule(pins)))
        .with_client_auth_cert(vec![cert], private_key(host))
        .map_err(|e| NetError::Tls(e.to_string()))?;
    Ok(Arc::new(cfg))
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Response, HsmError>>>>>;

trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

async fn open(
    addr: &ModuleAddr,
    tls: Arc<rustls::ClientConfig>,
) -> std::io::Result<Box<dyn Stream>> {
    let connector = tokio_rustls::TlsConnector::from(tls);
    let name = ServerName::try_from(SERVER_NAME).expect("static name");
    let fut = async {
        Ok::<Box<dyn Stream>, std::io::Error>(match addr {
            ModuleAddr::Tcp(a) => {
                let s = tokio::net::TcpStream::connect(a).await?;
                s.set_nodelay(true)?;
                Box::new(connector.connect(name, s).await?)
            }
            ModuleAddr::Unix(p) => {
                let s = tokio::net::UnixStream::connect(p).await?;
                Box::new(connector.connect(name, s).await?)
            }
        })
    };
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))?
}

fn fail_all(pending: &Pending, why: &str) {
    let waiting: Vec<_> = pending.lock().expect("pending lock").drain().collect();
    for (_, reply) in waiting {
        let _ = reply.send(Err(HsmError::Unavailable(why.to_string())));
    }
}

/// A running connection to one module.
struct Connection {
    writer: BufWriter<tokio::io::WriteHalf<Box<dyn Stream>>>,
    pending: Pending,
    reader: tokio::task::JoinHandle<()>,
    last_used: std::time::Instant,
}

/// A host opens a fresh connection rather than reuse one idle this long;
/// well under a module's default idle timeout (five minutes).
pub const HOST_IDLE_RECONNECT: Duration = Duration::from_secs(60);

impl Connection {
    async fn open(addr: &ModuleAddr, tls: Arc<rustls::ClientConfig>) -> std::io::Result<Self> {
        let stream = open(addr, tls).await?;
        let (mut rd, wr) = tokio::io::split(stream);
        let pending: Pending = Arc::default();
        let p = pending.clone();
        let reader = tokio::spawn(async move {
            let mut why = String::from("connection to the module closed");
            loop {
                let frame = match read_frame(&mut rd, |c| Some(c.max_len())).await {
                    Ok(Some(f)) => f,
                    Ok(None) => break,
                    Err(e @ (FrameError::UnsupportedVersion(_) | FrameError::TooLarge { .. })) => {
                        why = format!("the module sent a refused frame: {e}");
                        break;
                    }
                    Err(_) => break,
                };
                let Ok(result) = decode_bare::<Result<Response, HsmError>>(&frame.payload) else {
                    why = "the module sent a malformed answer".into();
                    break;
                };
                if FrameClass::of_result(&result) != frame.class {
                    why = "the module sent an answer in the wrong frame class".into();
                    break;
                }
                if let Some(reply) = p.lock().expect("pending lock").remove(&frame.id) {
                    let _ = reply.send(result);
                }
            }
            fail_all(&p, &why);
        });
        Ok(Self {
            writer: BufWriter::new(wr),
            pending,
            reader,
            last_used: std::time::Instant::now(),
        })
    }

    fn alive(&self) -> bool {
        !self.reader.is_finished()
    }

    /// Whether the connection has been unused so long that the module may
    /// be about to close it as idle: better to open a fresh one than to
    /// race that close with a request.
    fn stale(&self) -> bool {
        self.last_used.elapsed() >= HOST_IDLE_RECONNECT
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
        fail_all(&self.pending, "connection to the module dropped");
    }
}

/// Starts the task that carries requests to the module at `addr`,
/// connecting (and reconnecting) on demand. Requests queued while the module
/// is unreachable fail at once with [`HsmError::Unavailable`].
pub(crate) fn spawn_connection(
    addr: ModuleAddr,
    tls: Arc<rustls::ClientConfig>,
    queue: usize,
) -> mpsc::Sender<Envelope> {
    let (tx, mut rx) = mpsc::channel::<Envelope>(queue);
    tokio::spawn(async move {
        let mut conn: Option<Connection> = None;
        let mut next_id: u64 = 0;
        let mut last_failure: Option<tokio::time::Instant> = None;
        while let Some(first) = rx.recv().await {
            if conn.as_ref().is_none_or(|c| !c.alive() || c.stale()) {
                conn = None;
                // Do not hammer a dead module: one attempt per 200 ms.
                let recently =
                    last_failure.is_some_and(|t| t.elapsed() < Duration::from_millis(200));
                if !recently {
                    match Connection::open(&addr, tls.clone()).await {
                        Ok(c) => conn = Some(c),
                        Err(e) => {
                            tracing::warn!(module = %addr, error = %e, "cannot reach module");
                            last_failure = Some(tokio::time::Instant::now());
                        }
                    }
                }
            }
            let mut batch = vec![first];
            while batch.len() < 256 {
                match rx.try_recv() {
                    Ok(e) => batch.push(e),
                    Err(_) => break,
                }
            }
            let Some(c) = conn.as_mut() else {
                for (_, _, reply) in batch {
                    let _ = reply.send(Err(HsmError::Unavailable(format!(
                        "module {addr} unreachable"
                    ))));
                }
                continue;
            };
            let mut ok = true;
            c.last_used = std::time::Instant::now();
            for (_caller, request, reply) in batch {
                next_id += 1;
                let class = FrameClass::of_request(&request);
                let payload = zeroize::Zeroizing::new(encode_bare(&request));
                if payload.len() > class.max_len() {
                    let _ = reply.send(Err(HsmError::InvalidRequest(format!(
                        "a {request:?} request of {} bytes exceeds the module protocol's limit of {} bytes",
                        payload.len(),
                        class.max_len()
                    ))));
                    continue;
                }
                let bytes = encode_frame(class, next_id, &payload);
                c.pending
                    .lock()
                    .expect("pending lock")
                    .insert(next_id, reply);
                if ok && write_frame(&mut c.writer, &bytes).await.is_err() {
                    ok = false;
                }
            }
            if !ok || c.writer.flush().await.is_err() {
                conn = None; // Drop fails everything pending.
                last_failure = Some(tokio::time::Instant::now());
            }
        }
    });
    tx
}

/// The caller a module sees for a TLS peer.
pub fn caller_from_peer(certs: Option<&[CertificateDer<'static>]>) -> Option<Caller> {
    let key = certificate_key(certs?.first()?)?;
    Some(Caller::Host(key.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_addresses() {
        assert_eq!(
            "127.0.0.1:7400".parse(),
            Ok(ModuleAddr::Tcp("127.0.0.1:7400".into()))
        );
        assert_eq!("tcp:h:1".parse(), Ok(ModuleAddr::Tcp("h:1".into())));
        assert_eq!(
            "unix:/run/m.sock".parse(),
            Ok(ModuleAddr::Unix("/run/m.sock".into()))
        );
        for bad in ["", "7400", "host:", ":1", "h:99999"] {
            assert!(bad.parse::<ModuleAddr>().is_err(), "{bad}");
        }
        assert_eq!(ModuleAddr::Unix("/x".into()).to_string(), "unix:/x");
    }

    #[test]
    fn certificates_carry_the_identity_key() {
        let key = SigningKeyPair::generate().unwrap();
        let cert = self_signed_cert(&key).unwrap();
        assert_eq!(certificate_key(&cert).unwrap(), key.public_key());
        let pins = ModulePins::keys([key.public_key().to_vec()]);
        assert!(pins.allows(key.public_key()));
        pins.replace([]);
        assert!(!pins.allows(key.public_key()));
        assert!(ModulePins::any().allows(b"anything"));
    }
}
