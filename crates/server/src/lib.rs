//! The Strongroom frontend: the AWS KMS JSON 1.1 API over HTTP(S), SigV4
//! authentication, request processing and routing to a security module.
//!
//! It never holds a backing key: keys reach it only as EKTs, and every
//! cryptographic operation is a request to a module through `hsm-proto`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod admin;
pub mod admin_http;
pub mod arn;
pub mod audit;
pub mod audit_seal;
pub mod auth;
pub mod authz;
pub mod clock;
pub mod console;
pub mod error;
pub mod http;
pub mod identity;
pub mod legacy_audit;
pub mod metering;
pub mod module_logs;
pub mod multi_region;
pub mod ops;
pub mod processor;
pub mod proof;
// The members are AWS's (PascalCase on the wire), documented in the AWS KMS
// API reference; a copy of those docs on every field would only drift.
#[allow(missing_docs)]
pub mod protocol;
mod read_deadline;
pub mod region;
pub mod rewrap;
pub mod seed;
mod server;
pub mod sigv4;
pub mod telemetry;
pub mod tls;
pub mod unauthenticated;
pub mod validate;
pub mod xks;

pub use server::{RunningServer, ServerConfig, defaults, start};

/// Parses a request body as operation `op` would, for the fuzz targets.
#[doc(hidden)]
pub use ops::fuzz_parse::{operations as fuzz_operations, parse_request as fuzz_parse_request};
