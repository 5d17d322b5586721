//! The audit trail. Every request, allowed or denied, becomes an
//! [`AuditEvent`]; [`AuditLog::record`] converts it (in one place,
//! [`to_record`]) into the `strongroom-audit` record and appends it to this
//! frontend's own hash-chained chain of segment files, answering once it
//! is as durable as the configured mode says (group commit: one
//! `fdatasync` per batch). A request whose record cannot be written fails,
//! except that a state-changing operation whose *intent* record was written
//! before it ran still answers (see `http` and docs/audit.md). Usage
//! counters are fed from committed batches (`metering`).

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use strongroom_audit::{
    AuditAppender, AuditRecord, AuditWriter, ChainId, CommitObserver, Durability, FooterSealer,
    Identity, LogConfig, RecordError, RollPolicy, SyncGather,
};
use strongroom_store::Store;

use crate::error::KmsError;
use crate::metering::Meter;

/// Who made a request, as far as it is known.
#[derive(Debug, Clone, Default)]
pub struct AuditIdentity {
    /// `Root`, `IAMUser`, `AssumedRole`, `Service`, or `Unknown`.
    pub kind: &'static str,
    /// Principal ARN.
    pub arn: Option<String>,
    /// Account.
    pub account_id: Option<String>,
    /// Access key that signed.
    pub access_key_id: Option<String>,
    /// The service that acted for the principal (authentication proof).
    pub invoked_by: Option<String>,
}

/// One request, as the audit trail records it.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    /// Epoch milliseconds.
    pub time_ms: i64,
    /// `x-amzn-RequestId`.
    pub request_id: String,
    /// Operation name (`-` if none could be read).
    pub operation: String,
    /// The caller.
    pub identity: AuditIdentity,
    /// Client address.
    pub source_ip: Option<IpAddr>,
    /// `User-Agent`, truncated.
    pub user_agent: Option<String>,
    /// Keys the request used.
    pub key_arns: Vec<String>,
    /// Encryption context (values are recorded only if configured).
    pub context: Vec<(String, String)>,
    /// The grant a grant operation (RetireGrant, RevokeGrant) removed.
    pub grant_id: Option<String>,
    /// AWS error code and message, if it failed.
    pub error: Option<(String, String)>,
    /// Where the event happened (`kms.amazonaws.com` when `None`).
    pub event_source: Option<&'static str>,
    /// Event-specific data (a module log record, for module events).
    pub additional: Option<Value>,
    /// The record written before a state-changing operation runs (its
    /// outcome follows in a record of its own); never metered.
    pub intent: bool,
    /// Something the service did by itself (deletion sweep, scheduled
    /// rotation, expiry of imported material): CloudTrail's
    /// `AwsServiceEvent`; never metered.
    pub service: bool,
}

/// The name the service acts under in its own events (CloudTrail's
/// `invokedBy`, `sourceIPAddress` and `userAgent` of a service event).
pub const SERVICE_NAME: &str = "kms.amazonaws.com";

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

impl AuditEvent {
    /// An event for `operation` by `caller`, with a fresh request id (for
    /// requests that reach the processor without the HTTP edge).
    pub fn for_caller(caller: &crate::auth::Caller, operation: &str) -> Self {
        Self {
            time_ms: now_ms(),
            request_id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_owned(),
            identity: AuditIdentity {
                kind: caller.identity.kind.trail_name(),
                arn: Some(caller.identity.session_arn.clone()),
                account_id: Some(caller.account_id.clone()),
                access_key_id: Some(caller.access_key_id.clone()),
                invoked_by: caller.via_service.clone(),
            },
            ..Default::default()
        }
    }

    /// What the service does by itself to key `key_arn` of `account_id`
    /// (`DeleteKey`, `RotateKey`, `DeleteExpiredKeyMaterial`), shaped as
    /// CloudTrail's service events: `userIdentity` of type `AWSService`
    /// invoked by the service, the key in `resources`.
    pub fn service_event(operation: &str, key_arn: &str, account_id: &str) -> Self {
        Self {
            time_ms: now_ms(),
            request_id: uuid::Uuid::new_v4().to_string(),
            operation: operation.to_owned(),
            identity: AuditIdentity {
                kind: "AWSService",
                arn: None,
                account_id: Some(account_id.to_owned()),
                access_key_id: None,
                invoked_by: Some(SERVICE_NAME.to_owned()),
            },
            user_agent: Some(SERVICE_NAME.to_owned()),
            key_arns: vec![key_arn.to_owned()],
            service: true,
            ..Default::default()
        }
    }
}

/// Settings of the audit trail.
#[derive(Clone)]
pub struct AuditConfig {
    /// The directory of segment files (`DATA/audit` by default).
    pub dir: PathBuf,
    /// This frontend's chain (from its host key).
    pub chain: ChainId,
    /// When a request is answered relative to its record's durability.
    pub durability: Durability,
    /// When segments are closed and sealed.
    pub roll: RollPolicy,
    /// Seals footers of closed segments and receipts (the security
    /// module: [`crate::audit_seal::ModuleSealer`]); its trusted keys check
    /// them on recovery and retention.
    pub sealer: Arc<dyn FooterSealer>,
    /// Record encryption-context values, not only keys.
    pub context_values: bool,
    /// Delete acknowledged segments older than this many days.
    pub retain_days: Option<u32>,
    /// How `sync` batches under load wait for more records.
    pub sync_gather: SyncGather,
}

impl std::fmt::Debug for AuditConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditConfig")
            .field("dir", &self.dir)
            .field("chain", &self.chain)
            .field("durability", &self.durability)
            .field("roll", &self.roll)
            .field("sealer", &"<security module>")
            .field("context_values", &self.context_values)
            .field("retain_days", &self.retain_days)
            .field("sync_gather", &self.sync_gather)
            .finish()
    }
}

/// The handle requests use to record themselves.
#[derive(Clone)]
pub struct AuditLog {
    appender: AuditAppender,
    context_values: bool,
}

/// The open trail of a frontend: its writer thread and its usage meter.
pub struct AuditTrail {
    writer: AuditWriter,
    meter: Arc<Meter>,
    config: AuditConfig,
}

/// How often usage counts from committed batches are flushed to the store.
pub const USAGE_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// How often retention looks for acknowledged, expired segments.
pub const RETENTION_INTERVAL: Duration = Duration::from_secs(3600);

impl AuditTrail {
    /// Recovers this frontend's chain, counts into usage every committed
    /// record the store has not counted yet (after a crash), and starts the
    /// writer.
    pub async fn open(config: AuditConfig, store: Arc<dyn Store>) -> Result<Self, KmsError> {
        Self::open_observed(config, store, None).await
    }

    /// [`Self::open`], also telling `extra` (metrics) of every batch.
    pub async fn open_observed(
        config: AuditConfig,
        store: Arc<dyn Store>,
        extra: Option<Arc<dyn CommitObserver>>,
    ) -> Result<Self, KmsError> {
        // Rows an earlier version kept in the store move to a sealed file,
        // before this frontend's chain begins. Rows found once it has begun
        // were not written by an earlier version (this one never writes
        // any): whoever writes the store planted them, and the module must
        // not seal them as the old trail.
        let begun = config.dir.exists()
            && strongroom_audit::list_chains(&config.dir)
                .map_err(|e| KmsError::Internal(e.to_string()))?
                .contains_key(&config.chain);
        if !begun {
            crate::legacy_audit::move_out_of_store(
                store.as_ref(),
                &config.dir,
                config.sealer.clone(),
            )
            .await?;
        } else if !store
            .query_audit(&strongroom_store::AuditQuery {
                limit: 1,
                ..Default::default()
            })
            .await?
            .is_empty()
        {
            tracing::warn!(chain = %config.chain, "the store holds audit rows although this frontend's audit chain has begun: not moved or sealed (this version writes none; an earlier version's rows are moved before a chain's first segment)");
        }
        let position = store.usage_position(config.chain.as_str()).await?;
        let flushed = position.seq;
        let meter = Arc::new(Meter::new(store, config.chain.clone(), flushed));
        let c = config.clone();
        let observer = meter.clone();
        let observers: Arc<dyn CommitObserver> = Arc::new(Observers {
            meter: meter.clone(),
            extra,
        });
        let ((writer, report), rewritten) = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&c.dir)
                .map_err(|e| format!("cannot create audit directory {}: {e}", c.dir.display()))?;
            let mut log = LogConfig::new(&c.dir, c.chain.clone());
            log.durability = c.durability;
            log.roll = c.roll;
            log.gather = c.sync_gather;
            let opened = AuditWriter::open_observed(log, c.sealer.clone(), Some(observers))
                .map_err(|e| format!("cannot open audit chain {}: {e}", c.chain))?;
            // Nothing appends before `open` returns: the records on disk
            // past the store's position are exactly the ones not counted.
            observer
                .rebuild_from_log(&c.dir)
                .map_err(|e| format!("cannot read audit chain {}: {e}", c.chain))?;
            let rewritten = crate::metering::rewritten_at(&c.dir, &c.chain, position)
                .map_err(|e| format!("cannot read audit chain {}: {e}", c.chain))?;
            Ok::<_, String>((opened, rewritten))
        })
        .await
        .map_err(|e| KmsError::Internal(format!("audit writer failed to start: {e}")))?
        .map_err(KmsError::Internal)?;
        let last_seq = report.next_seq.saturating_sub(1);
        if let Some(why) = position_problem(&config, flushed, last_seq, rewritten) {
            if config.durability != Durability::Buffered {
                let _ = writer.shutdown().await;
                return Err(KmsError::Internal(format!(
                    "{why}; keep the chain's files as evidence, move them aside and start with another --audit-chain"
                )));
            }
            tracing::warn!(
                "{why} (buffered mode: a power loss can lose the newest records; the first requests recorded again up to that number are not metered)"
            );
        }
        if report.truncated_bytes > 0 {
            tracing::warn!(chain = %config.chain, bytes = report.truncated_bytes, "audit log: cut off a torn tail left by a crash (no committed record)");
        }
        tracing::info!(
            dir = %config.dir.display(),
            chain = %config.chain,
            durability = %config.durability,
            next_seq = report.next_seq,
            head = %hex::encode(report.head),
            "audit log open"
        );
        meter.flush().await;
        Ok(Self {
            writer,
            meter,
            config,
        })
    }

    /// The handle to record through.
    pub fn log(&self) -> AuditLog {
        AuditLog {
            appender: self.writer.appender(),
            context_values: self.config.context_values,
        }
    }

    /// The usage meter (flushed periodically by [`Self::background`]).
    pub fn meter(&self) -> Arc<Meter> {
        self.meter.clone()
    }

    /// The settings it runs with.
    pub fn config(&self) -> &AuditConfig {
        &self.config
    }

    /// Answers and syncs everything sent, stops the writer, flushes usage.
    pub async fn close(self) {
        if let Err(e) = self.writer.shutdown().await {
            tracing::error!(error = %e, "closing the audit log failed");
        }
        self.meter.flush().await;
    }
}

/// Flushes usage every [`USAGE_FLUSH_INTERVAL`] and runs retention every
/// [`RETENTION_INTERVAL`] (and once at start), until `shutdown`.
pub async fn background(
    meter: Arc<Meter>,
    config: AuditConfig,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut flush = tokio::time::interval(USAGE_FLUSH_INTERVAL);
    let mut retention = tokio::time::interval(RETENTION_INTERVAL);
    loop {
        tokio::select! {
            _ = flush.tick() => meter.flush().await,
            _ = retention.tick() => {
                if let Some(days) = config.retain_days {
                    run_retention(&config, days).await;
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

async fn run_retention(config: &AuditConfig, days: u32) {
    let (dir, sealer) = (config.dir.clone(), config.sealer.clone());
    // The sealer may ask the module for its keys: not on an async task.
    let result = tokio::task::spawn_blocking(move || {
        strongroom_audit::retain(&dir, days, now_ms(), &sealer.trusted())
    })
    .await;
    match result {
        Ok(Ok(r)) => {
            for id in &r.deleted {
                tracing::info!(segment = %id, "audit segment deleted (acknowledged, older than {days} days)");
            }
            for (id, why) in &r.refused {
                tracing::warn!(segment = %id, %why, "audit segment kept by retention");
            }
        }
        Ok(Err(e)) => tracing::error!(error = %e, "audit retention failed; will retry"),
        Err(e) => tracing::error!(error = %e, "audit retention task failed"),
    }
}

/// The usage meter and, if any, another observer of committed batches.
struct Observers {
    meter: Arc<Meter>,
    extra: Option<Arc<dyn CommitObserver>>,
}

impl CommitObserver for Observers {
    fn committed(&self, records: &[AuditRecord], committed: &[strongroom_audit::Committed]) {
        self.meter.committed(records, committed);
        if let Some(o) = &self.extra {
            o.committed(records, committed);
        }
    }

    fn timed(&self, timing: strongroom_audit::BatchTiming) {
        if let Some(o) = &self.extra {
            o.timed(timing);
        }
    }
}

impl AuditLog {
    /// The writer's health (appends in flight, failures, last commit).
    pub fn writer_health(&self) -> strongroom_audit::WriterHealth {
        self.appender.health()
    }

    /// Records `event`; returns once it is as durable as the mode says.
    pub async fn record(&self, event: AuditEvent) -> Result<(), KmsError> {
        match self
            .appender
            .append(to_record(event, self.context_values))
            .await
        {
            Ok(_) => Ok(()),
            Err(strongroom_audit::AuditError::Closed) => {
                Err(KmsError::Internal("The audit trail is unavailable.".into()))
            }
            Err(e) => {
                tracing::error!(error = %e, "audit record not written; request failed");
                Err(KmsError::Internal(
                    "The audit record could not be written.".into(),
                ))
            }
        }
    }
}

/// The one conversion from the frontend's event to the log's record. The
/// record has no field for a grant id: it travels in the event data as
/// `{"grantId":…}`, which the JSON view shows as
/// `requestParameters.grantId` (docs/formats.md, "Audit segments").
pub fn to_record(e: AuditEvent, context_values: bool) -> AuditRecord {
    let additional = match (e.grant_id, e.additional) {
        (Some(g), _) => Some(serde_json::json!({ "grantId": g }).to_string()),
        (None, Some(v)) => Some(v.to_string()),
        (None, None) => None,
    };
    AuditRecord {
        time_ms: e.time_ms,
        request_id: e.request_id,
        operation: e.operation,
        identity: Identity {
            kind: e.identity.kind.to_owned(),
            arn: e.identity.arn,
            account_id: e.identity.account_id,
            access_key_id: e.identity.access_key_id,
            invoked_by: e.identity.invoked_by,
        },
        source_ip: e.source_ip,
        user_agent: e.user_agent,
        key_arns: e.key_arns,
        context: e
            .context
            .into_iter()
            .map(|(k, v)| (k, context_values.then_some(v)))
            .collect(),
        error: e.error.map(|(code, message)| RecordError { code, message }),
        event_source: e.event_source.map(str::to_owned),
        additional_json: additional,
        intent: e.intent,
        service: e.service,
    }
}

/// What is wrong with chain `config.chain` against the position the store
/// counted usage through (`flushed`; the log ends at `last_seq`), if
/// anything. The store counts only committed records: a chain that ends
/// before that position lost committed records, and one whose record there
/// has another hash than the one stored with it was rewritten. In
/// `buffered` mode a power loss can do either (docs/audit.md, "Usage
/// metering"); otherwise someone removed or edited answered records, and
/// taking the chain up would reuse their numbers and hide it.
fn position_problem(
    config: &AuditConfig,
    flushed: u64,
    last_seq: u64,
    rewritten: bool,
) -> Option<String> {
    let (chain, dir) = (&config.chain, config.dir.display());
    if flushed > last_seq {
        Some(format!(
            "audit chain {chain} ends at record {last_seq} but usage was counted through record {flushed}: committed records are missing from {dir}"
        ))
    } else if rewritten {
        Some(format!(
            "audit chain {chain}: record {flushed} in {dir} is not the one usage was counted through (its hash differs from the one the store keeps): committed records were rewritten"
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_values_are_kept_only_when_configured_and_grant_ids_travel() {
        let e = AuditEvent {
            operation: "RetireGrant".into(),
            context: vec![("dept".into(), "secret".into())],
            grant_id: Some("g1".into()),
            ..Default::default()
        };
        let r = to_record(e.clone(), false);
        assert_eq!(r.context, vec![("dept".to_string(), None)]);
        assert_eq!(r.additional_json.as_deref(), Some("{\"grantId\":\"g1\"}"));
        let r = to_record(e, true);
        assert_eq!(r.context, vec![("dept".to_string(), Some("secret".into()))]);
    }
}
