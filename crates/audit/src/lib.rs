//! Strongroom's audit log: one append-only, hash-chained chain of segment
//! files per writer (a frontend's host-key id) in a shared directory.
//!
//! - [`AuditWriter`] recovers a chain and runs its writer thread; requests
//!   append through a cloneable [`AuditAppender`] and are answered after
//!   their batch is durable ([`Durability`]): group commit, one
//!   `fdatasync` per batch.
//! - Segments roll by size and age; a closed segment gets a footer sealed
//!   by a [`FooterSealer`] (in a frontend, the security module's audit seal
//!   key); seals are believed only under [`TrustedKeys`].
//! - [`verify_dir`] checks every chain and footer; [`query`] reads every
//!   chain merged by time; [`export`], [`acknowledge`] and [`retain`] ship
//!   sealed segments out and delete only what was acknowledged.
//!
//! Formats are in docs/formats.md ("Audit segments"), use in docs/audit.md.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod active;
mod chain;
mod chain_writer;
mod committer;
mod error;
mod export;
mod footer;
mod frame;
mod gather;
mod json;
mod query;
mod read;
mod record;
mod recovery;
mod retention;
mod seal;
mod seal_keys_file;
mod segment;
mod verify;
mod writer;

pub use active::{BatchTiming, Committed};
pub use chain::{ChainId, GENESIS, SegmentId, chain_hash};
pub use chain_writer::RollPolicy;
pub use error::AuditError;
pub use export::{ExportOptions, ExportedSegment, export, sealed_segments};
pub use footer::{FooterBody, SealedFooter};
pub use frame::{FRAME_HEADER_LEN, FrameDefect, MAX_FRAME_BODY, Tail, push_frame, scan_frames};
pub use gather::SyncGather;
pub use json::{event_json, region_of};
pub use query::{Filter, QueriedRecord, query};
pub use record::{AuditRecord, Identity, RecordError, decode_record, encode_record};
pub use recovery::RecoveryReport;
pub use retention::{Receipt, RetentionReport, acknowledge, retain};
pub use seal::{
    ED25519_SEAL_CONTEXT, FooterSealer, InProcessSealer, Seal, SealCheck, TrustedKeys,
    ed25519_key_id, legacy_hmac_key_id,
};
pub use seal_keys_file::{ListedSealKey, SEAL_KEYS_FILE, list_seal_key, listed_seal_keys};
pub use segment::{
    ParsedRecord, ParsedSegment, SegmentFiles, SegmentHeader, encode_header, list_chains,
    parse_segment, read_segment, write_atomic,
};
pub use verify::{ChainReport, ExportedHead, Problem, VerifyReport, verify_dir};
pub use writer::{AuditAppender, AuditWriter, CommitObserver, Durability, LogConfig, WriterHealth};
