//! `strongroom admin audit query|verify` and `strongroom admin usage`:
//! reading the audit trail and usage counters straight from the store (no
//! security module needed).

use anyhow::Context;
use clap::Subcommand;
use strongroom_server::audit::{ChainReport, verify_chain};
use strongroom_store::{AuditQuery, Store};

/// `strongroom admin audit ...`.
#[derive(Subcommand, Debug)]
pub enum AuditAction {
    /// Print audit records (JSON lines, oldest first) matching filters.
    Query {
        /// At or after this time (RFC 3339, e.g. 2026-11-28T10:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Before this time (RFC 3339).
        #[arg(long)]
        until: Option<String>,
        /// Only this principal ARN.
        #[arg(long)]
        principal: Option<String>,
        /// Only this account.
        #[arg(long)]
        account: Option<String>,
        /// Only this operation (e.g. Decrypt).
        #[arg(long)]
        operation: Option<String>,
        /// Only this key ARN.
        #[arg(long)]
        key: Option<String>,
        /// Only failed (denied or erroneous) requests.
        #[arg(long, conflicts_with = "succeeded")]
        failed: bool,
        /// Only successful requests.
        #[arg(long)]
        succeeded: bool,
        /// At most this many records.
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Check the hash chain from the first record; exit 1 and name the first
    /// broken record if it does not hold.
    Verify,
}

/// Epoch milliseconds of an RFC 3339 time.
pub fn parse_time_ms(s: &str) -> anyhow::Result<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("'{s}' is not an RFC 3339 time like 2026-11-28T10:00:00Z"))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// Runs an audit action; returns the process exit code.
pub async fn run(store: &dyn Store, action: AuditAction) -> anyhow::Result<i32> {
    match action {
        AuditAction::Query {
            since,
            until,
            principal,
            account,
            operation,
            key,
            failed,
            succeeded,
            limit,
        } => {
            let q = AuditQuery {
                after_seq: None,
                since_ms: since.as_deref().map(parse_time_ms).transpose()?,
                until_ms: until.as_deref().map(parse_time_ms).transpose()?,
                principal,
                account_id: account,
                operation,
                key_arn: key,
                failed: if failed {
                    Some(true)
                } else if succeeded {
                    Some(false)
                } else {
                    None
                },
                limit,
            };
            for r in store.query_audit(&q).await? {
                println!(
                    "{{\"sequence\":{},\"prevHash\":\"{}\",\"hash\":\"{}\",\"event\":{}}}",
                    r.seq, r.prev_hash, r.hash, r.record
                );
            }
            Ok(0)
        }
        AuditAction::Verify => match verify_chain(store).await? {
            ChainReport::Intact { records, head } => {
                println!("audit chain intact: {records} records, head {head}");
                Ok(0)
            }
            ChainReport::Broken { seq, reason } => {
                println!("audit chain BROKEN at record {seq}: {reason}");
                Ok(1)
            }
        },
    }
}

/// `strongroom admin usage`: hourly counters, as a table or JSON.
pub async fn usage(
    store: &dyn Store,
    account: Option<&str>,
    since: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let since_hour = match since {
        Some(s) => parse_time_ms(s)?.div_euclid(3_600_000) * 3600,
        None => 0,
    };
    let rows = store.usage(account, since_hour).await?;
    let hour = |h: i64| {
        time::OffsetDateTime::from_unix_timestamp(h)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default()
    };
    if json {
        let v: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "account": r.account_id, "hour": hour(r.hour), "operation": r.operation,
                    "key": r.key_id, "requests": r.count,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{:<12}  {:<20}  {:<32}  {:<36}  {:>10}",
            "ACCOUNT", "HOUR", "OPERATION", "KEY", "REQUESTS"
        );
        for r in &rows {
            println!(
                "{:<12}  {:<20}  {:<32}  {:<36}  {:>10}",
                r.account_id,
                hour(r.hour),
                r.operation,
                r.key_id,
                r.count
            );
        }
    }
    Ok(())
}
