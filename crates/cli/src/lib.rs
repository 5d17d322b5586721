//! The `strongroom` command's building blocks, as a library so integration
//! tests drive exactly what the binary runs.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod admin_cmd;
pub mod audit_cmd;
pub mod audit_setup;
pub mod bench;
pub mod client;
pub mod dev;
pub mod files;
pub mod kms;
pub mod logging;
pub mod modules;
pub mod operator;
pub mod rewrap;
pub mod seed;
pub mod token_trust;
pub mod xks_client;
pub mod xks_cmd;
