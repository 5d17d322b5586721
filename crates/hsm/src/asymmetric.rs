//! Asymmetric customer keys in the module: generation (sealed as v2 EKTs),
//! a bounded cache of opened key pairs, Sign, Verify, GetPublicKey and
//! RSA-OAEP. Private keys leave the module only sealed.
//!
//! The checks run on the module's thread; the cryptography is returned as
//! an [`Offload`] for a worker (see `workers`), holding a shared handle on
//! the cached pair for the length of one operation.

use std::collections::HashMap;
use std::sync::Arc;

use crate::scope::Requester;
use strongroom_crypto::{AsymmetricKey, OaepHash, SigningAlgorithm};
use strongroom_hsm_proto::{Ekt, HsmError, KeyRef, KeySpecCode, Request, Response};
use uuid::Uuid;

use crate::ekt;
use crate::module::Module;
use crate::workers::InFlight;

mod jobs;

/// A cached pair: a handle on it, the SHA-256 of the token it came from,
/// and its last use.
type Cached = (Arc<AsymmetricKey>, [u8; 32], u64);

/// Opened key pairs, most recently used kept. Their private halves live in
/// the crypto library's memory (locked when the daemon could mlockall) and
/// are freed (cleansed) when the last handle goes: on eviction, or when the
/// worker job running with an evicted pair ends.
pub(crate) struct AsymmetricCache {
    /// Each pair with the SHA-256 of the token it came from (a hit needs
    /// the same token, as in the vault) and its last use.
    keys: HashMap<(Uuid, KeyRef), Cached>,
    capacity: usize,
    tick: u64,
    /// Worker jobs holding handles (or other material) now.
    in_flight: Arc<InFlight>,
}

impl AsymmetricCache {
    /// A cache of at most `capacity` key pairs, whose handles worker jobs
    /// register in `in_flight`.
    pub(crate) fn new(capacity: usize, in_flight: Arc<InFlight>) -> Self {
        Self {
            keys: HashMap::new(),
            capacity: capacity.max(1),
            tick: 0,
            in_flight,
        }
    }

    fn get(&mut self, domain: Uuid, key: KeyRef, token: &[u8; 32]) -> Option<&Arc<AsymmetricKey>> {
        self.tick += 1;
        let tick = self.tick;
        self.keys
            .get_mut(&(domain, key))
            .filter(|(_, from, _)| from == token)
            .map(|(k, _, used)| {
                *used = tick;
                &*k
            })
    }

    fn insert(&mut self, domain: Uuid, key: KeyRef, pair: AsymmetricKey, token: [u8; 32]) {
        if self.keys.len() >= self.capacity
            && let Some(oldest) = self
                .keys
                .iter()
                .min_by_key(|(_, (_, _, used))| *used)
                .map(|(k, _)| *k)
        {
            self.keys.remove(&oldest);
        }
        self.tick += 1;
        self.keys
            .insert((domain, key), (Arc::new(pair), token, self.tick));
    }

    /// Drops every key pair, refuses the worker jobs still queued and waits
    /// for the running ones, so no worker holds any material afterwards;
    /// returns how many pairs there were.
    pub(crate) fn clear(&mut self) -> usize {
        let n = self.keys.len();
        self.in_flight.refuse_queued();
        self.keys.clear();
        self.in_flight.wait_released(None);
        n
    }

    /// Drops every version of `key_id` of `domain` (of any when none), and
    /// waits until no worker job holds material of `key_id`.
    pub(crate) fn forget(&mut self, key_id: Uuid, domain: Option<Uuid>) -> usize {
        let before = self.keys.len();
        self.keys
            .retain(|(d, k), _| k.key_id != key_id || domain.is_some_and(|only| only != *d));
        self.in_flight.wait_released(Some(key_id));
        before - self.keys.len()
    }

    /// Weak handles on the cached pairs of `key_id`, to watch them go.
    #[cfg(test)]
    pub(crate) fn handles(&self, key_id: Uuid) -> Vec<std::sync::Weak<AsymmetricKey>> {
        self.keys
            .iter()
            .filter(|((_, k), _)| k.key_id == key_id)
            .map(|(_, (pair, _, _))| Arc::downgrade(pair))
            .collect()
    }

    /// Key pairs held.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

fn usage(msg: impl Into<String>) -> HsmError {
    HsmError::WrongKeyUsage(msg.into())
}

fn signing_algorithm(name: &str) -> Result<SigningAlgorithm, HsmError> {
    SigningAlgorithm::from_aws(name)
        .ok_or_else(|| HsmError::InvalidRequest(format!("unknown signing algorithm {name}")))
}

/// Checks a Sign/Verify message against the algorithm: a digest only for
/// algorithms that sign one (not Ed25519 or ML-DSA), of the hash's length.
fn check_message(alg: SigningAlgorithm, digest: bool, len: usize) -> Result<(), HsmError> {
    if !digest {
        return Ok(());
    }
    let name = alg.aws_name();
    match alg.digest_len() {
        Some(want) if alg.takes_digest() && want == len => Ok(()),
        Some(want) if alg.takes_digest() => Err(HsmError::InvalidRequest(format!(
            "the digest must be {want} bytes for {name}"
        ))),
        _ => Err(HsmError::InvalidRequest(format!(
            "{name} signs the message itself, not a digest"
        ))),
    }
}

fn oaep(name: &str) -> Result<OaepHash, HsmError> {
    OaepHash::from_aws(name).ok_or_else(|| usage(format!("{name} is not an RSA-OAEP algorithm")))
}

impl Module {
    /// Generates an asymmetric key pair and seals it as a v2 EKT.
    pub(crate) fn generate_key_pair(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        spec: KeySpecCode,
    ) -> Result<Ekt, HsmError> {
        let asym = spec
            .asymmetric()
            .ok_or_else(|| usage(format!("{spec:?} is not asymmetric")))?;
        let pair = AsymmetricKey::generate(asym).map_err(|e| HsmError::Internal(e.to_string()))?;
        let dk = self.current_domain(caller)?;
        let domain = dk.id();
        let token = ekt::seal_material(dk, key, spec, pair.expose_pkcs8())?;
        let digest = strongroom_crypto::sha256(&token.0);
        self.asymmetric.insert(domain, key, pair, digest);
        Ok(token)
    }

    /// The opened key pair for `key`, from the cache or by opening `token`.
    fn key_pair(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        token: &Ekt,
    ) -> Result<Arc<AsymmetricKey>, HsmError> {
        let (domain, generation) = ekt::domain_of(token)?;
        let claimed = ekt::spec_of(token)?;
        let asym = claimed
            .asymmetric()
            .ok_or_else(|| usage(format!("a {claimed:?} key is not asymmetric")))?;
        self.domain_key(caller, domain, generation)?;
        let digest = strongroom_crypto::sha256(&token.0);
        let cached = self
            .asymmetric
            .get(domain, key, &digest)
            .is_some_and(|k| k.spec() == asym);
        if !cached {
            let dk = Module::lookup(&self.domains, caller, domain, generation)?;
            let (opened, spec, pkcs8) = ekt::open_material(dk, token)?;
            if opened != key || spec != claimed {
                return Err(HsmError::InvalidKeyToken);
            }
            let pair =
                AsymmetricKey::from_pkcs8(asym, &pkcs8).map_err(|_| HsmError::InvalidKeyToken)?;
            self.asymmetric.insert(domain, key, pair, digest);
        }
        Ok(self
            .asymmetric
            .get(domain, key, &digest)
            .expect("just inserted")
            .clone())
    }

    /// Sign, Verify, GetPublicKey, AsymmetricDecrypt, AsymmetricEncrypt,
    /// DeriveSharedSecret, GenerateDataKeyPair, answered on this thread.
    pub(crate) fn handle_asymmetric(
        &mut self,
        caller: &Requester,
        request: Request,
    ) -> Result<Response, HsmError> {
        let job = self.asymmetric_job(caller, request)?;
        (job.work)()
    }
}
