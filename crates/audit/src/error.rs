//! The audit log's errors.

use std::path::PathBuf;
use std::sync::Arc;

/// Everything that can go wrong with the audit log. `Clone`, so one failed
/// batch can answer every request waiting on it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    /// A file of the log could not be read, written or synced (disk full,
    /// read-only file system, file size limit…). Nothing in the failed
    /// batch is durable.
    #[error("audit log I/O on {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the system said.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// A chain id that cannot name files.
    #[error("invalid audit chain id {0:?}: use 1-64 letters, digits, '-' or '_'")]
    InvalidChainId(String),
    /// A segment name that is not `<chain>.<number>`.
    #[error("invalid audit segment name {0:?}: expected <chain>.<number>")]
    InvalidSegmentId(String),
    /// A durability mode that is not `sync`, `group-ms=N` or `buffered`.
    #[error("invalid audit durability {0:?}: expected sync, group-ms=N or buffered")]
    InvalidDurability(String),
    /// A record too large for one frame.
    #[error("audit record of {0} bytes is over the frame limit")]
    RecordTooLarge(usize),
    /// Bytes that do not decode as what they should be.
    #[error("malformed audit data: {0}")]
    Malformed(String),
    /// Another writer holds this chain (one writer per chain, or it forks).
    #[error("audit chain {0} is already open by another writer")]
    ChainLocked(String),
    /// The files on disk do not form the chain they claim to; the writer
    /// refuses to continue a chain it cannot trust.
    #[error("audit chain {chain} cannot be continued: {reason}")]
    Tampered {
        /// The chain.
        chain: String,
        /// What does not fit.
        reason: String,
    },
    /// A footer's seal does not verify, or names another sealer.
    #[error("audit segment {0}: its footer's seal does not verify")]
    BadSeal(String),
    /// A footer or receipt sealed by a key that is not trusted (not the
    /// module's, not pinned): it proves nothing.
    #[error(
        "audit segment {segment}: sealed by {sealer}, a key that is not trusted (not the security module's, not pinned with --seal-public-key)"
    )]
    UntrustedSeal {
        /// The segment.
        segment: String,
        /// The key its seal names.
        sealer: String,
    },
    /// The sealer could not produce a seal (the module is unreachable…).
    #[error("audit footer could not be sealed: {0}")]
    Seal(String),
    /// A segment that is not sealed (export and receipts need a footer).
    #[error("audit segment {0} is not sealed")]
    NotSealed(String),
    /// A segment that is not on disk.
    #[error("audit segment {0} does not exist")]
    NoSuchSegment(String),
    /// A receipt for a hash that is not the segment's.
    #[error("audit segment {segment}: receipt hash {given} is not the segment's hash {actual}")]
    ReceiptMismatch {
        /// The segment.
        segment: String,
        /// The hash in the receipt.
        given: String,
        /// The hash in the footer.
        actual: String,
    },
    /// The writer has stopped; nothing more can be appended.
    #[error("the audit writer has stopped")]
    Closed,
}

impl AuditError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source: Arc::new(source),
        }
    }
}

/// Attaches a path to I/O results.
pub(crate) trait IoContext<T> {
    /// Maps the error to [`AuditError::Io`] on `path`.
    fn at(self, path: &std::path::Path) -> Result<T, AuditError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T, AuditError> {
        self.map_err(|e| AuditError::io(path, e))
    }
}
