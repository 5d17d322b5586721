//! Grants, principals, service secrets, and the audit chain on PostgreSQL.

use tokio_postgres::types::ToSql;

use super::rows::{self, AUDIT_COLUMNS, GRANT_COLUMNS, PRINCIPAL_COLUMNS, all, to_json};
use super::{PostgresStore, db, exists_or_db};
use crate::{
    AuditQuery, AuditRow, GrantRecord, PrincipalRecord, StoreError, StoreResult, UsageIncrement,
    UsageRecord,
};

/// One lock for the audit chain's tail, so concurrent writers (several
/// frontends) append one after another.
const AUDIT_LOCK: i64 = 0x6175_6469_745f_6c6f;

pub(super) async fn create_grant(s: &PostgresStore, g: &GrantRecord) -> StoreResult<()> {
    s.client()
        .await?
        .execute(
            &format!("INSERT INTO grants ({GRANT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"),
            &[
                &g.grant_id,
                &g.key_id.to_string(),
                &g.key_account_id,
                &g.name,
                &g.grantee,
                &g.retiring,
                &to_json(&g.operations)?,
                &g.context_equals.as_ref().map(to_json).transpose()?,
                &g.context_subset.as_ref().map(to_json).transpose()?,
                &g.issuing_account,
                &g.created_at,
                &g.token,
            ],
        )
        .await
        .map_err(exists_or_db(g.grant_id.clone()))?;
    Ok(())
}

/// Grants whose `column` (a fixed column name) equals `value`, by id.
pub(super) async fn grants_where(
    s: &PostgresStore,
    column: &'static str,
    value: &str,
) -> StoreResult<Vec<GrantRecord>> {
    all(
        s.rows(
            &format!("SELECT {GRANT_COLUMNS} FROM grants WHERE {column} = $1 ORDER BY grant_id"),
            &[&value],
        )
        .await?,
        rows::grant,
    )
}

pub(super) async fn create_principal(s: &PostgresStore, p: &PrincipalRecord) -> StoreResult<()> {
    s.client()
        .await?
        .execute(
            &format!("INSERT INTO principals ({PRINCIPAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
            &[
                &p.arn,
                &p.account_id,
                &p.kind.as_str(),
                &p.name,
                &p.policy,
                &to_json(&p.tags)?,
                &p.service_name,
                &p.created_at,
            ],
        )
        .await
        .map_err(exists_or_db(p.arn.clone()))?;
    Ok(())
}

pub(super) async fn update_principal(s: &PostgresStore, p: &PrincipalRecord) -> StoreResult<()> {
    let n = s
        .exec(
            "UPDATE principals SET policy = $2, tags = $3, service_name = $4 WHERE arn = $1",
            &[&p.arn, &p.policy, &to_json(&p.tags)?, &p.service_name],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::NotFound(p.arn.clone()));
    }
    Ok(())
}

/// Principals whose `column` (a fixed column name) equals `value`, by ARN.
pub(super) async fn principals_where(
    s: &PostgresStore,
    column: &'static str,
    value: &str,
) -> StoreResult<Vec<PrincipalRecord>> {
    all(
        s.rows(
            &format!("SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE {column} = $1 ORDER BY arn"),
            &[&value],
        )
        .await?,
        rows::principal,
    )
}

async fn secret(s: &PostgresStore, name: &str) -> StoreResult<Vec<u8>> {
    Ok(s.row(
        "SELECT sealed FROM service_secrets WHERE name = $1",
        &[&name],
    )
    .await?
    .ok_or_else(|| StoreError::NotFound(name.to_owned()))?
    .get(0))
}

pub(super) async fn put_service_secret(
    s: &PostgresStore,
    name: &str,
    sealed: &[u8],
) -> StoreResult<Vec<u8>> {
    s.exec(
        "INSERT INTO service_secrets (name, sealed, created_at) VALUES ($1, $2, EXTRACT(EPOCH FROM now())::BIGINT) \
         ON CONFLICT (name) DO NOTHING",
        &[&name, &sealed],
    )
    .await?;
    secret(s, name).await
}

pub(super) async fn replace_service_secret(
    s: &PostgresStore,
    name: &str,
    old: &[u8],
    new: &[u8],
) -> StoreResult<Vec<u8>> {
    s.exec(
        "UPDATE service_secrets SET sealed = $3 WHERE name = $1 AND sealed = $2",
        &[&name, &old, &new],
    )
    .await?;
    secret(s, name).await
}

async fn locked_tail(
    tx: &deadpool_postgres::Transaction<'_>,
) -> StoreResult<Option<(i64, String)>> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
        .await
        .map_err(db)?;
    Ok(tx
        .query_opt(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await
        .map_err(db)?
        .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1))))
}

pub(super) async fn append_audit(
    s: &PostgresStore,
    rows: &[AuditRow],
    usage: &[UsageIncrement],
) -> StoreResult<()> {
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db)?;
    let last = locked_tail(&tx).await?;
    if let Some(first) = rows.first() {
        let (seq, hash) = last.unwrap_or((0, "0".repeat(64)));
        if first.seq != seq + 1 || first.prev_hash != hash {
            return Err(StoreError::Conflict(format!(
                "audit chain moved: tail is {seq}, batch starts at {}",
                first.seq
            )));
        }
    }
    insert(&tx, rows, usage).await?;
    tx.commit().await.map_err(db)
}

/// The last sequence number of `chain` counted into usage.
pub(super) async fn usage_flushed(s: &PostgresStore, chain: &str) -> StoreResult<u64> {
    let row = s
        .client()
        .await?
        .query_opt("SELECT seq FROM usage_flushed WHERE chain = $1", &[&chain])
        .await
        .map_err(db)?;
    Ok(row.map_or(0, |r| r.get::<_, i64>(0)) as u64)
}

/// Adds `usage` and moves `chain`'s counted position from `from` to
/// `through`, in one transaction (the row lock orders concurrent flushes).
pub(super) async fn flush_usage(
    s: &PostgresStore,
    chain: &str,
    from: u64,
    through: u64,
    usage: &[UsageIncrement],
) -> StoreResult<()> {
    let mut c = s.client().await?;
    let tx = c.transaction().await.map_err(db)?;
    tx.execute(
        "INSERT INTO usage_flushed (chain, seq) VALUES ($1, 0) ON CONFLICT (chain) DO NOTHING",
        &[&chain],
    )
    .await
    .map_err(db)?;
    let current: i64 = tx
        .query_one(
            "SELECT seq FROM usage_flushed WHERE chain = $1 FOR UPDATE",
            &[&chain],
        )
        .await
        .map_err(db)?
        .get(0);
    if current as u64 != from || through < from {
        return Err(StoreError::Conflict(format!(
            "usage of audit chain {chain} is counted through {current}, not {from}"
        )));
    }
    insert(&tx, &[], usage).await?;
    tx.execute(
        "UPDATE usage_flushed SET seq = $2 WHERE chain = $1",
        &[&chain, &(through as i64)],
    )
    .await
    .map_err(db)?;
    tx.commit().await.map_err(db)
}

/// Inserts a batch in one statement (arrays, UNNEST): one round trip
/// however many records, where a statement per row cost one each.
async fn insert(
    tx: &deadpool_postgres::Transaction<'_>,
    rows: &[AuditRow],
    usage: &[UsageIncrement],
) -> StoreResult<()> {
    fn col<T: Clone>(rows: &[AuditRow], f: impl Fn(&AuditRow) -> T) -> Vec<T> {
        rows.iter().map(f).collect()
    }
    tx.execute(
        &format!(
            "INSERT INTO audit_log ({AUDIT_COLUMNS}) SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], \
             $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::TEXT[], $10::TEXT[])"
        ),
        &[
            &col(rows, |r| r.seq),
            &col(rows, |r| r.time_ms),
            &col(rows, |r| r.principal.clone()),
            &col(rows, |r| r.account_id.clone()),
            &col(rows, |r| r.operation.clone()),
            &col(rows, |r| r.key_arn.clone()),
            &col(rows, |r| r.error_code.clone()),
            &col(rows, |r| r.record.clone()),
            &col(rows, |r| r.prev_hash.clone()),
            &col(rows, |r| r.hash.clone()),
        ],
    )
    .await
    .map_err(db)?;
    if usage.is_empty() {
        return Ok(());
    }
    let texts =
        |f: fn(&UsageIncrement) -> &String| usage.iter().map(|u| f(u).clone()).collect::<Vec<_>>();
    tx.execute(
        "INSERT INTO usage (account_id, operation, key_id, hour, count) \
         SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[]) \
         ON CONFLICT (account_id, operation, key_id, hour) DO UPDATE SET count = usage.count + excluded.count",
        &[
            &texts(|u| &u.account_id),
            &texts(|u| &u.operation),
            &texts(|u| &u.key_id),
            &usage.iter().map(|u| u.hour).collect::<Vec<i64>>(),
            &usage.iter().map(|u| u.count as i64).collect::<Vec<i64>>(),
        ],
    )
    .await
    .map_err(db)?;
    Ok(())
}

pub(super) async fn query_audit(s: &PostgresStore, q: &AuditQuery) -> StoreResult<Vec<AuditRow>> {
    let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_log WHERE TRUE");
    let mut ints: Vec<(&str, i64)> = Vec::new();
    let mut texts: Vec<(&str, String)> = Vec::new();
    if let Some(v) = q.after_seq {
        ints.push(("seq >", v));
    }
    if let Some(v) = q.since_ms {
        ints.push(("time_ms >=", v));
    }
    if let Some(v) = q.until_ms {
        ints.push(("time_ms <", v));
    }
    for (col, v) in [
        ("principal =", &q.principal),
        ("account_id =", &q.account_id),
        ("operation =", &q.operation),
        ("key_arn =", &q.key_arn),
    ] {
        if let Some(v) = v {
            texts.push((col, v.clone()));
        }
    }
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    for (cond, v) in &ints {
        params.push(v);
        sql.push_str(&format!(" AND {cond} ${}", params.len()));
    }
    for (cond, v) in &texts {
        params.push(v);
        sql.push_str(&format!(" AND {cond} ${}", params.len()));
    }
    match q.failed {
        Some(true) => sql.push_str(" AND error_code IS NOT NULL"),
        Some(false) => sql.push_str(" AND error_code IS NULL"),
        None => {}
    }
    sql.push_str(&format!(" ORDER BY seq LIMIT {}", q.limit.min(1_000_000)));
    all(s.rows(&sql, &params).await?, rows::audit)
}

pub(super) async fn usage(
    s: &PostgresStore,
    account_id: Option<&str>,
    since_hour: i64,
) -> StoreResult<Vec<UsageRecord>> {
    s.rows(
        "SELECT account_id, operation, key_id, hour, count FROM usage \
         WHERE ($1::TEXT IS NULL OR account_id = $1) AND hour >= $2 \
         ORDER BY account_id, hour, operation, key_id",
        &[&account_id, &since_hour],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(UsageRecord {
            account_id: r.get(0),
            operation: r.get(1),
            key_id: r.get(2),
            hour: r.get(3),
            count: r.get::<_, i64>(4) as u64,
        })
    })
    .collect()
}
