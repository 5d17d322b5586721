//! The module: a state machine answering `hsm-proto` requests. It starts in
//! service mode with no domain; operators' signed commands make it a member
//! of domains and put it in use mode, where it serves cryptography to the
//! hosts its domains allow.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::json;
use strongroom_crypto::{SecretKey256, fill_random};
use strongroom_hsm_proto::admin::{DomainToken, DomainTokenBody, ErasureCertificate};
use strongroom_hsm_proto::ciphertext::CiphertextHeader;
use strongroom_hsm_proto::{
    Caller, DataKey, Ekt, HsmError, KeyRef, KeySpecCode, ModuleHandler, Request, Response,
};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::identity::Identity;
use crate::log::ModuleLog;
use crate::quorum::NonceCache;
use crate::scope::Requester;
use crate::sealed_store::SealedStore;
use crate::token::KeyRing;
use crate::vault::KeyVault;
use crate::{DomainKey, ekt, symmetric};

mod serve;

/// Module settings.
#[derive(Debug, Clone)]
pub struct ModuleConfig {
    /// How many plaintext backing keys the vault keeps.
    pub vault_capacity: usize,
    /// Directory for the module log and the local sealed store; none keeps
    /// nothing on disk (the embedded dev module).
    pub state_dir: Option<PathBuf>,
    /// SHA-384 of the executable and configuration, for attestation.
    pub measurement: Vec<u8>,
    /// Name until an operator sets one.
    pub friendly_name: String,
    /// Placement tags (`KEY=VALUE`), reported in Status.
    pub tags: Vec<String>,
    /// Worker threads for private-key operations (0: none, everything on
    /// the module's own thread); default one per core.
    pub workers: usize,
}

impl Default for ModuleConfig {
    fn default() -> Self {
        Self {
            vault_capacity: 4096,
            state_dir: None,
            measurement: Vec::new(),
            friendly_name: "strongroom-hsm".into(),
            tags: Vec::new(),
            workers: crate::workers::default_workers(),
        }
    }
}

/// The module's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Administration only; no domain or customer key in memory.
    Service,
    /// Cryptography only (plus status and logs).
    Use,
}

impl Mode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Service => "service",
            Mode::Use => "use",
        }
    }
}

/// A domain this module belongs to.
pub(crate) struct Domain {
    /// The latest token body (none for the embedded dev domain).
    pub body: Option<DomainTokenBody>,
    /// The latest token.
    pub token: Option<DomainToken>,
    /// Domain-key generations; empty in service mode.
    pub keys: KeyRing,
}

/// A security module.
pub struct Module {
    pub(crate) identity: Identity,
    pub(crate) friendly_name: String,
    pub(crate) mode: Mode,
    pub(crate) domains: BTreeMap<Uuid, Domain>,
    pub(crate) vault: KeyVault,
    pub(crate) asymmetric: crate::asymmetric::AsymmetricCache,
    /// Threads that run private-key work handed out by this thread.
    pub(crate) workers: crate::workers::WorkerPool,
    pub(crate) volatile: crate::volatile::VolatileKeys,
    /// How many refused commands the log takes per minute.
    pub(crate) refusals: crate::commands::RefusalBudget,
    pub(crate) nonces: NonceCache,
    /// Owner-change statements already carried out (until they expire).
    pub(crate) used_owner_statements: crate::owner::UsedStatements,
    pub(crate) log: Option<ModuleLog>,
    pub(crate) store: Option<SealedStore>,
    pub(crate) config: ModuleConfig,
    pub(crate) installed_update: Option<(Vec<u8>, String)>,
    pub(crate) started: Instant,
    pub(crate) served: u64,
    pub(crate) last_erasure: Option<ErasureCertificate>,
}

/// Why a module could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The state directory could not be used.
    #[error("state directory: {0}")]
    State(String),
    /// Key generation failed.
    #[error("key generation: {0}")]
    Crypto(#[from] strongroom_crypto::CryptoError),
}

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Module {
    /// The embedded dev module: in use mode, member of `domain` only, and
    /// serving only its own process.
    pub fn new(domain: DomainKey, config: ModuleConfig) -> Self {
        let mut keys = KeyRing::new();
        let id = domain.id();
        keys.insert(domain.generation(), domain);
        let mut m = Self::blank(config, Identity::generate().expect("key generation"));
        m.mode = Mode::Use;
        m.domains.insert(
            id,
            Domain {
                body: None,
                token: None,
                keys,
            },
        );
        m
    }

    fn blank(config: ModuleConfig, identity: Identity) -> Self {
        let in_flight = std::sync::Arc::new(crate::workers::InFlight::default());
        Self {
            identity,
            friendly_name: config.friendly_name.clone(),
            mode: Mode::Service,
            domains: BTreeMap::new(),
            vault: KeyVault::new(config.vault_capacity),
            asymmetric: crate::asymmetric::AsymmetricCache::new(
                config.vault_capacity / 4,
                in_flight.clone(),
            ),
            workers: crate::workers::WorkerPool::new(config.workers, in_flight),
            volatile: crate::volatile::VolatileKeys::default(),
            refusals: crate::commands::RefusalBudget::default(),
            nonces: NonceCache::default(),
            used_owner_statements: Default::default(),
            log: None,
            store: None,
            config,
            installed_update: None,
            started: Instant::now(),
            served: 0,
            last_erasure: None,
        }
    }

    /// A module process starting: new identity, service mode, no domain.
    /// Opens the log and the sealed store and finishes any interrupted
    /// erasure (the start-up self-test).
    pub fn start(config: ModuleConfig) -> Result<Self, StartError> {
        let mut m = Self::blank(config, Identity::generate()?);
        if let Some(dir) = m.config.state_dir.clone() {
            let log =
                ModuleLog::open(&dir.join("logs")).map_err(|e| StartError::State(e.to_string()))?;
            let store = SealedStore::open(&dir.join("sealed"))
                .map_err(|e| StartError::State(e.to_string()))?;
            m.log = Some(log);
            let leftover = store
                .finish_interrupted_erasure()
                .map_err(|e| StartError::State(e.to_string()))?;
            // Nothing sealed by an earlier process can be opened by this one
            // (its domain keys are gone); remove it rather than keep it.
            let stale = store
                .erase_all()
                .map_err(|e| StartError::State(e.to_string()))?;
            m.store = Some(store);
            m.record(
                "start",
                json!({
                    "module_id": m.identity.id,
                    "signing_key": hex::encode(m.identity.signing.public_key()),
                    "measurement": hex::encode(&m.config.measurement),
                    "mode": "service",
                    "self_test": {
                        "interrupted_erasure_completed": leftover,
                        "stale_sealed_files_erased": stale,
                    },
                }),
            );
        }
        Ok(m)
    }

    /// The module id.
    pub fn id(&self) -> Uuid {
        self.identity.id
    }

    /// The identity signing key (also the TLS key).
    pub fn identity_key(&self) -> &strongroom_crypto::SigningKeyPair {
        &self.identity.signing
    }

    /// The current mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub(crate) fn record(&mut self, event: &str, detail: serde_json::Value) {
        if let Some(log) = self.log.as_mut()
            && let Err(e) = log.append(event, detail)
        {
            tracing::error!(error = %e, "cannot write the module log");
        }
    }

    pub(crate) fn require_use(&self) -> Result<(), HsmError> {
        match self.mode {
            Mode::Use => Ok(()),
            Mode::Service => Err(HsmError::WrongMode(
                "the module is in service mode: cryptographic operations need use mode".into(),
            )),
        }
    }

    /// The backing key (or seed) for `key`, from the vault or by opening
    /// `token`, with its spec.
    fn key_material(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        token: &Ekt,
    ) -> Result<(&[u8; 32], KeySpecCode), HsmError> {
        if token.0.is_empty() {
            // No EKT: a volatile key, in memory or nowhere.
            self.require_use()?;
            return self.volatile_material(caller, key);
        }
        let (domain, generation) = ekt::domain_of(token)?;
        let claimed = ekt::spec_of(token)?;
        self.require_use()?;
        let dk = Self::lookup(&self.domains, caller, domain, generation)?;
        // A hit needs this very token: material cached from another token
        // of the same version (one the store never kept) is not used.
        let digest = strongroom_crypto::sha256(&token.0);
        if self.vault.get(&key, domain, claimed, &digest).is_none() {
            let (opened, spec, secret) = ekt::open(dk, token)?;
            if opened != key || spec != claimed {
                return Err(HsmError::InvalidKeyToken);
            }
            self.vault.insert(key, domain, spec, &secret, digest);
        }
        let material = self
            .vault
            .get(&key, domain, claimed, &digest)
            .expect("just inserted");
        Ok((material, claimed))
    }

    /// The AES backing key of a symmetric encryption key.
    pub(crate) fn backing_key(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        token: &Ekt,
    ) -> Result<&[u8; 32], HsmError> {
        match self.key_material(caller, key, token)? {
            (k, KeySpecCode::SymmetricDefault) => Ok(k),
            (_, spec) => Err(HsmError::WrongKeyUsage(format!(
                "a {spec:?} key cannot encrypt or decrypt"
            ))),
        }
    }

    /// The HMAC key of an HMAC key's version.
    fn hmac_key(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        token: &Ekt,
    ) -> Result<strongroom_crypto::HmacKey, HsmError> {
        let (seed, spec) = self.key_material(caller, key, token)?;
        let alg = spec.hmac().ok_or_else(|| {
            HsmError::WrongKeyUsage(format!("a {spec:?} key cannot generate or verify MACs"))
        })?;
        strongroom_crypto::HmacKey::derive(seed, alg).map_err(|e| HsmError::Internal(e.to_string()))
    }

    fn decrypt(
        &mut self,
        caller: &Requester,
        token: &Ekt,
        blob: &[u8],
        context: &[u8],
    ) -> Result<(KeyRef, Zeroizing<Vec<u8>>), HsmError> {
        // Mode first: a module without keys says so, so the host retries
        // elsewhere, rather than judging the ciphertext.
        self.require_use()?;
        let header = CiphertextHeader::parse(blob).map_err(|_| HsmError::InvalidCiphertext)?;
        let backing = self.backing_key(caller, header.key, token)?;
        let plain = symmetric::decrypt(backing, &header, blob, context)?;
        Ok((header.key, plain))
    }

    fn generate_backing_key(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        spec: KeySpecCode,
    ) -> Result<Ekt, HsmError> {
        if spec.asymmetric().is_some() {
            return self.generate_key_pair(caller, key, spec);
        }
        let secret = SecretKey256::generate().map_err(|e| HsmError::Internal(e.to_string()))?;
        let dk = self.current_domain(caller)?;
        let domain = dk.id();
        let token = ekt::seal(dk, key, spec, &secret)?;
        self.vault.insert(
            key,
            domain,
            spec,
            &secret,
            strongroom_crypto::sha256(&token.0),
        );
        Ok(token)
    }

    fn generate_data_key(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        token: &Ekt,
        context: &[u8],
        length: u16,
        with_plaintext: bool,
    ) -> Result<DataKey, HsmError> {
        if !(1..=1024).contains(&length) {
            return Err(HsmError::InvalidRequest(
                "data key length must be 1-1024 bytes".into(),
            ));
        }
        let mut plain = Zeroizing::new(vec![0u8; usize::from(length)]);
        fill_random(&mut plain).map_err(|e| HsmError::Internal(e.to_string()))?;
        let backing = self.backing_key(caller, key, token)?;
        let ciphertext = symmetric::encrypt(backing, key, &plain, context)?;
        Ok(DataKey {
            plaintext: with_plaintext.then_some(plain),
            ciphertext,
        })
    }
}

impl ModuleHandler for Module {
    fn handle(&mut self, caller: &Caller, request: Request) -> Result<Response, HsmError> {
        let (requester, request) = self.admit(caller, request)?;
        self.serve(&requester, request)
    }

    fn dispatch(
        &mut self,
        caller: &Caller,
        request: Request,
        answer: strongroom_hsm_proto::Answer,
    ) {
        self.dispatch_request(caller, request, answer);
    }
}
