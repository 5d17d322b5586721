//! The Strongroom security module.
//!
//! The only place plaintext backing keys and domain keys exist. The frontend
//! reaches it only through `strongroom-hsm-proto`; everything it persists or
//! hands out is sealed under a domain key: exported key tokens (EKTs) for
//! backing keys, sealed credentials for secret access keys.
// One audited `unsafe` call (madvise on the vault) is allowed where marked.
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod asymmetric;
mod audit_seal;
mod authority;
mod commands;
mod credential;
pub mod dev_unseal;
mod domain;
mod ekt;
mod escrow;
mod exposed;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod hardening;
pub mod identity;
mod import;
pub mod log;
mod maintenance;
mod module;
mod owner;
mod quorum;
mod reports;
mod scope;
mod sealed_store;
pub mod server;
mod suspend;
mod symmetric;
#[cfg(test)]
mod tests;
mod token;
mod vault;
mod volatile;
mod workers;
mod xks;

pub use domain::DomainKey;
pub use module::{Mode, Module, ModuleConfig, StartError};
pub use owner::owner_change_statement;
pub use workers::default_workers;
