//! Usage metering off the request path: counters are added up in memory
//! from the audit log's committed batches (a [`CommitObserver`], so a
//! request counts exactly when its record is in the log, never for a
//! failed batch) and flushed to the store with the chain position they
//! count through, in one transaction. After a crash the records past the
//! stored position are counted again from the log ([`Meter::rebuild_from_log`]),
//! so counters are exact across restarts.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use strongroom_audit::{
    AuditRecord, ChainId, CommitObserver, Committed, SealedFooter, list_chains, read_segment,
};
use strongroom_store::{ChainPosition, Store, StoreError, UsageIncrement};

/// (account, operation, key id, hour).
type CounterKey = (String, String, String, i64);

#[derive(Default)]
struct Pending {
    counts: HashMap<CounterKey, u64>,
    /// The newest committed sequence number seen.
    through: u64,
    /// The chain hash after record `through`, once a record was seen.
    head: Option<[u8; 32]>,
    /// What the store has counted through.
    flushed: u64,
}

/// Usage counters of one chain, waiting to be flushed.
pub struct Meter {
    store: Arc<dyn Store>,
    chain: ChainId,
    pending: Mutex<Pending>,
    /// One flush at a time (the store refuses a second from the same
    /// position anyway).
    flushing: tokio::sync::Mutex<()>,
}

/// Only successful, authenticated requests are billable.
fn counter_key(r: &AuditRecord) -> Option<CounterKey> {
    if r.error.is_some() || r.intent || r.service {
        return None;
    }
    let account = r.identity.account_id.as_ref()?;
    let key = r
        .key_arns
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
        .unwrap_or_else(|| "-".into());
    Some((
        account.clone(),
        r.operation.clone(),
        key,
        r.time_ms.div_euclid(3_600_000) * 3600,
    ))
}

fn increments(counts: &HashMap<CounterKey, u64>) -> Vec<UsageIncrement> {
    counts
        .iter()
        .map(
            |((account_id, operation, key_id, hour), count)| UsageIncrement {
                account_id: account_id.clone(),
                operation: operation.clone(),
                key_id: key_id.clone(),
                hour: *hour,
                count: *count,
            },
        )
        .collect()
}

/// Usage counters as exact as the audit log: the store's counters plus
/// what every chain in `dir` committed past its flushed position (a
/// frontend flushes about once a second). Retries while a flush lands
/// between the reads, so nothing is counted twice or missed.
pub async fn exact_usage(
    store: Arc<dyn Store>,
    dir: &Path,
    account_id: Option<&str>,
    since_hour: i64,
) -> Result<Vec<UsageIncrement>, crate::error::KmsError> {
    let chains: Vec<ChainId> = if dir.exists() {
        list_chains(dir)
            .map_err(|e| crate::error::KmsError::Internal(e.to_string()))?
            .into_keys()
            .collect()
    } else {
        Vec::new()
    };
    loop {
        let mut positions = Vec::new();
        for c in &chains {
            positions.push(store.usage_flushed(c.as_str()).await?);
        }
        let stored = store.usage(account_id, since_hour).await?;
        let mut again = Vec::new();
        for c in &chains {
            again.push(store.usage_flushed(c.as_str()).await?);
        }
        if again != positions {
            continue;
        }
        let mut total: HashMap<CounterKey, u64> = stored
            .into_iter()
            .map(|u| ((u.account_id, u.operation, u.key_id, u.hour), u.count))
            .collect();
        for (c, flushed) in chains.iter().zip(positions) {
            let meter = Meter::new(store.clone(), c.clone(), flushed);
            meter
                .rebuild_from_log(dir)
                .map_err(|e| crate::error::KmsError::Internal(e.to_string()))?;
            for u in meter.pending_usage() {
                if account_id.is_some_and(|a| a != u.account_id) || u.hour < since_hour {
                    continue;
                }
                *total
                    .entry((u.account_id, u.operation, u.key_id, u.hour))
                    .or_default() += u.count;
            }
        }
        let mut out = increments(&total);
        out.sort_by(|a, b| {
            (&a.account_id, a.hour, &a.operation, &a.key_id).cmp(&(
                &b.account_id,
                b.hour,
                &b.operation,
                &b.key_id,
            ))
        });
        return Ok(out);
    }
}

/// Whether chain `chain` in `dir` holds the record at `position` with
/// another hash than the one stored with it: the log was rewritten after
/// that record was counted (or, in `buffered` mode, lost and recorded
/// again). `false` when no head was stored or the chain ends before it
/// (the caller checks the length).
pub fn rewritten_at(
    dir: &Path,
    chain: &ChainId,
    position: ChainPosition,
) -> Result<bool, strongroom_audit::AuditError> {
    let Some(head) = position.head else {
        return Ok(false);
    };
    let chains = list_chains(dir)?;
    for files in chains.get(chain).into_iter().flatten() {
        let Some(seg) = &files.segment else { continue };
        let before = files
            .footer
            .as_ref()
            .and_then(|f| SealedFooter::read(f).ok())
            .is_some_and(|f| f.body.last_seq < position.seq);
        if before {
            continue;
        }
        let parsed = read_segment(seg)?;
        if let Some(r) = parsed.records.iter().find(|r| r.seq == position.seq) {
            return Ok(r.hash != head);
        }
    }
    Ok(false)
}

impl Meter {
    /// A meter for `chain`, whose records through `flushed` are counted.
    pub fn new(store: Arc<dyn Store>, chain: ChainId, flushed: u64) -> Self {
        Self {
            store,
            chain,
            pending: Mutex::new(Pending {
                through: flushed,
                flushed,
                ..Default::default()
            }),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    fn add<'a>(&self, records: impl Iterator<Item = (u64, [u8; 32], &'a AuditRecord)>) {
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        for (seq, hash, r) in records {
            if seq <= p.flushed {
                continue;
            }
            if let Some(k) = counter_key(r) {
                *p.counts.entry(k).or_default() += 1;
            }
            if seq >= p.through {
                p.through = seq;
                p.head = Some(hash);
            }
        }
    }

    /// Counts the chain's records in `dir` past the stored position (those
    /// committed before a crash and never flushed). Call before anything
    /// appends.
    pub fn rebuild_from_log(&self, dir: &Path) -> Result<(), strongroom_audit::AuditError> {
        let flushed = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .flushed;
        let chains = list_chains(dir)?;
        let Some(segments) = chains.get(&self.chain) else {
            return Ok(());
        };
        for files in segments {
            let Some(seg) = &files.segment else { continue };
            let counted = files
                .footer
                .as_ref()
                .and_then(|f| SealedFooter::read(f).ok())
                .is_some_and(|f| f.body.last_seq <= flushed);
            if counted {
                continue;
            }
            let parsed = read_segment(seg)?;
            self.add(parsed.records.iter().map(|r| (r.seq, r.hash, &r.record)));
        }
        Ok(())
    }

    /// What is counted and not yet flushed, as increments.
    pub fn pending_usage(&self) -> Vec<UsageIncrement> {
        let p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        increments(&p.counts)
    }

    /// Writes what was counted since the last flush to the store; on
    /// failure keeps it for the next try.
    pub async fn flush(&self) {
        let _one = self.flushing.lock().await;
        let (counts, from, through) = {
            let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            if p.through <= p.flushed {
                return;
            }
            let through = ChainPosition {
                seq: p.through,
                head: p.head,
            };
            (std::mem::take(&mut p.counts), p.flushed, through)
        };
        let usage = increments(&counts);
        let chain = self.chain.as_str();
        let mut result = self.store.flush_usage(chain, from, through, &usage).await;
        if let Err(StoreError::Conflict(_)) = &result {
            // The commit may have landed though its answer was lost.
            if self.store.usage_position(chain).await.ok() == Some(through) {
                result = Ok(());
            }
        }
        let mut p = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(()) => p.flushed = through.seq,
            Err(e) => {
                tracing::warn!(error = %e, chain, "flushing usage counters failed; will retry");
                for (k, n) in counts {
                    *p.counts.entry(k).or_default() += n;
                }
            }
        }
    }
}

impl CommitObserver for Meter {
    fn committed(&self, records: &[AuditRecord], committed: &[Committed]) {
        self.add(
            committed
                .iter()
                .zip(records.iter())
                .map(|(c, r)| (c.seq, c.hash, r)),
        );
    }
}
