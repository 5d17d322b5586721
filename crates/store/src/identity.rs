//! Identities below an account: users, roles and service principals.

use crate::Tag;

/// What kind of identity a principal is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A user with long-term access keys.
    User,
    /// A role: temporary credentials only.
    Role,
    /// A data service (a user that may present authentication proofs).
    Service,
    /// An AWS KMS external key store (docs/xks.md): signs XKS proxy API
    /// requests only; its name is its URI path prefix.
    XksKeyStore,
}

impl PrincipalKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::User => "user",
            PrincipalKind::Role => "role",
            PrincipalKind::Service => "service",
            PrincipalKind::XksKeyStore => "xks_key_store",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(PrincipalKind::User),
            "role" => Some(PrincipalKind::Role),
            "service" => Some(PrincipalKind::Service),
            "xks_key_store" => Some(PrincipalKind::XksKeyStore),
            _ => None,
        }
    }
}

/// A user, role or service principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalRecord {
    /// `arn:aws:iam::<account>:user/<name>` or `...:role/<name>`.
    pub arn: String,
    /// Owning account.
    pub account_id: String,
    /// User, role or service.
    pub kind: PrincipalKind,
    /// Name (unique per account and kind).
    pub name: String,
    /// Identity policy (JSON), if any.
    pub policy: Option<String>,
    /// Principal tags (`aws:PrincipalTag/<key>`).
    pub tags: Vec<Tag>,
    /// For a service: the name it is known by in `kms:ViaService`.
    pub service_name: Option<String>,
    /// Epoch seconds.
    pub created_at: i64,
}
