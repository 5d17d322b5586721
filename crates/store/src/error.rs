/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A record with that identity exists already.
    #[error("already exists: {0}")]
    AlreadyExists(String),
    /// The record to change does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A stored row could not be decoded (corruption or a bug).
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
    /// Someone else changed what this write builds on (retry after re-reading).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The schema is newer than this binary understands.
    #[error("database schema version {found} is newer than supported {supported}")]
    SchemaTooNew {
        /// The version the database has.
        found: i64,
        /// The newest version this binary knows.
        supported: i64,
    },
}
