//! The audit chain and usage counters in SQLite.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::db;
use crate::{AuditQuery, AuditRow, StoreError, StoreResult, UsageIncrement, UsageRecord};

const COLUMNS: &str =
    "seq, time_ms, principal, account_id, operation, key_arn, error_code, record, prev_hash, hash";

fn from_row(r: &Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        seq: r.get(0)?,
        time_ms: r.get(1)?,
        principal: r.get(2)?,
        account_id: r.get(3)?,
        operation: r.get(4)?,
        key_arn: r.get(5)?,
        error_code: r.get(6)?,
        record: r.get(7)?,
        prev_hash: r.get(8)?,
        hash: r.get(9)?,
    })
}

fn last(tx: &rusqlite::Transaction<'_>) -> StoreResult<Option<(i64, String)>> {
    tx.query_row(
        "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()
    .map_err(db)
}

/// Appends `rows` (which must continue the stored chain) and adds `usage`,
/// in one transaction.
pub(super) fn append(
    c: &mut Connection,
    rows: &[AuditRow],
    usage: &[UsageIncrement],
) -> StoreResult<()> {
    let tx = c.transaction().map_err(db)?;
    let last = last(&tx)?;
    if let Some(first) = rows.first() {
        let (seq, hash) = last.unwrap_or((0, "0".repeat(64)));
        if first.seq != seq + 1 || first.prev_hash != hash {
            return Err(StoreError::Conflict(format!(
                "audit chain moved: tail is {seq}, batch starts at {}",
                first.seq
            )));
        }
    }
    insert(&tx, rows, usage)?;
    tx.commit().map_err(db)
}

fn insert(
    tx: &rusqlite::Transaction<'_>,
    rows: &[AuditRow],
    usage: &[UsageIncrement],
) -> StoreResult<()> {
    {
        let mut ins = tx
            .prepare_cached(&format!(
                "INSERT INTO audit_log ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ))
            .map_err(db)?;
        for r in rows {
            ins.execute(params![
                r.seq,
                r.time_ms,
                r.principal,
                r.account_id,
                r.operation,
                r.key_arn,
                r.error_code,
                r.record,
                r.prev_hash,
                r.hash
            ])
            .map_err(db)?;
        }
        let mut up = tx
            .prepare_cached(
                "INSERT INTO usage (account_id, operation, key_id, hour, count) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (account_id, operation, key_id, hour) DO UPDATE SET count = count + excluded.count",
            )
            .map_err(db)?;
        for u in usage {
            up.execute(params![
                u.account_id,
                u.operation,
                u.key_id,
                u.hour,
                u.count as i64
            ])
            .map_err(db)?;
        }
    }
    Ok(())
}

pub(super) fn query(c: &mut Connection, q: &AuditQuery) -> StoreResult<Vec<AuditRow>> {
    let mut sql = format!("SELECT {COLUMNS} FROM audit_log WHERE 1=1");
    let mut args: Vec<rusqlite::types::Value> = Vec::new();
    let mut add = |cond: &str, v: rusqlite::types::Value| {
        args.push(v);
        sql.push_str(&format!(" AND {cond} ?{}", args.len()));
    };
    if let Some(v) = q.after_seq {
        add("seq >", v.into());
    }
    if let Some(v) = q.since_ms {
        add("time_ms >=", v.into());
    }
    if let Some(v) = q.until_ms {
        add("time_ms <", v.into());
    }
    if let Some(v) = &q.principal {
        add("principal =", v.clone().into());
    }
    if let Some(v) = &q.account_id {
        add("account_id =", v.clone().into());
    }
    if let Some(v) = &q.operation {
        add("operation =", v.clone().into());
    }
    if let Some(v) = &q.key_arn {
        add("key_arn =", v.clone().into());
    }
    match q.failed {
        Some(true) => sql.push_str(" AND error_code IS NOT NULL"),
        Some(false) => sql.push_str(" AND error_code IS NULL"),
        None => {}
    }
    sql.push_str(&format!(" ORDER BY seq LIMIT {}", q.limit.min(1_000_000)));
    let mut s = c.prepare(&sql).map_err(db)?;
    let rows = s
        .query_map(rusqlite::params_from_iter(args), from_row)
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

/// The last sequence number of `chain` counted into usage.
pub(super) fn usage_flushed(c: &mut Connection, chain: &str) -> StoreResult<u64> {
    let seq: Option<i64> = c
        .query_row(
            "SELECT seq FROM usage_flushed WHERE chain = ?1",
            [chain],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    Ok(seq.unwrap_or(0) as u64)
}

/// Adds `usage` and moves `chain`'s counted position from `from` to
/// `through`, in one transaction.
pub(super) fn flush_usage(
    c: &mut Connection,
    chain: &str,
    from: u64,
    through: u64,
    usage: &[UsageIncrement],
) -> StoreResult<()> {
    let tx = c.transaction().map_err(db)?;
    let current: Option<i64> = tx
        .query_row(
            "SELECT seq FROM usage_flushed WHERE chain = ?1",
            [chain],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    let current = current.unwrap_or(0) as u64;
    if current != from || through < from {
        return Err(StoreError::Conflict(format!(
            "usage of audit chain {chain} is counted through {current}, not {from}"
        )));
    }
    insert(&tx, &[], usage)?;
    tx.execute(
        "INSERT INTO usage_flushed (chain, seq) VALUES (?1, ?2)
         ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq",
        params![chain, through as i64],
    )
    .map_err(db)?;
    tx.commit().map_err(db)
}

pub(super) fn usage(
    c: &mut Connection,
    account_id: Option<&str>,
    since_hour: i64,
) -> StoreResult<Vec<UsageRecord>> {
    let mut s = c
        .prepare(
            "SELECT account_id, operation, key_id, hour, count FROM usage
             WHERE (?1 IS NULL OR account_id = ?1) AND hour >= ?2
             ORDER BY account_id, hour, operation, key_id",
        )
        .map_err(db)?;
    let rows = s
        .query_map(params![account_id, since_hour], |r| {
            Ok(UsageRecord {
                account_id: r.get(0)?,
                operation: r.get(1)?,
                key_id: r.get(2)?,
                hour: r.get(3)?,
                count: r.get::<_, i64>(4)? as u64,
            })
        })
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}
