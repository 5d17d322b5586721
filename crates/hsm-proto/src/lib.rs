//! The contract between the Strongroom frontend and its security modules.
//!
//! The frontend only ever talks to a module through [`HsmClient`]: today an
//! in-process channel, later a socket. Nothing here holds a backing key or
//! domain key; the only secrets that cross are customer plaintexts and data
//! keys on their way to an authorised caller, kept in `Zeroizing` buffers.
#![forbid(unsafe_code)]

pub mod admin;
pub mod ciphertext;
mod client;
pub mod context;
mod message;
pub mod net;

pub use client::{Caller, Envelope, HsmClient, ModuleHandler, spawn_module_task};
pub use message::{
    DataKey, Ekt, HsmError, KeyRef, KeySpecCode, Refusal, Request, Response, SigV4Scope, SigningKey,
};
