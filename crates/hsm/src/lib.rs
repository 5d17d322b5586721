//! The Strongroom security module.
//!
//! The only place plaintext backing keys and domain keys exist. The frontend
//! reaches it only through `strongroom-hsm-proto`; everything it persists or
//! hands out is sealed under a domain key: exported key tokens (EKTs) for
//! backing keys, sealed credentials for secret access keys.
#![forbid(unsafe_code)]

mod credential;
pub mod dev_unseal;
mod domain;
mod ekt;
mod module;
mod symmetric;
mod vault;

pub use domain::DomainKey;
pub use module::{Module, ModuleConfig};
