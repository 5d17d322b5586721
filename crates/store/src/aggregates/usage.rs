//! Usage counters, and the audit rows earlier versions kept in the store
//! (read once to move them out: `server::legacy_audit`).

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{count_or_zero, execute, select};
use crate::backend::{Backend, Conn, run, transaction};
use crate::sql::codec::Codec;
use crate::sql::statements::{insert_rows, usage as sql};
use crate::sql::{Row, ToValue, Value, params};
use crate::{
    AuditQuery, AuditRow, ChainPosition, StoreError, StoreResult, UsageIncrement, UsageRecord,
};

/// Usage counters, and the audit rows earlier versions kept in the store.
#[async_trait]
pub trait UsageStore: Send + Sync + 'static {
    /// Appends audit records that continue the chain (`Conflict` if the
    /// stored tail is not the one they build on) and adds usage counts, in
    /// one durable transaction. Nothing writes audit records to the store
    /// any more (the frontend's audit log has files of its own); this
    /// stays for tests of the move out of it.
    async fn append_audit(&self, rows: &[AuditRow], usage: &[UsageIncrement]) -> StoreResult<()>;
    /// Deletes the audit records through `seq` (once they are moved to the
    /// audit log's directory: the store no longer keeps audit records).
    async fn delete_audit_through(&self, seq: i64) -> StoreResult<u64>;
    /// Audit records matching `query`, in chain order.
    async fn query_audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRow>>;
    /// How far audit chain `chain`'s records have been counted into the
    /// usage counters (its last counted sequence number; 0: none).
    async fn usage_flushed(&self, chain: &str) -> StoreResult<u64>;
    /// [`UsageStore::usage_flushed`] with the chain hash recorded there.
    async fn usage_position(&self, chain: &str) -> StoreResult<ChainPosition>;
    /// Adds `usage`, counted from chain `chain`'s records after `from`
    /// through `through`, and records `through` as counted, in one durable
    /// transaction; `Conflict` (and nothing added) unless `from` is what
    /// [`UsageStore::usage_flushed`] says, so no record is ever counted twice.
    async fn flush_usage(
        &self,
        chain: &str,
        from: u64,
        through: ChainPosition,
        usage: &[UsageIncrement],
    ) -> StoreResult<()>;
    /// Usage counters from `since_hour` (epoch seconds), for one account or all.
    async fn usage(
        &self,
        account_id: Option<&str>,
        since_hour: i64,
    ) -> StoreResult<Vec<UsageRecord>>;
}

/// Records per multi-row INSERT: well under both databases' limits on
/// parameters per statement.
const BATCH: usize = 100;

/// Inserts `records` in batches of multi-row INSERTs ending in `tail`.
async fn insert_all<C: Conn, T: Codec>(c: &mut C, records: &[T], tail: &str) -> StoreResult<()> {
    for chunk in records.chunks(BATCH) {
        let mut values = Vec::with_capacity(chunk.len() * T::COLUMNS.len());
        for r in chunk {
            values.extend(r.values()?);
        }
        c.execute(&insert_rows::<T>(chunk.len(), tail), &values)
            .await?;
    }
    Ok(())
}

/// Adds `usage` to the counters, increments of one counter summed first
/// (PostgreSQL refuses to upsert one row twice in a statement).
async fn add_usage<C: Conn>(c: &mut C, usage: &[UsageIncrement]) -> StoreResult<()> {
    let mut sums: BTreeMap<(&str, &str, &str, i64), u64> = BTreeMap::new();
    for u in usage {
        *sums
            .entry((&u.account_id, &u.operation, &u.key_id, u.hour))
            .or_default() += u.count;
    }
    let merged: Vec<UsageIncrement> = sums
        .into_iter()
        .map(
            |((account_id, operation, key_id, hour), count)| UsageIncrement {
                account_id: account_id.to_owned(),
                operation: operation.to_owned(),
                key_id: key_id.to_owned(),
                hour,
                count,
            },
        )
        .collect();
    insert_all(c, &merged, sql::USAGE_UPSERT_TAIL).await
}

/// The conditions and parameters of an audit query.
fn audit_filter(q: &AuditQuery) -> (String, Vec<Value>) {
    let mut conditions = String::new();
    let mut values = Vec::new();
    let ints = [
        ("seq >", q.after_seq),
        ("time_ms >=", q.since_ms),
        ("time_ms <", q.until_ms),
    ];
    let texts = [
        ("principal =", &q.principal),
        ("account_id =", &q.account_id),
        ("operation =", &q.operation),
        ("key_arn =", &q.key_arn),
    ];
    let present = ints
        .iter()
        .filter_map(|(cond, v)| v.map(|v| (*cond, v.to_value())))
        .chain(
            texts
                .iter()
                .filter_map(|(cond, v)| v.as_ref().map(|v| (*cond, v.to_value()))),
        );
    for (cond, v) in present {
        values.push(v);
        conditions.push_str(&format!(" AND {cond} ${}", values.len()));
    }
    match q.failed {
        Some(true) => conditions.push_str(" AND error_code IS NOT NULL"),
        Some(false) => conditions.push_str(" AND error_code IS NULL"),
        None => {}
    }
    (conditions, values)
}

#[async_trait]
impl<B: Backend> UsageStore for B {
    async fn append_audit(&self, rows: &[AuditRow], usage: &[UsageIncrement]) -> StoreResult<()> {
        let (rows, usage) = (rows.to_vec(), usage.to_vec());
        transaction(self, move |c| {
            Box::pin(async move {
                if let Some(first) = rows.first() {
                    let tail = c.query_opt(&sql::AUDIT_TAIL, &[]).await?;
                    let (seq, hash) = match tail {
                        Some(r) => (r.int(0)?, r.text(1)?),
                        None => (0, "0".repeat(64)),
                    };
                    if first.seq != seq + 1 || first.prev_hash != hash {
                        return Err(StoreError::Conflict(format!(
                            "audit chain moved: tail is {seq}, batch starts at {}",
                            first.seq
                        )));
                    }
                }
                // A writer that read the same tail concurrently and
                // committed first makes these sequence numbers taken.
                insert_all(c, &rows, "").await.map_err(|e| match e {
                    StoreError::AlreadyExists(_) => {
                        StoreError::Conflict("audit chain moved during the append".into())
                    }
                    e => e,
                })?;
                add_usage(c, &usage).await
            })
        })
        .await
    }

    async fn delete_audit_through(&self, seq: i64) -> StoreResult<u64> {
        execute(self, &sql::AUDIT_DELETE_THROUGH, params![seq]).await
    }

    async fn query_audit(&self, query: &AuditQuery) -> StoreResult<Vec<AuditRow>> {
        let (conditions, mut values) = audit_filter(query);
        values.push(Value::Int(query.limit.min(1_000_000) as i64));
        let statement = sql::audit_query(&conditions, values.len());
        run(self, move |c| {
            Box::pin(async move {
                let rows = c.query(&statement, &values).await?;
                rows.iter().map(AuditRow::decode).collect()
            })
        })
        .await
    }

    async fn usage_flushed(&self, chain: &str) -> StoreResult<u64> {
        count_or_zero(self, &sql::FLUSHED_GET, params![chain]).await
    }

    async fn usage_position(&self, chain: &str) -> StoreResult<ChainPosition> {
        let p = params![chain];
        let chain = chain.to_owned();
        run(self, move |c| {
            Box::pin(async move {
                let Some(row) = c.query_opt(&sql::FLUSHED_POSITION, &p).await? else {
                    return Ok(ChainPosition::default());
                };
                let head = match row.opt_bytes(1)? {
                    None => None,
                    Some(h) => Some(h.try_into().map_err(|_| {
                        StoreError::Corrupt(format!(
                            "usage position of chain {chain}: head is not 32 bytes"
                        ))
                    })?),
                };
                Ok(ChainPosition {
                    seq: row.u64(0)?,
                    head,
                })
            })
        })
        .await
    }

    async fn flush_usage(
        &self,
        chain: &str,
        from: u64,
        through: ChainPosition,
        usage: &[UsageIncrement],
    ) -> StoreResult<()> {
        let (chain, usage) = (chain.to_owned(), usage.to_vec());
        let (head, through) = (through.head.map(|h| h.to_vec()), through.seq);
        transaction(self, move |c| {
            Box::pin(async move {
                c.execute(&sql::FLUSHED_START, &params![chain]).await?;
                // Compare-and-swap: of two flushes from one position, the
                // second finds the position moved (on PostgreSQL it waits
                // for the first's row lock, then re-reads).
                let p = params![chain, from as i64, through as i64, head];
                if through < from || c.execute(&sql::FLUSHED_MOVE, &p).await? != 1 {
                    let row = c.query_opt(&sql::FLUSHED_GET, &params![chain]).await?;
                    let current = row.map(|r: Row| r.int(0)).transpose()?.unwrap_or(0);
                    return Err(StoreError::Conflict(format!(
                        "usage of audit chain {chain} is counted through {current}, not {from}"
                    )));
                }
                add_usage(c, &usage).await
            })
        })
        .await
    }

    async fn usage(
        &self,
        account_id: Option<&str>,
        since_hour: i64,
    ) -> StoreResult<Vec<UsageRecord>> {
        select(self, &sql::LIST, params![account_id, since_hour]).await
    }
}
