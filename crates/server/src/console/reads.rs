//! The console's read views that are not KMS operations: the audit trail
//! (query, chain verification, export) and usage. Each is authorized as
//! the session's principal, by its own action (the account's root may;
//! anyone else needs it in an identity policy), sees only the caller's
//! account, and is itself audited.
//!
//! | call | action |
//! |---|---|
//! | audit query, export, verification | `strongroom:ReadAudit` |
//! | usage | `strongroom:ReadUsage` |
//! | fleet ([`super::fleet`]) | `strongroom:ReadFleet` |

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header, request::Parts};
use axum::response::Response;
use strongroom_audit::Filter;

use super::{ConsoleState, SignedIn, error_response, query};
use crate::authz::RequestCtx;
use crate::authz::operations::{Effect, Operation, Resources, Route};
use crate::error::KmsError;

/// Records one audit query returns at most.
const MAX_RECORDS: usize = 500;
/// Records one export holds at most.
const MAX_EXPORT: usize = 100_000;
/// Read views served at once (each may scan the whole audit trail and an
/// export holds up to [`MAX_EXPORT`] records in memory); more wait.
pub(crate) const MAX_HEAVY_READS: usize = 2;

/// The read views' concurrency bound: without it a principal allowed to
/// read its own audit trail could run exports side by side until the
/// frontend ran out of memory, taking every account down with it.
pub(crate) struct HeavyReads(tokio::sync::Semaphore);

impl Default for HeavyReads {
    fn default() -> Self {
        Self(tokio::sync::Semaphore::new(MAX_HEAVY_READS))
    }
}

impl HeavyReads {
    /// Runs `work` once fewer than [`MAX_HEAVY_READS`] others run.
    pub(crate) async fn run<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, KmsError>>,
    ) -> Result<T, KmsError> {
        let _permit = self.0.acquire().await.map_err(internal)?;
        work.await
    }
}

const fn row(name: &'static str, action: &'static str) -> Operation {
    Operation {
        name,
        action,
        route: Route::Served,
        resources: Resources::Keyless,
        context: false,
        grant_operations: &[],
        halves: &[],
        effect: Effect::Reads,
        via_proof: false,
        random: false,
    }
}

static READ_AUDIT: Operation = row("ConsoleReadAudit", "strongroom:ReadAudit");
static VERIFY_AUDIT: Operation = row("ConsoleVerifyAudit", "strongroom:ReadAudit");
static EXPORT_AUDIT: Operation = row("ConsoleExportAudit", "strongroom:ReadAudit");
static READ_USAGE: Operation = row("ConsoleReadUsage", "strongroom:ReadUsage");
/// The fleet view's row.
pub(crate) static READ_FLEET: Operation = row("ConsoleReadFleet", "strongroom:ReadFleet");

/// Runs `work` for a signed-in caller allowed `row`'s action, and audits
/// the call under `row`'s name.
pub(crate) async fn authorized<F, Fut>(
    state: &Arc<ConsoleState>,
    parts: &Parts,
    row: &'static Operation,
    work: F,
) -> Response<Body>
where
    F: FnOnce(SignedIn) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<u8>, KmsError>>,
{
    let started = Instant::now();
    let signed = match super::signed_in(state, parts).await {
        Ok(s) => s,
        Err(e) => return error_response(&e),
    };
    let event = super::event_for(&signed.caller, signed.meta, parts, row.name);
    let allowed = {
        let mut rq = RequestCtx::new(&signed.caller, signed.meta, row);
        crate::authz::authorize_keyless(&mut rq)
    };
    let result = match allowed {
        Ok(()) => state.heavy.run(work(signed)).await,
        Err(e) => Err(e),
    };
    super::finish(state, event, result, started).await
}

fn internal(e: impl std::fmt::Display) -> KmsError {
    KmsError::Internal(format!("reading the audit trail failed: {e}"))
}

/// The filter of an audit query's parameters.
fn filter_of(params: &HashMap<String, String>) -> Result<Filter, KmsError> {
    let text = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
    let failed = match params.get("outcome").map(String::as_str) {
        None | Some("") | Some("any") => None,
        Some("success") => Some(false),
        Some("failure") => Some(true),
        Some(_) => {
            return Err(KmsError::Validation(
                "outcome must be success, failure or any.".into(),
            ));
        }
    };
    Ok(Filter {
        since_ms: query::time_ms(params, "since")?,
        until_ms: query::time_ms(params, "until")?,
        operation: text("operation"),
        key: text("key"),
        principal: text("principal"),
        failed,
        chain: None,
    })
}

/// The newest `limit` records of `account` that pass `filter` (outcome
/// records only: an intent record is followed by its outcome), oldest
/// first, as JSON lines; and whether older ones were left out.
fn newest(
    dir: &std::path::Path,
    filter: Filter,
    account: &str,
    region: &str,
    limit: usize,
) -> Result<(Vec<String>, bool), KmsError> {
    if !dir.exists() {
        return Ok((Vec::new(), false));
    }
    let mut kept = VecDeque::with_capacity(limit.min(1024));
    let mut dropped = false;
    for r in strongroom_audit::query(dir, filter).map_err(internal)? {
        let r = r.map_err(internal)?;
        if r.record.intent || r.record.identity.account_id.as_deref() != Some(account) {
            continue;
        }
        if kept.len() == limit {
            kept.pop_front();
            dropped = true;
        }
        kept.push_back(strongroom_audit::event_json(&r, region));
    }
    Ok((kept.into(), dropped))
}

/// `GET /console/api/audit?since&until&principal&operation&key&outcome&limit`.
pub async fn audit(State(state): State<Arc<ConsoleState>>, parts: Parts) -> Response<Body> {
    let (dir, uri) = (state.audit_dir.clone(), parts.uri.clone());
    authorized(&state, &parts, &READ_AUDIT, |s| async move {
        let params = query::parse(uri.query())?;
        let filter = filter_of(&params)?;
        let limit = query::number(&params, "limit", 100, MAX_RECORDS)?;
        let (account, region) = (s.caller.account_id.clone(), s.caller.region.to_string());
        let (lines, truncated) =
            tokio::task::spawn_blocking(move || newest(&dir, filter, &account, &region, limit))
                .await
                .map_err(internal)??;
        let mut out = format!("{{\"truncated\":{truncated},\"records\":[").into_bytes();
        for (i, l) in lines.iter().rev().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(l.as_bytes());
        }
        out.extend_from_slice(b"]}");
        Ok(out)
    })
    .await
}

/// `GET /console/api/audit/export?…`: the matching records (at most
/// 100 000, oldest first) as JSON lines, for download.
pub async fn export(State(state): State<Arc<ConsoleState>>, parts: Parts) -> Response<Body> {
    let (dir, uri) = (state.audit_dir.clone(), parts.uri.clone());
    let mut r = authorized(&state, &parts, &EXPORT_AUDIT, |s| async move {
        let params = query::parse(uri.query())?;
        let filter = filter_of(&params)?;
        let (account, region) = (s.caller.account_id.clone(), s.caller.region.to_string());
        let (lines, _) = tokio::task::spawn_blocking(move || {
            newest(&dir, filter, &account, &region, MAX_EXPORT)
        })
        .await
        .map_err(internal)??;
        let mut out = Vec::new();
        for l in lines {
            out.extend_from_slice(l.as_bytes());
            out.push(b'\n');
        }
        Ok(out)
    })
    .await;
    if r.status().is_success() {
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        );
        h.insert(
            header::CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"strongroom-audit.jsonl\""),
        );
    }
    r
}

/// `GET /console/api/audit/verify`: every chain checked against the seal
/// keys the security module vouches for; each chain's head hash.
pub async fn verify(State(state): State<Arc<ConsoleState>>, parts: Parts) -> Response<Body> {
    let (dir, hsm) = (state.audit_dir.clone(), state.hsm.clone());
    authorized(&state, &parts, &VERIFY_AUDIT, |_| async move {
        let trusted = crate::audit_seal::module_seal_keys(&hsm).await?;
        let report =
            tokio::task::spawn_blocking(move || strongroom_audit::verify_dir(&dir, &trusted, &[]))
                .await
                .map_err(internal)?
                .map_err(internal)?;
        let chains: Vec<_> = report
            .chains
            .iter()
            .map(|c| {
                serde_json::json!({
                    "chain": c.chain.to_string(),
                    "records": c.records,
                    "unsealedRecords": c.unsealed_records,
                    "segments": c.segments,
                    "lastSequence": c.last_seq,
                    "head": hex::encode(c.head),
                    "problems": c.problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
                })
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({ "intact": report.intact(), "chains": chains }))
            .map_err(internal)
    })
    .await
}

/// `GET /console/api/usage?hours=N`: the caller's account's successful
/// requests per hour, operation and key, over the last N hours (24).
pub async fn usage(State(state): State<Arc<ConsoleState>>, parts: Parts) -> Response<Body> {
    let (dir, store, uri) = (
        state.audit_dir.clone(),
        state.store.clone(),
        parts.uri.clone(),
    );
    authorized(&state, &parts, &READ_USAGE, |s| async move {
        let params = query::parse(uri.query())?;
        let hours = query::number(&params, "hours", 24, 24 * 90)? as i64;
        let now_hour = crate::clock::now_epoch().div_euclid(3600) * 3600;
        let since = now_hour - (hours - 1) * 3600;
        let rows =
            crate::metering::exact_usage(store, &dir, Some(&s.caller.account_id), since).await?;
        let rows: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "hour": r.hour, "operation": r.operation, "key": r.key_id, "requests": r.count,
                })
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "since": since, "until": now_hour + 3600, "rows": rows,
        }))
        .map_err(internal)
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn read_views_run_at_most_two_at_once() {
        let heavy = Arc::new(HeavyReads::default());
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..6 {
            let (heavy, now, most) = (heavy.clone(), now.clone(), most.clone());
            tasks.spawn(async move {
                heavy
                    .run(async {
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(n, Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        now.fetch_sub(1, Ordering::SeqCst);
                        Ok::<_, KmsError>(())
                    })
                    .await
            });
        }
        while let Some(r) = tasks.join_next().await {
            r.unwrap().unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), MAX_HEAVY_READS);
    }
}
