//! Durable metadata for Strongroom: accounts, access keys, KMS keys and
//! their versions (EKTs only, never plaintext), aliases.
//!
//! One trait per aggregate ([`KeyStore`], [`AliasStore`], [`GrantStore`],
//! [`IdentityStore`], [`SealedMaterialStore`], [`ServiceStateStore`],
//! [`UsageStore`]) and [`Store`], their sum; `use strongroom_store::prelude::*`
//! brings them all into scope. SQLite is the embedded default, PostgreSQL
//! serves several frontends. Every write that returns `Ok` is durable
//! (committed and fsync'd) before it returns.
//!
//! Each method is written once (`aggregates/`) over a small backend
//! interface (`backend.rs`), with every statement in one place
//! (`sql/statements.rs`) and one codec per record (`sql/codec.rs`); see
//! ARCHITECTURE.md, "Store", for what adding a column touches.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod aggregates;
mod audit;
mod backend;
#[cfg(test)]
mod conformance;
mod error;
mod identity;
mod model;
pub mod postgres;
mod proofs;
mod sql;
pub mod sqlite;
#[cfg(any(test, feature = "test-cluster"))]
#[doc(hidden)]
pub mod test_cluster;
pub mod vocab;

pub use audit::{AuditQuery, AuditRow, ChainPosition, UsageIncrement, UsageRecord};
pub use error::StoreError;
pub use identity::{PrincipalKind, PrincipalRecord};
pub use model::{
    AccessKeyRecord, AccountRecord, AliasRecord, GrantRecord, KeyRecord, KeyState,
    KeyVersionRecord, RotationRecord, Tag,
};
pub use postgres::PostgresStore;
pub use proofs::{ProofMint, ProofUse};
pub use sqlite::SqliteStore;
pub use vocab::{EncryptionAlgorithm, KeySpec, KeyUsage, MacAlgorithm, Origin, UnknownValue};

pub use aggregates::aliases::AliasStore;
pub use aggregates::grants::GrantStore;
pub use aggregates::identities::IdentityStore;
pub use aggregates::keys::KeyStore;
pub use aggregates::sealed::SealedMaterialStore;
pub use aggregates::service_state::ServiceStateStore;
pub use aggregates::usage::UsageStore;

/// The region keys and aliases made before regions existed are put in
/// when a store is opened without naming one (AWS's default region).
pub const LEGACY_REGION: &str = "us-east-1";

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// The durable state behind a Strongroom deployment: every aggregate.
/// Implemented for anything that implements them all.
pub trait Store:
    KeyStore
    + AliasStore
    + GrantStore
    + IdentityStore
    + SealedMaterialStore
    + ServiceStateStore
    + UsageStore
{
}

impl<T> Store for T where
    T: KeyStore
        + AliasStore
        + GrantStore
        + IdentityStore
        + SealedMaterialStore
        + ServiceStateStore
        + UsageStore
        + ?Sized
{
}

/// Every store trait, for calling store methods on a concrete store
/// (methods on `dyn Store` need no import).
pub mod prelude {
    pub use crate::{
        AliasStore, GrantStore, IdentityStore, KeyStore, SealedMaterialStore, ServiceStateStore,
        Store, UsageStore,
    };
}
