//! What modules report and sign about themselves: attestations, erasure
//! certificates, shred statements, status, domains, logs (re-exported from
//! [`crate::admin`]).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A module's signed description of itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationBody {
    /// Module id.
    pub module_id: Uuid,
    /// Friendly name.
    pub friendly_name: String,
    /// SHA-384 over the executable and the configuration.
    pub measurement: Vec<u8>,
    /// The accepted code update, if any (package SHA-384, version).
    pub installed_update: Option<(Vec<u8>, String)>,
    /// Signing key, DER SPKI (the report is signed with it).
    pub signing_key: Vec<u8>,
    /// Agreement key, DER SPKI.
    pub agreement_key: Vec<u8>,
    /// `"use"` or `"service"`.
    pub mode: String,
    /// Domains and their epochs.
    pub domains: Vec<(Uuid, u64)>,
    /// The caller's nonce, echoed.
    pub nonce: Vec<u8>,
    /// Unix seconds.
    pub issued_at: u64,
}

/// A signed attestation report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationReport {
    /// Encoded [`AttestationBody`].
    pub body: Vec<u8>,
    /// Signature by `body.signing_key`.
    pub signature: Vec<u8>,
}

/// What a module erased after a tamper signal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureBody {
    /// The module that erased itself.
    pub module_id: Uuid,
    /// Its signing key, DER SPKI.
    pub signing_key: Vec<u8>,
    /// Unix seconds.
    pub erased_at: u64,
    /// The sensor that fired.
    pub reason: String,
    /// Domains whose keys were destroyed.
    pub domains: Vec<Uuid>,
    /// Customer backing keys zeroized from the vault.
    pub vault_keys: u64,
    /// Files of the local sealed store overwritten and removed.
    pub sealed_files: Vec<String>,
}

/// A signed erasure certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureCertificate {
    /// Encoded [`ErasureBody`].
    pub body: Vec<u8>,
    /// Signature by `body.signing_key`.
    pub signature: Vec<u8>,
}

/// A module's statement that it holds no copy of a key any more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShredStatementBody {
    /// The module.
    pub module_id: Uuid,
    /// Its signing key, DER SPKI.
    pub signing_key: Vec<u8>,
    /// The shredded KMS key.
    pub key_id: Uuid,
    /// Unix seconds.
    pub shredded_at: u64,
    /// Cached copies (versions) it zeroized.
    pub cached_copies_dropped: u32,
}

/// A signed shred statement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShredStatement {
    /// Encoded [`ShredStatementBody`].
    pub body: Vec<u8>,
    /// Signature by `body.signing_key` over [`SHRED_SIGNING_PREFIX`] ‖ body.
    pub signature: Vec<u8>,
}

/// A domain as a module reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainSummary {
    /// Domain id.
    pub domain_id: Uuid,
    /// Epoch held.
    pub epoch: u64,
    /// Live generations.
    pub generations: Vec<u32>,
    /// Members.
    pub members: Vec<Uuid>,
    /// Whether the domain keys are in memory (use mode).
    pub keys_loaded: bool,
}

/// A module's status. Never secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleStatus {
    /// Module id.
    pub module_id: Uuid,
    /// Friendly name.
    pub friendly_name: String,
    /// `"use"` or `"service"`.
    pub mode: String,
    /// Signing key, DER SPKI.
    pub signing_key: Vec<u8>,
    /// Agreement key, DER SPKI.
    pub agreement_key: Vec<u8>,
    /// Domains.
    pub domains: Vec<DomainSummary>,
    /// Backing keys in the vault.
    pub cached_keys: usize,
    /// Vault capacity.
    pub cache_capacity: usize,
    /// Bytes of locked memory holding keys.
    pub locked_bytes: usize,
    /// Whether the vault memory is locked.
    pub memory_locked: bool,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Requests answered.
    pub requests_served: u64,
    /// The last erasure, if any.
    pub last_erasure: Option<ErasureCertificate>,
    /// Placement tags (`KEY=VALUE`) from the module's configuration.
    pub tags: Vec<String>,
}

/// A module log file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogInfo {
    /// Log id.
    pub log_id: u64,
    /// Size in bytes.
    pub size: u64,
    /// SHA-384 of the content.
    pub sha384: Vec<u8>,
    /// Whether the log is closed (no more appends).
    pub closed: bool,
}
