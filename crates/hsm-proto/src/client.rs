use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::net::{ModuleAddr, spawn_connection};
use crate::{
    AuditSealKey, DataKey, Ekt, HsmError, KeyRef, KeySpecCode, Request, Response, SigV4Scope,
    SigningKey,
};
use zeroize::Zeroizing;

/// Who is asking a module: the process it runs in, or a host authenticated
/// by its TLS key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// The embedded module of `strongroom dev`: same process, same trust.
    InProcess,
    /// A host that proved possession of this key (DER SPKI).
    Host(Arc<[u8]>),
}

/// A request travelling to a module, with its caller and reply slot.
pub type Envelope = (Caller, Request, oneshot::Sender<Result<Response, HsmError>>);

/// Where a dispatched request's answer goes; it may be called later, and
/// from another thread (a module's worker pool).
pub type Answer = Box<dyn FnOnce(Result<Response, HsmError>) + Send>;

/// Something that serves module requests one at a time (the module itself).
pub trait ModuleHandler: Send + 'static {
    /// Answers one request from `caller`.
    fn handle(&mut self, caller: &Caller, request: Request) -> Result<Response, HsmError>;

    /// Takes one request from `caller` and answers it through `answer`,
    /// possibly after returning (a module hands private-key work to its
    /// worker pool). The default answers at once with [`Self::handle`].
    fn dispatch(&mut self, caller: &Caller, request: Request, answer: Answer) {
        answer(self.handle(caller, request));
    }
}

/// Runs `module` as a task on the current tokio runtime, behind a channel,
/// and returns a client. Requests are taken one at a time, in order, and
/// answered in that order unless the module hands some to workers. The
/// task ends when every client is dropped, dropping (and so zeroizing) the
/// module. A task rather than a thread: waking a sleeping thread for every
/// request cost more CPU than the cryptography itself.
pub fn spawn_module_task<M: ModuleHandler>(mut module: M, queue: usize) -> HsmClient {
    let (tx, mut rx) = mpsc::channel::<Envelope>(queue);
    tokio::spawn(async move {
        while let Some((caller, req, reply)) = rx.recv().await {
            module.dispatch(
                &caller,
                req,
                Box::new(move |answer| {
                    let _ = reply.send(answer);
                }),
            );
        }
    });
    HsmClient::from_senders(vec![("in-process".into(), tx)])
}

#[derive(Debug)]
struct Backend {
    name: String,
    tx: mpsc::Sender<Envelope>,
}

/// Told of every call to one module (for metrics): which module (its
/// index in [`HsmClient::module_names`]), how long it took, and whether
/// the module answered or the call failed. Keep it quick and lock-free:
/// it runs on every call.
pub trait CallObserver: Send + Sync + std::fmt::Debug {
    /// One call to module `module` ended after `elapsed`.
    fn module_call(&self, module: usize, elapsed: std::time::Duration, outcome: CallOutcome);
}

/// How a module call ended, as [`CallObserver`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// The module answered (a refusal it gave counts as an answer).
    Answered,
    /// The module refused in a way another module might not (unreachable,
    /// wrong mode, lacks the key or domain key).
    Unavailable,
}

/// The frontend's handle on the modules of its domain. Cheap to clone.
/// With several modules, requests are spread round-robin, and a request a
/// module cannot serve (unreachable, lost its keys, service mode) is retried
/// on the next one.
#[derive(Clone, Debug)]
pub struct HsmClient {
    backends: Arc<[Backend]>,
    placement: Arc<crate::routing::Placement>,
    /// The domain every request that acts in one is sent for.
    domain: Option<uuid::Uuid>,
    /// Told of every module call.
    observer: Option<Arc<dyn CallObserver>>,
}

/// Modules each key is placed on unless configured otherwise.
pub const DEFAULT_REPLICATION: usize = 2;

/// How actionable a failover error is, for picking the one to report.
fn rank(e: &HsmError) -> u8 {
    match e {
        HsmError::NoDomainKey(_) => 3,
        HsmError::HostNotAuthorized(_) => 2,
        HsmError::WrongMode(_) => 1,
        _ => 0,
    }
}

impl HsmClient {
    fn from_senders(backends: Vec<(String, mpsc::Sender<Envelope>)>) -> Self {
        let names = backends.iter().map(|(n, _)| n.clone()).collect();
        Self {
            backends: backends
                .into_iter()
                .map(|(name, tx)| Backend { name, tx })
                .collect(),
            placement: Arc::new(crate::routing::Placement::new(names, DEFAULT_REPLICATION)),
            domain: None,
            observer: None,
        }
    }

    /// Tells `observer` of every module call made through this client and
    /// its clones made afterwards.
    pub fn with_call_observer(mut self, observer: Arc<dyn CallObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Sends every request that acts in a domain as [`Request::InDomain`]
    /// for `domain` (the frontend's domain, from its domain token), so a
    /// module never has to guess which of its domains is meant.
    pub fn with_domain(mut self, domain: uuid::Uuid) -> Self {
        self.domain = Some(domain);
        self
    }

    /// The domain requests are sent for, if set.
    pub fn domain(&self) -> Option<uuid::Uuid> {
        self.domain
    }

    /// Places each key on `replication` modules (see [`crate::routing`]).
    pub fn with_replication(mut self, replication: usize) -> Self {
        self.placement = Arc::new(crate::routing::Placement::new(
            self.module_names(),
            replication,
        ));
        self
    }

    /// Reads every module's placement tags (for pinned keys).
    pub async fn refresh_tags(&self) {
        for i in 0..self.backends.len() {
            if let Ok(Response::Status(s)) = self.call_backend(i, Request::Status).await {
                self.placement.set_tags(i, s.tags);
            }
        }
    }

    /// The modules (by index) a key is placed on.
    pub fn replicas_of(&self, key: uuid::Uuid) -> Vec<usize> {
        self.placement.replicas(key)
    }

    /// A client for modules reached over the network, all members of one
    /// domain, through `tls` (see [`crate::net::host_tls_config`]).
    pub fn remote(addrs: &[ModuleAddr], tls: Arc<rustls::ClientConfig>) -> Self {
        Self::from_senders(
            addrs
                .iter()
                .map(|a| {
                    (
                        a.to_string(),
                        spawn_connection(a.clone(), tls.clone(), 1024),
                    )
                })
                .collect(),
        )
    }

    /// How many modules this client spreads over.
    pub fn module_count(&self) -> usize {
        self.backends.len()
    }

    /// The modules' names (addresses).
    pub fn module_names(&self) -> Vec<String> {
        self.backends.iter().map(|b| b.name.clone()).collect()
    }

    async fn call_backend(&self, i: usize, request: Request) -> Result<Response, HsmError> {
        let Some(observer) = &self.observer else {
            return self.send_to_backend(i, request).await;
        };
        let started = std::time::Instant::now();
        let result = self.send_to_backend(i, request).await;
        let outcome = match &result {
            Err(e) if e.retry_elsewhere() => CallOutcome::Unavailable,
            _ => CallOutcome::Answered,
        };
        observer.module_call(i, started.elapsed(), outcome);
        result
    }

    async fn send_to_backend(&self, i: usize, request: Request) -> Result<Response, HsmError> {
        let request = match self.domain {
            Some(domain) if request.acts_in_domain() => Request::InDomain {
                domain,
                request: Box::new(request),
            },
            _ => request,
        };
        let (tx, rx) = oneshot::channel();
        self.backends[i]
            .tx
            .send((Caller::InProcess, request, tx))
            .await
            .map_err(|_| HsmError::Unavailable("module stopped".into()))?;
        rx.await
            .map_err(|_| HsmError::Unavailable("module dropped the request".into()))?
    }

    /// Sends one request to one module, by index, without failover (for
    /// administration of a particular module).
    pub async fn call_module(&self, i: usize, request: Request) -> Result<Response, HsmError> {
        if i >= self.backends.len() {
            return Err(HsmError::InvalidRequest(format!("no module #{i}")));
        }
        self.call_backend(i, request).await
    }

    /// Sends `request` to every module (ShredKey must reach all); answers
    /// per module, by name.
    pub async fn call_all(&self, request: Request) -> Vec<(String, Result<Response, HsmError>)> {
        let mut out = Vec::with_capacity(self.backends.len());
        for i in 0..self.backends.len() {
            let r = self.call_backend(i, request.clone()).await;
            out.push((self.backends[i].name.clone(), r));
        }
        out
    }

    /// Sends one request and waits for its answer, trying the next module
    /// when one cannot serve it.
    pub async fn call(&self, request: Request) -> Result<Response, HsmError> {
        let n = self.backends.len();
        let pins = crate::routing::pins();
        if n == 1 && pins.is_empty() {
            return self.call_backend(0, request).await;
        }
        if !pins.is_empty() && self.placement.tags_stale() {
            self.refresh_tags().await;
        }
        let order = self
            .placement
            .order_pinned(crate::routing::routing_key(&request), &pins);
        if order.is_empty() {
            return Err(HsmError::Unavailable(format!(
                "no module of group {} is available",
                pins.join(" ")
            )));
        }
        let mut last = None;
        for i in order {
            match self.call_backend(i, request.clone()).await {
                Err(e) if e.retry_elsewhere() => {
                    if matches!(e, HsmError::Unavailable(_)) {
                        self.placement.mark_down(i);
                    }
                    tracing::debug!(module = %self.backends[i].name, error = %e, "retrying on another module");
                    // Report the most actionable answer: a module lacking
                    // the EKT's generation makes the caller reload it.
                    if last.as_ref().is_none_or(|l| rank(&e) >= rank(l)) {
                        last = Some(e);
                    }
                }
                other => {
                    self.placement.mark_up(i);
                    return other;
                }
            }
        }
        Err(last.unwrap_or_else(|| HsmError::Unavailable("no module".into())))
    }

    /// Generates a backing key for `key`, returning its EKT.
    pub async fn generate_backing_key(
        &self,
        key: KeyRef,
        spec: KeySpecCode,
    ) -> Result<Ekt, HsmError> {
        self.call(Request::GenerateBackingKey { key, spec })
            .await?
            .into_ekt()
    }

    /// Encrypts `plaintext` under `key`.
    pub async fn encrypt(
        &self,
        key: KeyRef,
        ekt: Ekt,
        plaintext: Zeroizing<Vec<u8>>,
        context: Vec<u8>,
    ) -> Result<Vec<u8>, HsmError> {
        let request = Request::Encrypt {
            key,
            ekt,
            plaintext,
            context,
        };
        self.call(request).await?.into_ciphertext()
    }

    /// Decrypts `ciphertext` with the version `ekt` holds.
    pub async fn decrypt(
        &self,
        ekt: Ekt,
        ciphertext: Vec<u8>,
        context: Vec<u8>,
    ) -> Result<(KeyRef, Zeroizing<Vec<u8>>), HsmError> {
        let request = Request::Decrypt {
            ekt,
            ciphertext,
            context,
        };
        self.call(request).await?.into_plaintext()
    }

    /// Re-encrypts inside the module.
    pub async fn re_encrypt(&self, request: Request) -> Result<Vec<u8>, HsmError> {
        self.call(request).await?.into_ciphertext()
    }

    /// Generates a data key of `length` bytes under `key`.
    pub async fn generate_data_key(
        &self,
        key: KeyRef,
        ekt: Ekt,
        context: Vec<u8>,
        length: u16,
        with_plaintext: bool,
    ) -> Result<DataKey, HsmError> {
        let request = Request::GenerateDataKey {
            key,
            ekt,
            context,
            length,
            with_plaintext,
        };
        self.call(request).await?.into_data_key()
    }

    /// `length` random bytes.
    pub async fn generate_random(&self, length: u16) -> Result<Vec<u8>, HsmError> {
        self.call(Request::GenerateRandom { length })
            .await?
            .into_random()
    }

    /// Seals a secret access key.
    pub async fn seal_credential(
        &self,
        access_key_id: String,
        secret: Zeroizing<String>,
    ) -> Result<Vec<u8>, HsmError> {
        let request = Request::SealCredential {
            access_key_id,
            secret,
        };
        self.call(request).await?.into_sealed_credential()
    }

    /// The domain's audit seal over `message` (see [`Request::SignAuditSeal`]):
    /// the key that made it and the signature.
    pub async fn sign_audit_seal(
        &self,
        message: Vec<u8>,
    ) -> Result<(AuditSealKey, Vec<u8>), HsmError> {
        self.call(Request::SignAuditSeal { message })
            .await?
            .into_audit_seal()
    }

    /// The domain's audit seal public keys, one per key generation.
    pub async fn audit_seal_keys(&self) -> Result<Vec<AuditSealKey>, HsmError> {
        self.call(Request::AuditSealKeys)
            .await?
            .into_audit_seal_keys()
    }

    /// Derives the SigV4 signing key for a sealed credential and scope.
    pub async fn derive_sigv4_key(
        &self,
        access_key_id: String,
        sealed: Vec<u8>,
        scope: SigV4Scope,
    ) -> Result<SigningKey, HsmError> {
        let request = Request::DeriveSigV4Key {
            access_key_id,
            sealed,
            scope,
        };
        self.call(request).await?.into_signing_key()
    }

    /// The HMAC of `message` under `key`.
    pub async fn generate_mac(
        &self,
        key: KeyRef,
        ekt: Ekt,
        message: Zeroizing<Vec<u8>>,
    ) -> Result<Vec<u8>, HsmError> {
        self.call(Request::GenerateMac { key, ekt, message })
            .await?
            .into_mac()
    }

    /// Whether `mac` is the HMAC of `message` under `key`.
    pub async fn verify_mac(
        &self,
        key: KeyRef,
        ekt: Ekt,
        message: Zeroizing<Vec<u8>>,
        mac: Vec<u8>,
    ) -> Result<bool, HsmError> {
        let request = Request::VerifyMac {
            key,
            ekt,
            message,
            mac,
        };
        self.call(request).await?.into_valid()
    }

    /// Drops a key's cached backing keys from the module.
    pub async fn forget_key(&self, key_id: uuid::Uuid) -> Result<(), HsmError> {
        self.call(Request::ForgetKey { key_id }).await?.into_done()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in module that always answers the same way.
    struct Answers(Option<HsmError>);

    impl ModuleHandler for Answers {
        fn handle(&mut self, _: &Caller, _: Request) -> Result<Response, HsmError> {
            match &self.0 {
                Some(e) => Err(e.clone()),
                None => Ok(Response::Random(vec![7])),
            }
        }
    }

    fn router(answers: Vec<Option<HsmError>>) -> HsmClient {
        let senders = answers
            .into_iter()
            .enumerate()
            .map(|(i, a)| {
                let one = spawn_module_task(Answers(a), 8);
                (format!("m{i}"), one.backends[0].tx.clone())
            })
            .collect();
        HsmClient::from_senders(senders)
    }

    #[tokio::test]
    async fn fails_over_and_reports_the_most_actionable_error() {
        let down = || Some(HsmError::Unavailable("down".into()));
        let c = router(vec![
            down(),
            None,
            Some(HsmError::WrongMode("service".into())),
        ]);
        for _ in 0..6 {
            assert!(matches!(c.generate_random(1).await, Ok(b) if b == [7]));
        }
        let c = router(vec![
            down(),
            Some(HsmError::NoDomainKey("generation 1".into())),
            Some(HsmError::WrongMode("service".into())),
            down(),
        ]);
        for _ in 0..4 {
            let e = c.generate_random(1).await.unwrap_err();
            assert!(matches!(e, HsmError::NoDomainKey(_)), "{e:?}");
        }
        // Errors a module means (bad input) are not retried elsewhere.
        let c = router(vec![Some(HsmError::InvalidCiphertext), None]);
        let answers: Vec<_> = [c.generate_random(1).await, c.generate_random(1).await]
            .into_iter()
            .map(|r| r.is_ok())
            .collect();
        assert_eq!(answers, [false, true]);
    }
}
