//! The API operations, grouped by concept, and the dispatcher.

mod aliases;
pub(crate) mod asymmetric;
mod create_key;
pub(crate) mod crypto;
mod data_key_pair;
mod derived_keys;
mod dispatch;

pub use dispatch::{OPERATIONS, grant_operations};
mod extensions;
mod first_version;
pub(crate) mod fuzz_parse;
mod grants;
mod import;
pub(crate) mod key_policy;
pub(crate) mod key_specs;
pub mod key_state;
pub(crate) mod keys;
pub(crate) mod mac;
pub(crate) mod multi_region;
pub(crate) mod public_keys;
mod rotation;
mod tags;
