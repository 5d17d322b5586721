//! Audit seals: the frontend's audit footers and receipts signed with the
//! domain's Ed25519 audit seal key (derived from the domain key, see
//! [`crate::DomainKey`]), so that forging one needs a member module.
//!
//! The module signs [`AUDIT_SEAL_CONTEXT`] ‖ message and nothing else with
//! this key: whatever a listed host asks, the signature only ever vouches
//! for an audit seal. Formats in docs/formats.md ("Audit segments").

use strongroom_hsm_proto::{
    AUDIT_SEAL_CONTEXT, AuditSealKey, HsmError, MAX_AUDIT_SEAL_MESSAGE, Response,
};

use crate::DomainKey;
use crate::module::Module;
use crate::scope::Requester;

fn key_of(domain: &DomainKey) -> AuditSealKey {
    AuditSealKey {
        generation: domain.generation(),
        public_key: domain.audit_seal().public_key().to_vec(),
    }
}

impl Module {
    /// Signs `message` with the newest generation's audit seal key of the
    /// domain the request names.
    pub(crate) fn sign_audit_seal(
        &self,
        requester: &Requester,
        message: &[u8],
    ) -> Result<Response, HsmError> {
        if message.len() > MAX_AUDIT_SEAL_MESSAGE {
            return Err(HsmError::InvalidRequest(format!(
                "an audit seal message is at most {MAX_AUDIT_SEAL_MESSAGE} bytes"
            )));
        }
        let domain = self.current_domain(requester)?;
        let mut signed = Vec::with_capacity(AUDIT_SEAL_CONTEXT.len() + message.len());
        signed.extend_from_slice(AUDIT_SEAL_CONTEXT);
        signed.extend_from_slice(message);
        Ok(Response::AuditSeal {
            key: key_of(domain),
            signature: domain.audit_seal().sign(&signed).to_vec(),
        })
    }

    /// The audit seal public key of every generation of the domain the
    /// request names, oldest first.
    pub(crate) fn audit_seal_keys(&self, requester: &Requester) -> Result<Response, HsmError> {
        let domain = self.usable_domain(requester)?;
        Ok(Response::AuditSealKeys(
            domain.keys.values().map(key_of).collect(),
        ))
    }
}
