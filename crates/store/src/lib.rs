//! Durable metadata for Strongroom: accounts, access keys, KMS keys and
//! their versions (EKTs only, never plaintext), aliases.
//!
//! One trait, [`Store`]; SQLite is the embedded default. Every write that
//! returns `Ok` is durable (committed and fsync'd) before it returns.
#![forbid(unsafe_code)]

mod audit;
#[cfg(test)]
mod conformance;
mod error;
mod identity;
mod model;
pub mod postgres;
mod proofs;
pub mod sqlite;

pub use audit::{AuditQuery, AuditRow, UsageIncrement, UsageRecord};
pub use error::StoreError;
pub use identity::{PrincipalKind, PrincipalRecord};
pub use model::{
    AccessKeyRecord, AccountRecord, AliasRecord, GrantRecord, KeyRecord, KeyState,
    KeyVersionRecord, RotationRecord, Tag,
};
pub use postgres::PostgresStore;
pub use proofs::{ProofMint, ProofUse};
pub use sqlite::SqliteStore;

use async_trait::async_trait;
use uuid::Uuid;

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// The durable state behind a Strongroom deployment.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates an account; `AlreadyExists` if the id is taken.
    async fn create_account(&self, account: &AccountRecord) -> StoreResult<()>;
    /// One account.
    async fn get_account(&self, id: &str) -> StoreResult<Option<AccountRecord>>;
    /// Every account, by id.
    async fn list_accounts(&self) -> StoreResult<Vec<AccountRecord>>;

    /// Adds an access key (secret sealed by a module).
    async fn put_access_key(&self, key: &AccessKeyRecord) -> StoreResult<()>;
    /// One access key.
    async fn get_access_key(&self, access_key_id: &str) -> StoreResult<Option<AccessKeyRecord>>;
    /// An account's access keys.
    async fn list_access_keys(&self, account_id: &str) -> StoreResult<Vec<AccessKeyRecord>>;

    /// Creates a key with its first version (none for a key awaiting
    /// imported material), atomically.
    async fn create_key(
        &self,
        key: &KeyRecord,
        first: Option<&KeyVersionRecord>,
    ) -> StoreResult<()>;
    /// Deletes every version (EKT) of a key, keeping the key: imported
    /// material deleted or expired.
    async fn delete_key_versions(&self, id: Uuid) -> StoreResult<()>;
    /// Overwrites freed pages out of the write-ahead log (after EKTs were
    /// replaced or deleted), so no old EKT lingers on disk.
    async fn purge_freed(&self) -> StoreResult<()>;
    /// Keys whose imported material expires at or before `now`.
    async fn keys_with_expired_material(&self, now: i64) -> StoreResult<Vec<Uuid>>;
    /// One key by UUID (any account: callers check ownership).
    async fn get_key(&self, id: Uuid) -> StoreResult<Option<KeyRecord>>;
    /// Replaces a key's mutable metadata; `NotFound` if it is gone.
    async fn update_key(&self, key: &KeyRecord) -> StoreResult<()>;
    /// An account's keys ordered by UUID, starting after `after`.
    async fn list_keys(
        &self,
        account_id: &str,
        after: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Vec<KeyRecord>>;
    /// One version's EKT.
    async fn get_key_version(
        &self,
        id: Uuid,
        version: u32,
    ) -> StoreResult<Option<KeyVersionRecord>>;
    /// Deletes a key, every version (EKT) and every alias to it. Returns
    /// whether it existed.
    async fn delete_key(&self, id: Uuid) -> StoreResult<bool>;
    /// Keys pending deletion whose date is at or before `now` (epoch s).
    async fn keys_due_for_deletion(&self, now: i64) -> StoreResult<Vec<Uuid>>;

    /// Creates an alias; `AlreadyExists` if the name is taken in the account.
    async fn create_alias(&self, alias: &AliasRecord) -> StoreResult<()>;
    /// Points an alias at another key; `NotFound` if there is no such alias.
    async fn update_alias(
        &self,
        account_id: &str,
        name: &str,
        key_id: Uuid,
        now: i64,
    ) -> StoreResult<()>;
    /// Deletes an alias; `NotFound` if there is no such alias.
    async fn delete_alias(&self, account_id: &str, name: &str) -> StoreResult<()>;
    /// One alias.
    async fn get_alias(&self, account_id: &str, name: &str) -> StoreResult<Option<AliasRecord>>;
    /// An account's aliases by name (optionally only those of `key_id`),
    /// starting after `after`.
    async fn list_aliases(
        &self,
        account_id: &str,
        key_id: Option<Uuid>,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<AliasRecord>>;

    /// Adds the next version of a key (made by a rotation of
    /// `rotation_type`) and saves the key's metadata, atomically; refused
    /// with `AlreadyExists` if another writer added that version first.
    async fn rotate_key(
        &self,
        key: &KeyRecord,
        version: &KeyVersionRecord,
        rotation_type: &str,
    ) -> StoreResult<()>;
    /// A key's rotations (versions after the first), oldest first, after
    /// version `after`.
    async fn list_rotations(
        &self,
        id: Uuid,
        after: u32,
        limit: usize,
    ) -> StoreResult<Vec<RotationRecord>>;
    /// Keys with rotation enabled whose next rotation is at or before `now`.
    async fn keys_due_for_rotation(&self, now: i64) -> StoreResult<Vec<Uuid>>;

    /// Every key version of every account, ordered by (key, version),
    /// starting after `after` (for re-wrapping under a new domain key).
    async fn list_key_versions(
        &self,
        after: Option<(Uuid, u32)>,
        limit: usize,
    ) -> StoreResult<Vec<KeyVersionRecord>>;
    /// Replaces a version's EKT if it is still `old`; returns whether it was.
    async fn replace_ekt(
        &self,
        id: Uuid,
        version: u32,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool>;
    /// Every access key of every account by id, starting after `after`.
    async fn list_all_access_keys(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<AccessKeyRecord>>;
    /// Replaces a sealed secret if it is still `old`; returns whether it was.
    async fn replace_sealed_secret(
        &self,
        access_key_id: &str,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool>;

    /// Adds a grant; `AlreadyExists` if its id is taken.
    async fn create_grant(&self, grant: &GrantRecord) -> StoreResult<()>;
    /// A key's grants, by grant id.
    async fn list_grants(&self, key_id: Uuid) -> StoreResult<Vec<GrantRecord>>;
    /// Grants that `retiring` (a principal ARN) may retire, by grant id.
    async fn list_retirable_grants(&self, retiring: &str) -> StoreResult<Vec<GrantRecord>>;
    /// The grant a grant token names.
    async fn grant_by_token(&self, token: &str) -> StoreResult<Option<GrantRecord>>;
    /// Deletes a grant; returns whether it existed.
    async fn delete_grant(&self, grant_id: &str) -> StoreResult<bool>;

    /// Creates a user, role or service principal; `AlreadyExists` if taken.
    async fn create_principal(&self, p: &PrincipalRecord) -> StoreResult<()>;
    /// Replaces a principal's policy, tags and service name.
    async fn update_principal(&self, p: &PrincipalRecord) -> StoreResult<()>;
    /// One principal by ARN.
    async fn get_principal(&self, arn: &str) -> StoreResult<Option<PrincipalRecord>>;
    /// An account's principals, by ARN.
    async fn list_principals(&self, account_id: &str) -> StoreResult<Vec<PrincipalRecord>>;

    /// A secret of the service itself (sealed by a module), by name.
    async fn get_service_secret(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Stores a service secret unless one with that name exists; returns
    /// the one stored (so racing frontends agree on one).
    async fn put_service_secret(&self, name: &str, sealed: &[u8]) -> StoreResult<Vec<u8>>;
    /// Replaces a service secret if it is still `old` (after its domain-key
    /// generation was retired); returns the one stored.
    async fn replace_service_secret(
        &self,
        name: &str,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<Vec<u8>>;

    /// How far a module's log has been copied into the audit trail.
    async fn module_log_cursor(&self, module_id: &str, log_id: u64) -> StoreResult<u64>;
    /// Records how far a module's log has been copied.
    async fn set_module_log_cursor(
        &self,
        module_id: &str,
        log_id: u64,
        offset: u64,
    ) -> StoreResult<()>;

    /// Takes or renews the lease on background job `job` for `holder` until
    /// `until` (epoch s), unless another holder's lease is still valid at
    /// `now`; returns whether `holder` holds it. Jobs run exactly once
    /// across frontends, and move on when a holder dies.
    async fn try_lease(&self, job: &str, holder: &str, now: i64, until: i64) -> StoreResult<bool>;

    /// Records a proof minted from a signed request; returns `false`, and
    /// records nothing, if that request has already minted one (on any
    /// frontend, before or after a restart) whose record is not yet purged.
    async fn record_proof_mint(&self, mint: &ProofMint) -> StoreResult<bool>;
    /// Takes one use of proof `proof_id` minted from `request_digest`, if
    /// its record is live at `now` and has a use left.
    async fn use_proof(
        &self,
        proof_id: &str,
        request_digest: &str,
        now: i64,
    ) -> StoreResult<ProofUse>;
    /// Deletes proof records that expired at or before `now`; returns how
    /// many.
    async fn purge_expired_proofs(&self, now: i64) -> StoreResult<u64>;

    /// Appends audit records that continue the chain (`Conflict` if the
    /// stored tail is not the one they build on) and adds usage counts, in
    /// one durable transaction. Nothing writes audit records to the store
    /// any more (the frontend's audit log has files of its own); this
    /// stays for tests of the move out of it.
    async fn append_audit(&self, rows: &[AuditRow], usage: &[UsageIncrement]) -> StoreResult<()>;
    /// Deletes the audit records through `seq` (once they are moved to the
    /// audit log's directory: the store no longer keeps audit records).
    async fn delete_audit_through(&self, seq: i64) -> StoreResult<u64>;
    /// Audit records matching `query`, in chain order.
    async fn query_audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRow>>;
    /// How far audit chain `chain`'s records have been counted into the
    /// usage counters (its last counted sequence number; 0: none).
    async fn usage_flushed(&self, chain: &str) -> StoreResult<u64>;
    /// Adds `usage`, counted from chain `chain`'s records after `from`
    /// through `through`, and records `through` as counted, in one durable
    /// transaction; `Conflict` (and nothing added) unless `from` is what
    /// [`Store::usage_flushed`] says, so no record is ever counted twice.
    async fn flush_usage(
        &self,
        chain: &str,
        from: u64,
        through: u64,
        usage: &[UsageIncrement],
    ) -> StoreResult<()>;
    /// Usage counters from `since_hour` (epoch seconds), for one account or all.
    async fn usage(
        &self,
        account_id: Option<&str>,
        since_hour: i64,
    ) -> StoreResult<Vec<UsageRecord>>;
}
