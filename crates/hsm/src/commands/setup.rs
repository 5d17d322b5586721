//! The commands that set a module up: initialising it, entering use mode,
//! and making, ingesting or recovering a domain (and deleting a log).

use serde_json::json;
use strongroom_hsm_proto::admin::{
    DomainToken, DomainTokenBody, Generation, Operator, QuorumRule, RecoveryShare,
};
use strongroom_hsm_proto::{HsmError, Refusal, Response};

use super::check_governance;
use crate::identity::Identity;
use crate::module::{Mode, Module};
use crate::quorum::refuse;
use crate::token::{self, KeyRing};
use crate::{DomainKey, escrow};

/// What CreateDomain sets: who governs the new domain and which hosts use it.
pub(super) struct NewDomain {
    /// The operators and their permissions.
    pub(super) operators: Vec<Operator>,
    /// The quorum each command needs.
    pub(super) rules: Vec<QuorumRule>,
    /// The hosts allowed to use the domain (DER SPKI).
    pub(super) hosts: Vec<Vec<u8>>,
    /// How many operators' shares recover the domain key.
    pub(super) escrow_threshold: u8,
    /// How long a domain-key generation lives before it may retire.
    pub(super) min_generation_lifespan_secs: u64,
}

impl Module {
    /// InitializeModule: forgets everything, takes a new identity, and
    /// answers its attestation.
    pub(super) fn initialize_module(
        &mut self,
        friendly_name: String,
    ) -> Result<Response, HsmError> {
        self.vault.clear();
        self.asymmetric.clear();
        self.volatile.clear();
        self.domains.clear();
        self.nonces.clear();
        self.identity = Identity::generate().map_err(|e| HsmError::Internal(e.to_string()))?;
        self.friendly_name = friendly_name;
        self.record("initialised", json!({"module_id": self.identity.id, "signing_key": hex::encode(self.identity.signing.public_key())}));
        self.handle_attest()
    }

    /// EnterUseMode: unwraps every held domain's keys, then serves.
    pub(super) fn enter_use_mode(&mut self) -> Result<Response, HsmError> {
        let mut loaded = Vec::new();
        for (id, d) in &self.domains {
            if let (Some(b), Some(t)) = (&d.body, &d.token) {
                loaded.push((*id, token::unwrap_keys(&self.identity, b, t)?));
            }
        }
        for (id, ring) in loaded {
            if let Some(d) = self.domains.get_mut(&id) {
                d.keys = ring;
            }
        }
        self.mode = Mode::Use;
        self.record("mode", json!({"mode": "use"}));
        Ok(Response::Done)
    }

    /// CreateDomain: a new domain with this module its only member.
    pub(super) fn create_domain(&mut self, new: NewDomain, now: u64) -> Result<Response, HsmError> {
        check_governance(&new.operators, &new.rules, new.escrow_threshold)?;
        let key = DomainKey::generate().map_err(|e| HsmError::Internal(e.to_string()))?;
        let mut body = DomainTokenBody {
            domain_id: key.id(),
            epoch: 1,
            issued_at: now,
            issuer: self.identity.id,
            members: vec![self.identity.member(&self.friendly_name)],
            operators: new.operators,
            rules: new.rules,
            hosts: new.hosts,
            generations: vec![Generation {
                number: 1,
                created_at: now,
            }],
            wrapped_keys: vec![],
            escrow_threshold: new.escrow_threshold,
            escrow: vec![],
            min_generation_lifespan_secs: new.min_generation_lifespan_secs,
        };
        let mut keys = KeyRing::new();
        keys.insert(1, key);
        let token = token::issue(&self.identity, &mut body, &keys, now)?;
        self.install(body, token.clone(), keys);
        Ok(Response::DomainToken(token))
    }

    /// IngestDomain: takes in a newer token of a domain this module is a
    /// member of.
    pub(super) fn ingest_domain(&mut self, token: DomainToken) -> Result<Response, HsmError> {
        let b = token
            .decode_body()
            .map_err(|e| refuse(Refusal::InvalidToken, e.to_string()))?;
        if let Some(held) = self.domains.get(&b.domain_id).and_then(|d| d.body.as_ref())
            && b.epoch <= held.epoch
        {
            return Err(refuse(
                Refusal::InvalidToken,
                format!(
                    "epoch must move forward: token has {}, module holds {}",
                    b.epoch, held.epoch
                ),
            ));
        }
        let keys = token::unwrap_keys(&self.identity, &b, &token)?;
        self.install(b, token.clone(), keys);
        Ok(Response::DomainToken(token))
    }

    /// RecoverDomain: rebuilds a domain this module does not hold from the
    /// operators' escrow shares, as its only member.
    pub(super) fn recover_domain(
        &mut self,
        token: DomainToken,
        shares: &[RecoveryShare],
        now: u64,
    ) -> Result<Response, HsmError> {
        let b = token
            .decode_body()
            .map_err(|e| refuse(Refusal::InvalidToken, e.to_string()))?;
        if self.domains.contains_key(&b.domain_id) {
            return Err(refuse(
                Refusal::NotAllowed,
                "this module already holds the domain",
            ));
        }
        let mut keys = KeyRing::new();
        for g in &b.generations {
            let k = escrow::recover(
                &self.identity.agreement,
                b.domain_id,
                g.number,
                b.escrow_threshold,
                &b.operators,
                shares,
            )?;
            keys.insert(g.number, k);
        }
        token::check_fingerprint(&keys, &token)?;
        let mut body = b;
        body.epoch += 1;
        body.members = vec![self.identity.member(&self.friendly_name)];
        let token = token::issue(&self.identity, &mut body, &keys, now)?;
        self.install(body, token.clone(), keys);
        Ok(Response::DomainToken(token))
    }

    /// DeleteLog: removes a closed module log whose hash the operators give.
    pub(super) fn delete_log(&mut self, log_id: u64, sha384: &[u8]) -> Result<Response, HsmError> {
        let log = self
            .log
            .as_mut()
            .ok_or_else(|| refuse(Refusal::NotAllowed, "this module keeps no log"))?;
        log.delete(log_id, sha384)
            .map_err(|e| refuse(Refusal::NotAllowed, e.to_string()))?;
        Ok(Response::Done)
    }
}
