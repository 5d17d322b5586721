//! Why a module refuses or fails a request.

use serde::{Deserialize, Serialize};

/// Why a module refused or failed a request. Each maps to one AWS error at
/// the HTTP edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum HsmError {
    /// The ciphertext is malformed, tampered with, or the context differs.
    #[error("the ciphertext is invalid or does not match its encryption context")]
    InvalidCiphertext,
    /// The EKT is malformed, from another domain, or not for this key.
    #[error("the key token is invalid for this module")]
    InvalidKeyToken,
    /// The request's parameters are out of range.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// A stored credential could not be opened.
    #[error("the credential is invalid")]
    InvalidCredential,
    /// The import token is not valid for this key (forged, or another key's).
    #[error("the import token is invalid")]
    InvalidImportToken,
    /// The import token has expired.
    #[error("the import token has expired")]
    ExpiredImportToken,
    /// The imported material could not be unwrapped.
    #[error("the encrypted key material could not be decrypted")]
    UndecryptableMaterial,
    /// The unwrapped material is not usable key material for the key.
    #[error("{0}")]
    IncorrectKeyMaterial(String),
    /// The key's spec does not allow this operation.
    #[error("{0}")]
    WrongKeyUsage(String),
    /// A volatile key this module does not hold (it restarted since).
    #[error("the volatile key material is not in this module")]
    VolatileKeyGone,
    /// The module is in the wrong mode for this request.
    #[error("{0}")]
    WrongMode(String),
    /// The module does not hold the domain key this request needs.
    #[error("this module holds no key for {0}")]
    NoDomainKey(String),
    /// The connecting host is not allowed to use the domain.
    #[error("host not authorised: {0}")]
    HostNotAuthorized(String),
    /// An operator command was refused; nothing changed.
    #[error("command refused ({reason:?}): {detail}")]
    CommandRefused {
        /// Which check failed.
        reason: Refusal,
        /// What exactly, for the operator.
        detail: String,
    },
    /// The module cannot answer (stopped, channel closed).
    #[error("security module unavailable: {0}")]
    Unavailable(String),
    /// A fault inside the module.
    #[error("security module internal error: {0}")]
    Internal(String),
}

/// Why an operator command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Refusal {
    /// The command or a token inside it could not be decoded.
    Malformed,
    /// Addressed to another module or domain.
    WrongTarget,
    /// Past its expiry.
    Expired,
    /// Its nonce was already used.
    Replayed,
    /// Signed by a key that is not an operator of the domain.
    UnknownOperator,
    /// A signature does not verify.
    InvalidSignature,
    /// Fewer valid signatures than the quorum rule needs.
    QuorumNotMet,
    /// Not allowed in the module's current mode.
    WrongMode,
    /// A domain token failed verification (issuer, epoch, membership, MAC).
    InvalidToken,
    /// The command's own preconditions do not hold.
    NotAllowed,
    /// Prepared for another epoch of the domain than the module holds: the
    /// domain changed since (or the module has not caught up).
    StaleEpoch,
}

impl HsmError {
    /// Whether another member of the domain might serve the request: the
    /// module is gone, has lost its keys, or is in service mode.
    pub fn retry_elsewhere(&self) -> bool {
        matches!(
            self,
            HsmError::Unavailable(_)
                | HsmError::WrongMode(_)
                | HsmError::NoDomainKey(_)
                | HsmError::HostNotAuthorized(_)
                | HsmError::VolatileKeyGone
        )
    }
}
