//! Identities below an account: users, roles (temporary credentials only)
//! and service principals; who a request's signer is, as policy sees it.

//! Creating and changing them is administration (`admin::principals`).

use std::sync::Arc;

use strongroom_policy::PolicyDocument;
use strongroom_store::{PrincipalKind, PrincipalRecord};

/// What kind of signer a request has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityKind {
    /// The account's root.
    Root,
    /// A user.
    User,
    /// A role session (temporary credentials).
    AssumedRole,
    /// A data service.
    Service,
    /// An AWS KMS external key store (docs/xks.md).
    XksKeyStore,
}

impl IdentityKind {
    /// CloudTrail's `userIdentity.type`.
    pub fn trail_name(self) -> &'static str {
        match self {
            IdentityKind::Root => "Root",
            IdentityKind::User => "IAMUser",
            IdentityKind::AssumedRole => "AssumedRole",
            IdentityKind::Service => "AWSService",
            IdentityKind::XksKeyStore => "XksKeyStore",
        }
    }
}

/// The signer of a request, resolved from its access key.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Root, user, role session or service.
    pub kind: IdentityKind,
    /// The ARN policies match (`...:root`, `...:user/N`, `...:role/N`).
    pub arn: String,
    /// The ARN the audit trail shows (`arn:aws:sts::A:assumed-role/R/S`
    /// for a role session, else `arn`).
    pub session_arn: String,
    /// Principal tags.
    pub tags: Vec<(String, String)>,
    /// Identity policy.
    pub policy: Option<Arc<PolicyDocument>>,
    /// For a service: the name `kms:ViaService` carries.
    pub service_name: Option<String>,
}

impl Identity {
    /// An account's root.
    pub fn root(account_id: &str) -> Self {
        let arn = format!("arn:aws:iam::{account_id}:root");
        Self {
            kind: IdentityKind::Root,
            session_arn: arn.clone(),
            arn,
            tags: Vec::new(),
            policy: None,
            service_name: None,
        }
    }

    /// The identity of stored principal `p` (for a role, the session named
    /// in `session_arn`).
    pub fn of(p: &PrincipalRecord, session_arn: Option<&str>) -> Result<Self, String> {
        let policy = p
            .policy
            .as_deref()
            .map(|t| PolicyDocument::parse_identity(t).map(Arc::new))
            .transpose()
            .map_err(|e| {
                format!(
                    "stored identity policy of {} does not parse: {}",
                    p.arn, e.0
                )
            })?;
        let kind = match p.kind {
            PrincipalKind::User => IdentityKind::User,
            PrincipalKind::Role => IdentityKind::AssumedRole,
            PrincipalKind::Service => IdentityKind::Service,
            PrincipalKind::XksKeyStore => IdentityKind::XksKeyStore,
        };
        Ok(Self {
            kind,
            arn: p.arn.clone(),
            session_arn: session_arn.unwrap_or(&p.arn).to_string(),
            tags: p
                .tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect(),
            policy,
            service_name: p.service_name.clone(),
        })
    }
}

/// A role ARN from a role-session ARN
/// (`arn:aws:sts::A:assumed-role/R/S` → `arn:aws:iam::A:role/R`).
pub fn role_of_session(session_arn: &str) -> Option<String> {
    let rest = session_arn.strip_prefix("arn:aws:sts::")?;
    let (account, path) = rest.split_once(':')?;
    let role = path.strip_prefix("assumed-role/")?.split('/').next()?;
    Some(format!("arn:aws:iam::{account}:role/{role}"))
}
