//! The audit seal requests' constants and key type (`Request::SignAuditSeal`,
//! `Request::AuditSealKeys`; docs/formats.md, "Audit seal").

use serde::{Deserialize, Serialize};

/// What the module prefixes to every message it signs for
/// [`crate::Request::SignAuditSeal`].
pub const AUDIT_SEAL_CONTEXT: &[u8] = b"strongroom audit seal v1\0";

/// The largest message [`crate::Request::SignAuditSeal`] accepts (a footer or a
/// receipt message is a few hundred bytes).
pub const MAX_AUDIT_SEAL_MESSAGE: usize = 1024;

/// One audit seal public key of a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditSealKey {
    /// The domain-key generation it is derived from.
    pub generation: u32,
    /// The raw 32-byte Ed25519 public key.
    pub public_key: Vec<u8>,
}
