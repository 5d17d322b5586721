//! VOLATILE keys (extension): material that is never written anywhere,
//! held only in the memory of the live members of the domain. A new key is
//! made by one member and installed in the others through a transient EKT
//! that the frontend forwards and never stores. When every member has
//! restarted, the key is gone for good.

use std::collections::HashMap;

use crate::scope::Requester;
use strongroom_crypto::SecretKey256;
use strongroom_hsm_proto::{HsmError, KeyRef, KeySpecCode, Response, TransientEkt};
use uuid::Uuid;

use crate::ekt;
use crate::module::Module;

/// Volatile keys, by domain and key version. Not evicted; zeroized on
/// drop, erasure, service mode and ForgetKey.
#[derive(Default)]
pub(crate) struct VolatileKeys {
    keys: HashMap<(Uuid, KeyRef), (SecretKey256, KeySpecCode)>,
}

impl VolatileKeys {
    pub(crate) fn get(&self, domain: Uuid, key: KeyRef) -> Option<(&[u8; 32], KeySpecCode)> {
        self.keys.get(&(domain, key)).map(|(k, s)| (k.expose(), *s))
    }

    pub(crate) fn clear(&mut self) -> usize {
        let n = self.keys.len();
        self.keys.clear();
        n
    }

    pub(crate) fn forget(&mut self, key_id: Uuid, domain: Option<Uuid>) -> usize {
        let before = self.keys.len();
        self.keys
            .retain(|(d, k), _| k.key_id != key_id || domain.is_some_and(|only| only != *d));
        before - self.keys.len()
    }
}

impl Module {
    /// GenerateVolatileKey: keep a fresh key in memory; answer a transient
    /// token for the other members (its own kind: no key operation opens
    /// it, so it cannot turn the key into a durable one).
    pub(crate) fn generate_volatile_key(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        spec: KeySpecCode,
    ) -> Result<Response, HsmError> {
        if spec.asymmetric().is_some() {
            return Err(HsmError::InvalidRequest(
                "volatile keys are symmetric or HMAC".into(),
            ));
        }
        let secret = SecretKey256::generate().map_err(|e| HsmError::Internal(e.to_string()))?;
        let dk = self.current_domain(caller)?;
        let domain = dk.id();
        let transient = ekt::seal_transient(dk, key, spec, &secret)?;
        self.volatile.keys.insert((domain, key), (secret, spec));
        Ok(Response::TransientEkt(transient))
    }

    /// InstallVolatileKey: open another member's transient EKT into memory.
    pub(crate) fn install_volatile_key(
        &mut self,
        caller: &Requester,
        key: KeyRef,
        token: &TransientEkt,
    ) -> Result<Response, HsmError> {
        let (domain, generation) = ekt::domain_of_kind(token)?;
        let dk = self.domain_key(caller, domain, generation)?;
        let opened = ekt::open_transient(dk, token)?;
        if opened.key != key || opened.spec.asymmetric().is_some() {
            return Err(HsmError::InvalidKeyToken);
        }
        let secret = opened.secret()?;
        self.volatile
            .keys
            .insert((domain, key), (secret, opened.spec));
        Ok(Response::Done)
    }

    /// The material of a volatile key (an empty EKT names one).
    pub(crate) fn volatile_material(
        &self,
        caller: &Requester,
        key: KeyRef,
    ) -> Result<(&[u8; 32], KeySpecCode), HsmError> {
        let domain = self.current_domain(caller)?.id();
        self.volatile
            .get(domain, key)
            .ok_or(HsmError::VolatileKeyGone)
    }
}
