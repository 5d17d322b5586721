//! Operator commands, quorum rules, domain tokens, attestation reports and
//! erasure certificates: what crosses between operators, the frontend and
//! modules for administration. Everything here is public or sealed.
//!
//! Canonical encoding: a signed structure is carried as the exact bytes that
//! were signed (`body`), and the receiver decodes those bytes. There is no
//! re-serialisation, so there is nothing to canonicalise.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::reports::{
    AttestationBody, AttestationReport, DomainSummary, ErasureBody, ErasureCertificate, LogInfo,
    ModuleStatus, ShredStatement, ShredStatementBody,
};

/// Domain-separation prefix of the bytes an operator signs.
/// v2: the body carries the epoch of the domain the command is for.
pub const COMMAND_SIGNING_PREFIX: &[u8] = b"strongroom operator command v2\0";
/// Domain-separation prefix of the bytes a module signs for a domain token.
pub const TOKEN_SIGNING_PREFIX: &[u8] = b"strongroom domain token v1\0";
/// Domain-separation prefix of an attestation report's signed bytes.
pub const ATTESTATION_SIGNING_PREFIX: &[u8] = b"strongroom attestation v1\0";
/// Domain-separation prefix of an erasure certificate's signed bytes.
pub const ERASURE_SIGNING_PREFIX: &[u8] = b"strongroom erasure certificate v1\0";
/// Domain-separation prefix of a module's shred statement.
pub const SHRED_SIGNING_PREFIX: &[u8] = b"strongroom shred statement v1\0";
/// Domain-separation prefix of a log-deletion receipt's signed bytes.
pub const LOG_RECEIPT_SIGNING_PREFIX: &[u8] = b"strongroom log receipt v1\0";

/// The label an escrowed share is sealed under (to an operator).
pub fn escrow_label(domain: Uuid, generation: u32) -> Vec<u8> {
    share_label(b"strongroom escrow share v1", domain, generation)
}

/// The label a recovery share is sealed under (to a fresh module).
pub fn recovery_label(domain: Uuid, generation: u32) -> Vec<u8> {
    share_label(b"strongroom recovery share v1", domain, generation)
}

fn share_label(prefix: &[u8], domain: Uuid, generation: u32) -> Vec<u8> {
    let mut l = prefix.to_vec();
    l.extend_from_slice(domain.as_bytes());
    l.extend_from_slice(&generation.to_be_bytes());
    l
}

/// Operator permission bits.
pub mod permission {
    /// Module administration: initialise, name, modes, code updates.
    pub const MODULE_ADMIN: u32 = 1;
    /// Domain membership: create, add/remove members and hosts, ingest.
    pub const DOMAIN_MEMBERSHIP: u32 = 2;
    /// Operator set: add/remove operators.
    pub const OPERATORS: u32 = 4;
    /// Domain keys: rotate, retire.
    pub const DOMAIN_KEYS: u32 = 8;
    /// Module logs: delete.
    pub const LOGS: u32 = 16;
    /// Recovery: provide escrowed shares to a fresh module.
    pub const RECOVERY: u32 = 32;
    /// Every permission.
    pub const ALL: u32 = 63;
}

/// An operator: a public signing key with permissions, and an agreement key
/// that escrowed domain-key shares are sealed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operator {
    /// A human name, for logs and error messages.
    pub name: String,
    /// ECDSA P-384 public key, DER SubjectPublicKeyInfo.
    pub signing_key: Vec<u8>,
    /// ECDH P-384 public key, DER SubjectPublicKeyInfo.
    pub agreement_key: Vec<u8>,
    /// Permission bits ([`permission`]).
    pub permissions: u32,
}

/// The kinds of signed command, for quorum rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CommandKind {
    /// [`Command::InitializeModule`] (module administration).
    InitializeModule,
    /// [`Command::SetFriendlyName`] (module administration).
    SetFriendlyName,
    /// [`Command::InstallUpdate`] (module administration).
    InstallUpdate,
    /// [`Command::EnterUseMode`] (module administration).
    EnterUseMode,
    /// [`Command::EnterServiceMode`] (module administration).
    EnterServiceMode,
    /// [`Command::CreateDomain`] (domain membership).
    CreateDomain,
    /// [`Command::IngestDomain`] (domain membership).
    IngestDomain,
    /// [`Command::AddMember`] (domain membership).
    AddMember,
    /// [`Command::RemoveMember`] (domain membership).
    RemoveMember,
    /// [`Command::AddOperator`] (operator set).
    AddOperator,
    /// [`Command::RemoveOperator`] (operator set).
    RemoveOperator,
    /// [`Command::AddHost`] (domain membership).
    AddHost,
    /// [`Command::RemoveHost`] (domain membership).
    RemoveHost,
    /// [`Command::RotateDomainKey`] (domain keys).
    RotateDomainKey,
    /// [`Command::RetireDomainKey`] (domain keys).
    RetireDomainKey,
    /// [`Command::RecoverDomain`] (recovery).
    RecoverDomain,
    /// [`Command::DeleteLog`] (logs).
    DeleteLog,
}

impl CommandKind {
    /// Every kind.
    pub const ALL: [CommandKind; 17] = [
        Self::InitializeModule,
        Self::SetFriendlyName,
        Self::InstallUpdate,
        Self::EnterUseMode,
        Self::EnterServiceMode,
        Self::CreateDomain,
        Self::IngestDomain,
        Self::AddMember,
        Self::RemoveMember,
        Self::AddOperator,
        Self::RemoveOperator,
        Self::AddHost,
        Self::RemoveHost,
        Self::RotateDomainKey,
        Self::RetireDomainKey,
        Self::RecoverDomain,
        Self::DeleteLog,
    ];

    /// The permission an operator needs for their signature to count.
    pub fn required_permission(self) -> u32 {
        use permission::*;
        match self {
            Self::InitializeModule
            | Self::SetFriendlyName
            | Self::InstallUpdate
            | Self::EnterUseMode
            | Self::EnterServiceMode => MODULE_ADMIN,
            Self::CreateDomain
            | Self::IngestDomain
            | Self::AddMember
            | Self::RemoveMember
            | Self::AddHost
            | Self::RemoveHost => DOMAIN_MEMBERSHIP,
            Self::AddOperator | Self::RemoveOperator => OPERATORS,
            Self::RotateDomainKey | Self::RetireDomainKey => DOMAIN_KEYS,
            Self::RecoverDomain => RECOVERY,
            Self::DeleteLog => LOGS,
        }
    }
}

/// M signatures, from operators holding the command's permission, are
/// needed for `command`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumRule {
    /// The command the rule governs.
    pub command: CommandKind,
    /// Signatures needed.
    pub threshold: u8,
}

impl QuorumRule {
    /// The same threshold for every command.
    pub fn uniform(threshold: u8) -> Vec<QuorumRule> {
        CommandKind::ALL
            .iter()
            .map(|&command| QuorumRule { command, threshold })
            .collect()
    }
}

/// What a command is addressed to. A command for one module or domain is
/// refused by every other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// One module, by its (per-process) id.
    Module(Uuid),
    /// A domain, on any of its members.
    Domain(Uuid),
}

/// A module's public identity, as listed in a domain token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberIdentity {
    /// The module id (new on every start).
    pub module_id: Uuid,
    /// Friendly name.
    pub friendly_name: String,
    /// ECDSA P-384 public key (also its TLS key), DER SPKI.
    pub signing_key: Vec<u8>,
    /// ECDH P-384 public key the domain keys are wrapped to, DER SPKI.
    pub agreement_key: Vec<u8>,
}

/// An operator command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Wipe the module, take a new identity and a friendly name.
    InitializeModule {
        /// The name the module reports in Status, attestations and tokens.
        friendly_name: String,
    },
    /// Rename the module.
    SetFriendlyName {
        /// The new name.
        friendly_name: String,
    },
    /// Accept a code update whose package has this SHA-384.
    InstallUpdate {
        /// SHA-384 of the update package (48 bytes), reported in attestations.
        package_sha384: Vec<u8>,
        /// The package's version, as operators name it.
        version: String,
    },
    /// Leave service mode; domain keys are unwrapped again.
    EnterUseMode,
    /// Destroy every domain and customer key in memory, then administer.
    EnterServiceMode,
    /// Create a domain with this module as its first member.
    CreateDomain {
        /// The domain's operators.
        operators: Vec<Operator>,
        /// Quorum rules.
        rules: Vec<QuorumRule>,
        /// Host (frontend) public keys allowed to use the domain, DER SPKI.
        hosts: Vec<Vec<u8>>,
        /// Shares needed to recover the domain key from escrow.
        escrow_threshold: u8,
        /// A domain-key generation may be retired only this long after the
        /// next one was created.
        min_generation_lifespan_secs: u64,
    },
    /// Take in a domain token (join, or move to a later epoch).
    IngestDomain {
        /// A token a member issued; a later epoch than the module holds, if any.
        token: DomainToken,
    },
    /// Add a member; the domain keys are wrapped to it.
    AddMember {
        /// The new member's identity, as its attestation report states it.
        member: MemberIdentity,
    },
    /// Remove a member from later epochs.
    RemoveMember {
        /// The member to remove; never the module receiving the command.
        module_id: Uuid,
    },
    /// Add an operator.
    AddOperator {
        /// The new operator; the quorum and escrow rules must stay satisfiable.
        operator: Operator,
    },
    /// Remove an operator, by signing key.
    RemoveOperator {
        /// The operator's signing key, DER SPKI.
        signing_key: Vec<u8>,
    },
    /// Allow a host key to use the domain.
    AddHost {
        /// The host's (frontend's) public key, DER SPKI.
        host_key: Vec<u8>,
    },
    /// Stop allowing a host key.
    RemoveHost {
        /// The host's public key, DER SPKI.
        host_key: Vec<u8>,
    },
    /// Create a new domain-key generation; new EKTs use it.
    RotateDomainKey,
    /// Destroy the oldest generation.
    RetireDomainKey {
        /// The generation to retire (must be the oldest live one).
        generation: u32,
        /// How many stored EKTs still use it, as counted by the frontend
        /// that prepared the command; must be zero.
        ekts_remaining: u64,
    },
    /// Rebuild a domain in a fresh module from escrowed shares.
    RecoverDomain {
        /// The last domain token.
        token: DomainToken,
        /// Shares, each re-sealed by its operator to this module.
        shares: Vec<RecoveryShare>,
    },
    /// Delete a closed log, given a receipt that it was stored elsewhere.
    DeleteLog {
        /// The log, as ListLogs numbers it; never the open one.
        log_id: u64,
        /// SHA-384 of the log as stored elsewhere; must match the file now.
        sha384: Vec<u8>,
    },
}

impl Command {
    /// The command's kind.
    pub fn kind(&self) -> CommandKind {
        match self {
            Self::InitializeModule { .. } => CommandKind::InitializeModule,
            Self::SetFriendlyName { .. } => CommandKind::SetFriendlyName,
            Self::InstallUpdate { .. } => CommandKind::InstallUpdate,
            Self::EnterUseMode => CommandKind::EnterUseMode,
            Self::EnterServiceMode => CommandKind::EnterServiceMode,
            Self::CreateDomain { .. } => CommandKind::CreateDomain,
            Self::IngestDomain { .. } => CommandKind::IngestDomain,
            Self::AddMember { .. } => CommandKind::AddMember,
            Self::RemoveMember { .. } => CommandKind::RemoveMember,
            Self::AddOperator { .. } => CommandKind::AddOperator,
            Self::RemoveOperator { .. } => CommandKind::RemoveOperator,
            Self::AddHost { .. } => CommandKind::AddHost,
            Self::RemoveHost { .. } => CommandKind::RemoveHost,
            Self::RotateDomainKey => CommandKind::RotateDomainKey,
            Self::RetireDomainKey { .. } => CommandKind::RetireDomainKey,
            Self::RecoverDomain { .. } => CommandKind::RecoverDomain,
            Self::DeleteLog { .. } => CommandKind::DeleteLog,
        }
    }
}

/// The signed part of a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandBody {
    /// Module or domain the command is for.
    pub target: Target,
    /// 16 random bytes; a module accepts each nonce once.
    pub nonce: [u8; 16],
    /// Unix seconds after which the command is refused.
    pub expires_at: u64,
    /// For a domain command, the epoch of the domain token it was prepared
    /// from (for `IngestDomain`, the ingested token's epoch): a member whose
    /// domain has moved to another epoch refuses it, so an old command
    /// cannot be replayed to undo a later change. Zero for module commands.
    pub epoch: u64,
    /// What to do.
    pub command: Command,
}

/// One operator's signature over a command body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorSignature {
    /// The operator's signing key, DER SPKI.
    pub signing_key: Vec<u8>,
    /// ECDSA P-384/SHA-384 over [`COMMAND_SIGNING_PREFIX`] ‖ body.
    pub signature: Vec<u8>,
}

/// A command as operators pass it around and a module receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedCommand {
    /// The encoded [`CommandBody`]: exactly the bytes signed.
    pub body: Vec<u8>,
    /// Signatures collected so far.
    pub signatures: Vec<OperatorSignature>,
}

impl SignedCommand {
    /// An unsigned command.
    pub fn new(body: &CommandBody) -> Self {
        Self {
            body: encode(body),
            signatures: Vec::new(),
        }
    }

    /// Decodes the body.
    pub fn decode_body(&self) -> Result<CommandBody, DecodeError> {
        decode(&self.body)
    }

    /// The bytes each operator signs.
    pub fn signing_bytes(&self) -> Vec<u8> {
        prefixed(COMMAND_SIGNING_PREFIX, &self.body)
    }
}

/// One domain-key generation's public facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generation {
    /// Generation number (1, 2, …).
    pub number: u32,
    /// Unix seconds at creation.
    pub created_at: u64,
}

/// A domain-key generation sealed to one member's agreement key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedDomainKey {
    /// The member.
    pub module_id: Uuid,
    /// The generation.
    pub generation: u32,
    /// `seal_to(member.agreement_key, label, key)`.
    pub sealed: Vec<u8>,
}

/// One operator's Shamir share of one generation, sealed to the operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscrowShare {
    /// The operator's signing key, DER SPKI.
    pub operator: Vec<u8>,
    /// The generation.
    pub generation: u32,
    /// The share, sealed to the operator's agreement key.
    pub sealed: Vec<u8>,
}

/// An operator's share re-sealed to a fresh module for recovery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryShare {
    /// The operator's signing key, DER SPKI.
    pub operator: Vec<u8>,
    /// The generation.
    pub generation: u32,
    /// The share, sealed to the recovering module's agreement key.
    pub sealed: Vec<u8>,
}

/// The contents of a domain token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainTokenBody {
    /// The domain.
    pub domain_id: Uuid,
    /// Increases with every change.
    pub epoch: u64,
    /// Unix seconds.
    pub issued_at: u64,
    /// The member that issued (and signed) this token.
    pub issuer: Uuid,
    /// Members.
    pub members: Vec<MemberIdentity>,
    /// Operators.
    pub operators: Vec<Operator>,
    /// Quorum rules.
    pub rules: Vec<QuorumRule>,
    /// Host keys allowed to use the domain (DER SPKI).
    pub hosts: Vec<Vec<u8>>,
    /// Live domain-key generations, oldest first.
    pub generations: Vec<Generation>,
    /// Every live generation wrapped to every member.
    pub wrapped_keys: Vec<WrappedDomainKey>,
    /// Shares needed for recovery.
    pub escrow_threshold: u8,
    /// Escrowed shares of every live generation.
    pub escrow: Vec<EscrowShare>,
    /// Minimum life of a generation after its successor's creation.
    pub min_generation_lifespan_secs: u64,
}

/// A domain token: the signed, portable state of a domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainToken {
    /// Encoded [`DomainTokenBody`].
    pub body: Vec<u8>,
    /// The issuer's ECDSA signature over [`TOKEN_SIGNING_PREFIX`] ‖ body.
    pub signature: Vec<u8>,
    /// HMAC-SHA256 over the body under the newest domain key: only a
    /// member can produce it.
    pub fingerprint: Vec<u8>,
}

impl DomainToken {
    /// Decodes the body (without verifying anything).
    pub fn decode_body(&self) -> Result<DomainTokenBody, DecodeError> {
        decode(&self.body)
    }

    /// Decodes the body and checks the issuer's signature. The issuer must
    /// be a member in `trusted_members` (the members of a token already
    /// trusted), or, on first contact, in the token itself. Only members can
    /// check the fingerprint; anyone can check this.
    pub fn verify_issuer(
        &self,
        trusted_members: Option<&[MemberIdentity]>,
    ) -> Result<DomainTokenBody, String> {
        let body = self.decode_body().map_err(|e| e.to_string())?;
        let members = trusted_members.unwrap_or(&body.members);
        let issuer = members
            .iter()
            .find(|m| m.module_id == body.issuer)
            .ok_or("the token's issuer is not a current member of the domain")?;
        if !strongroom_crypto::verify_p384(
            &issuer.signing_key,
            &prefixed(TOKEN_SIGNING_PREFIX, &self.body),
            &self.signature,
        ) {
            return Err("the token's signature does not verify".into());
        }
        Ok(body)
    }
}

/// The encoding of signed bodies (a format version byte, then postcard;
/// see [`crate::codec`] and docs/formats.md).
pub use crate::codec::{DecodeError, decode, encode};

/// `prefix ‖ body`.
pub fn prefixed(prefix: &[u8], body: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(prefix.len() + body.len());
    v.extend_from_slice(prefix);
    v.extend_from_slice(body);
    v
}
