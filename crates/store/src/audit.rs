//! Usage counters, and the audit records earlier versions kept in the
//! store (read once to move them out: `server::legacy_audit`).

/// One audit record: the JSON event, chained to the one before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// Event time, epoch milliseconds.
    pub time_ms: i64,
    /// Who called (principal ARN), or `-` when authentication failed.
    pub principal: String,
    /// The caller's account, or `-`.
    pub account_id: String,
    /// The operation, e.g. `Encrypt`.
    pub operation: String,
    /// The key the request used, if any.
    pub key_arn: Option<String>,
    /// The AWS error code, if the request failed.
    pub error_code: Option<String>,
    /// The whole event as JSON (what is hashed).
    pub record: String,
    /// Hex SHA-256 of the previous row (64 zeros for the first).
    pub prev_hash: String,
    /// Hex SHA-256 over `prev_hash`, a newline and `record`.
    pub hash: String,
}

/// Filters for reading the audit trail; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Rows after this sequence number.
    pub after_seq: Option<i64>,
    /// At or after this time (epoch ms).
    pub since_ms: Option<i64>,
    /// Before this time (epoch ms).
    pub until_ms: Option<i64>,
    /// This principal ARN.
    pub principal: Option<String>,
    /// This account.
    pub account_id: Option<String>,
    /// This operation.
    pub operation: Option<String>,
    /// This key ARN.
    pub key_arn: Option<String>,
    /// Only failed (`Some(true)`) or only successful (`Some(false)`) requests.
    pub failed: Option<bool>,
    /// At most this many rows (in sequence order).
    pub limit: usize,
}

/// Add `count` to one usage counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UsageIncrement {
    /// The account billed.
    pub account_id: String,
    /// The operation.
    pub operation: String,
    /// The key used (`-` for none).
    pub key_id: String,
    /// The hour, as epoch seconds at its start.
    pub hour: i64,
    /// How many requests.
    pub count: u64,
}

/// How far an audit chain's records are counted into the usage counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChainPosition {
    /// The last counted sequence number (0: none).
    pub seq: u64,
    /// The chain hash after that record, when the flush that counted it
    /// knew it (flushes before schema 19 did not): a restart finds the
    /// record at `seq` in the log with this hash, or the log was rewritten.
    pub head: Option<[u8; 32]>,
}

/// One usage counter as stored.
pub type UsageRecord = UsageIncrement;
