//! Module maintenance requests: re-wrapping EKTs and sealed credentials
//! under the newest domain-key generation, and shredding a key's copies.

use crate::scope::Requester;
use serde_json::json;
use strongroom_hsm_proto::admin::{encode, prefixed};
use strongroom_hsm_proto::{Ekt, HsmError, Response};
use uuid::Uuid;

use crate::credential;
use crate::ekt;
use crate::module::{Module, now_secs};

impl Module {
    pub(crate) fn rewrap(
        &mut self,
        caller: &Requester,
        ekts: Vec<Ekt>,
    ) -> Result<Vec<Ekt>, HsmError> {
        ekts.into_iter()
            .map(|token| {
                let (domain, generation) = ekt::domain_of(&token)?;
                let old = self.domain_key(caller, domain, generation)?;
                let d = &self.domains[&domain];
                let newest = d
                    .keys
                    .values()
                    .next_back()
                    .expect("a loaded domain has keys");
                // Key EKTs only (their type says so), each verified even
                // when already current, keeping the bound suspension owner:
                // re-wrapping never changes what a token is. A legacy
                // (v1/v2) token stays legacy: it may be a VOLATILE
                // transient token a frontend kept, which must never come
                // back as a current key token.
                let o = ekt::open_key(old, &token)?;
                if newest.generation() == generation {
                    return Ok(token);
                }
                if o.legacy {
                    return ekt::reseal_legacy(newest, o.key, o.spec, &o.material);
                }
                ekt::seal_key(newest, o.key, o.spec, &o.material, o.owner)
            })
            .collect()
    }

    pub(crate) fn rewrap_credentials(
        &mut self,
        caller: &Requester,
        credentials: Vec<(String, Vec<u8>)>,
    ) -> Result<Vec<Vec<u8>>, HsmError> {
        let newest = self.current_domain(caller)?;
        let domain = newest.id();
        credentials
            .into_iter()
            .map(|(id, sealed)| {
                let generation = credential::generation_of(&sealed)?;
                if generation == newest.generation() {
                    return Ok(sealed);
                }
                let old = self.domain_key(caller, domain, generation)?;
                credential::reseal(old, newest, &id, &sealed)
            })
            .collect()
    }

    /// Zeroizes every cached copy of `key_id` in the request's domain and
    /// signs a statement.
    pub(crate) fn shred(&mut self, caller: &Requester, key_id: Uuid) -> Result<Response, HsmError> {
        use strongroom_hsm_proto::admin::{
            SHRED_SIGNING_PREFIX, ShredStatement, ShredStatementBody,
        };
        self.require_use()?;
        let dropped = self.forget_key(caller, key_id);
        let body = encode(&ShredStatementBody {
            module_id: self.identity.id,
            signing_key: self.identity.signing.public_key().to_vec(),
            key_id,
            shredded_at: now_secs(),
            cached_copies_dropped: dropped as u32,
        });
        let signature = self
            .identity
            .signing
            .sign(&prefixed(SHRED_SIGNING_PREFIX, &body))
            .map_err(|e| HsmError::Internal(e.to_string()))?;
        self.record(
            "shred",
            json!({"key_id": key_id, "cached_copies_dropped": dropped}),
        );
        Ok(Response::Shredded(ShredStatement { body, signature }))
    }
}
