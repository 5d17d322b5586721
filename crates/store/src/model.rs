use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::vocab::{KeySpec, KeyUsage, Origin};

/// An account (a 12-digit id, as AWS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    /// 12-digit account id.
    pub id: String,
    /// Epoch seconds.
    pub created_at: i64,
}

/// An access key; the secret is sealed by a security module.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessKeyRecord {
    /// The access key id (`AKIA...`).
    pub access_key_id: String,
    /// Owning account.
    pub account_id: String,
    /// Secret access key sealed under the domain key.
    pub sealed_secret: Vec<u8>,
    /// Epoch seconds.
    pub created_at: i64,
    /// Whether it may sign requests.
    pub active: bool,
    /// The user or role it belongs to (`None`: the account's root).
    pub principal_arn: Option<String>,
    /// Temporary credentials: when they stop working (epoch seconds).
    pub expires_at: Option<i64>,
    /// Temporary credentials: SHA-256 of the session token.
    pub session_token_hash: Option<Vec<u8>>,
}

impl std::fmt::Debug for AccessKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKeyRecord")
            .field("access_key_id", &self.access_key_id)
            .field("account_id", &self.account_id)
            .field("active", &self.active)
            .field("principal_arn", &self.principal_arn)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A KMS key's lifecycle state (AWS names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Usable.
    Enabled,
    /// Not usable until enabled.
    Disabled,
    /// Scheduled for deletion; not usable.
    PendingDeletion,
    /// Origin EXTERNAL without key material (yet, or any more).
    PendingImport,
    /// Crypto-shredded (extension): every EKT destroyed; unusable for ever.
    Shredded,
    /// Revoked (extension): unusable for ever; its EKTs stay until their
    /// domain-key generation is retired.
    Revoked,
    /// Suspended (extension): the material is with its owner only.
    Suspended,
}

impl KeyState {
    /// The AWS `KeyState` string.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Enabled => "Enabled",
            KeyState::Disabled => "Disabled",
            KeyState::PendingDeletion => "PendingDeletion",
            KeyState::PendingImport => "PendingImport",
            KeyState::Shredded => "Shredded",
            KeyState::Revoked => "Revoked",
            KeyState::Suspended => "Suspended",
        }
    }

    /// Parses an AWS `KeyState` string.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Enabled" => KeyState::Enabled,
            "Disabled" => KeyState::Disabled,
            "PendingDeletion" => KeyState::PendingDeletion,
            "PendingImport" => KeyState::PendingImport,
            "Shredded" => KeyState::Shredded,
            "Revoked" => KeyState::Revoked,
            "Suspended" => KeyState::Suspended,
            _ => return None,
        })
    }
}

/// A tag on a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    /// Tag key.
    #[serde(rename = "TagKey")]
    pub key: String,
    /// Tag value.
    #[serde(rename = "TagValue")]
    pub value: String,
}

/// A KMS key's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Key UUID.
    pub id: Uuid,
    /// Owning account.
    pub account_id: String,
    /// The region it lives in (e.g. `us-east-1`): seen only from there.
    pub region: String,
    /// Free text.
    pub description: String,
    /// Lifecycle state.
    pub state: KeyState,
    /// AWS KeySpec, e.g. `SYMMETRIC_DEFAULT`.
    pub key_spec: KeySpec,
    /// AWS KeyUsage, e.g. `ENCRYPT_DECRYPT`.
    pub key_usage: KeyUsage,
    /// AWS Origin, e.g. `AWS_KMS`.
    pub origin: Origin,
    /// Epoch seconds.
    pub created_at: i64,
    /// When a pending deletion happens (epoch seconds).
    pub deletion_date: Option<i64>,
    /// The waiting period chosen at ScheduleKeyDeletion.
    pub pending_window_days: Option<u32>,
    /// The version new ciphertexts use.
    pub current_version: u32,
    /// Tags, in the order given.
    pub tags: Vec<Tag>,
    /// Automatic rotation period, when rotation is enabled.
    pub rotation_period_days: Option<u32>,
    /// When automatic rotation next happens (epoch seconds).
    pub next_rotation_at: Option<i64>,
    /// On-demand rotations so far (AWS allows 10 per key).
    pub on_demand_rotations: u32,
    /// Imported material expires then (epoch seconds); none: never.
    pub import_valid_to: Option<i64>,
    /// A MAC of the imported material under the domain (re-imports must match).
    pub import_fingerprint: Option<Vec<u8>>,
    /// While suspended: a MAC of the material handed to the owner.
    pub suspension_fingerprint: Option<Vec<u8>>,
    /// Its material was returned in clear at creation (extension): for ever.
    pub exposed: bool,
    /// VOLATILE storage class (extension): material only in module memory.
    pub volatile: bool,
    /// The key policy (JSON); none means AWS's default key policy.
    pub policy: Option<String>,
    /// Served only by modules tagged with this group (`KEY=VALUE`).
    pub module_group: Option<String>,
    /// A multi-Region key's shared id (`mrk-` + its 32 hex digits): the
    /// id its ciphertexts and EKTs carry, the same in every region. `None`
    /// for a single-Region key. The row's own `id` is derived from it and
    /// the region, so each region's copy is a row of its own.
    pub multi_region_id: Option<Uuid>,
    /// Whether this region's copy of a multi-Region key is its primary.
    pub multi_region_primary: bool,
    /// How many times the metadata was updated: an update must name the
    /// revision it read (compare-and-swap), so concurrent writers on
    /// several frontends cannot lose each other's changes.
    pub revision: u64,
}

impl KeyRecord {
    /// A new, enabled `SYMMETRIC_DEFAULT` key of AWS origin with no
    /// version, no policy, no tags and no extensions: the base that
    /// builders change with struct update (`KeyRecord { .., ..base }`).
    pub fn symmetric(id: Uuid, account_id: &str, region: &str, created_at: i64) -> Self {
        Self {
            id,
            account_id: account_id.to_owned(),
            region: region.to_owned(),
            description: String::new(),
            state: KeyState::Enabled,
            key_spec: crate::KeySpec::SymmetricDefault,
            key_usage: crate::KeyUsage::EncryptDecrypt,
            origin: crate::Origin::AwsKms,
            created_at,
            deletion_date: None,
            pending_window_days: None,
            current_version: 0,
            tags: Vec::new(),
            rotation_period_days: None,
            next_rotation_at: None,
            on_demand_rotations: 0,
            import_valid_to: None,
            import_fingerprint: None,
            suspension_fingerprint: None,
            exposed: false,
            volatile: false,
            policy: None,
            module_group: None,
            multi_region_id: None,
            multi_region_primary: false,
            revision: 0,
        }
    }

    /// The id the key's material, EKTs and ciphertexts carry: the shared
    /// multi-Region id, or the key's own.
    pub fn material_id(&self) -> Uuid {
        self.multi_region_id.unwrap_or(self.id)
    }
}

/// A grant: a principal may perform listed operations with a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    /// Grant id (64 hex characters).
    pub grant_id: String,
    /// The key.
    pub key_id: Uuid,
    /// The key's account.
    pub key_account_id: String,
    /// Optional name (idempotency).
    pub name: Option<String>,
    /// Who may use the key (principal ARN).
    pub grantee: String,
    /// Who may retire the grant (principal ARN).
    pub retiring: Option<String>,
    /// Operation names, e.g. `Encrypt`.
    pub operations: Vec<String>,
    /// `EncryptionContextEquals` pairs.
    pub context_equals: Option<Vec<(String, String)>>,
    /// `EncryptionContextSubset` pairs.
    pub context_subset: Option<Vec<(String, String)>>,
    /// The account that created it.
    pub issuing_account: String,
    /// Epoch seconds.
    pub created_at: i64,
    /// The grant token given at creation.
    pub token: String,
}

/// One completed rotation: a key version after the first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationRecord {
    /// The version the rotation created.
    pub version: u32,
    /// Epoch seconds.
    pub rotated_at: i64,
    /// `AUTOMATIC` or `ON_DEMAND`.
    pub rotation_type: String,
}

/// One version of a key: its backing key as an EKT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVersionRecord {
    /// Key UUID.
    pub key_id: Uuid,
    /// Version number, from 1.
    pub version: u32,
    /// The exported key token.
    pub ekt: Vec<u8>,
    /// Epoch seconds.
    pub created_at: i64,
}

/// An alias (`alias/...`) naming a key within an account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasRecord {
    /// Owning account.
    pub account_id: String,
    /// The region it lives in: names are unique per (account, region).
    pub region: String,
    /// Full name including `alias/`.
    pub name: String,
    /// Target key.
    pub key_id: Uuid,
    /// Epoch seconds.
    pub created_at: i64,
    /// Epoch seconds.
    pub updated_at: i64,
}
