//! Integration tests of the audit log, on real files in temporary
//! directories; crash and disk-full tests run the `audit-load` binary as a
//! child process.

mod common;
mod crash;
mod export_retention;
mod log;
mod query;
mod recovery;
mod verify;
