//! The contract between the Strongroom frontend and its security modules.
//!
//! The frontend only ever talks to a module through [`HsmClient`]: an
//! in-process channel (`strongroom dev`) or mutually authenticated TLS to
//! `strongroom-hsm` processes ([`net`]). Nothing here holds a backing key or
//! domain key; the only secrets that cross are customer plaintexts and data
//! keys on their way to an authorised caller, kept in `Zeroizing` buffers.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod admin;
mod answer;
mod audit_seal;
pub mod ciphertext;
mod client;
pub mod codec;
pub mod context;
mod error;
pub mod frame;
mod in_domain;
mod message;
pub mod net;
mod reports;
pub mod routing;
mod sealed;
pub mod xks;

pub use answer::GeneratedKeyPair;
pub use audit_seal::{AUDIT_SEAL_CONTEXT, AuditSealKey, MAX_AUDIT_SEAL_MESSAGE};
pub use client::{
    Answer, CallObserver, CallOutcome, Caller, Envelope, HsmClient, ModuleHandler,
    spawn_module_task,
};
pub use error::{HsmError, Refusal};
pub use message::{
    DataKey, Ekt, KeyRef, KeySpecCode, Request, Response, SigV4Scope, SigningKey, TransientEkt,
};
