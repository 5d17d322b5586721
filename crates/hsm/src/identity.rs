//! A module's identity: a P-384 signing key (also its TLS key) and a P-384
//! agreement key, generated when the module starts or is initialised and
//! held only in memory. A restarted module is a new module.

use strongroom_crypto::{AgreementKeyPair, CryptoError, SigningKeyPair};
use strongroom_hsm_proto::admin::MemberIdentity;
use uuid::Uuid;

/// The module's identity keys. No `Clone`; `Debug` shows public parts.
#[derive(Debug)]
pub struct Identity {
    /// Module id, new with every identity.
    pub id: Uuid,
    /// Signs tokens, attestations, certificates; authenticates TLS.
    pub signing: SigningKeyPair,
    /// Receives domain keys and recovery shares.
    pub agreement: AgreementKeyPair,
}

impl Identity {
    /// A fresh identity.
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(Self {
            id: Uuid::new_v4(),
            signing: SigningKeyPair::generate()?,
            agreement: AgreementKeyPair::generate()?,
        })
    }

    /// How a domain token lists this module.
    pub fn member(&self, friendly_name: &str) -> MemberIdentity {
        MemberIdentity {
            module_id: self.id,
            friendly_name: friendly_name.to_string(),
            signing_key: self.signing.public_key().to_vec(),
            agreement_key: self.agreement.public_key().to_vec(),
        }
    }

    /// Whether `m` describes this very module (id and both keys).
    pub fn is(&self, m: &MemberIdentity) -> bool {
        m.module_id == self.id
            && m.signing_key == self.signing.public_key()
            && m.agreement_key == self.agreement.public_key()
    }
}
