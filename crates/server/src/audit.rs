//! The audit trail and usage metering. Every request, allowed or denied,
//! becomes a CloudTrail-shaped event; one writer task per frontend hands
//! them in batches to the store, which numbers and chains them under the
//! chain's lock (each carries the hash of the one before; frontends sharing
//! a database append one after another) and commits them with the usage
//! counters of the successful ones; the writer streams them as JSON lines
//! to a file (one `fdatasync` per batch: group commit), and only then lets
//! the requests answer. A request whose record cannot be written fails,
//! except that a state-changing operation whose *intent* record was written
//! before it ran still answers (see `http` and docs/audit.md).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Value, json};
use strongroom_crypto::sha256;
use strongroom_store::{AuditDraft, AuditQuery, Store, StoreError, UsageIncrement};
use tokio::sync::{mpsc, oneshot};

use crate::error::KmsError;

/// Most events committed in one transaction.
const MAX_BATCH: usize = 2048;
/// Stands for the sequence number the store assigns.
const SEQ_PLACEHOLDER: i64 = i64::MIN;
/// The hash a chain starts from.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

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
#[derive(Debug, Clone, Default)]
pub struct AuditConfig {
    /// Also stream each record as a JSON line to this file.
    pub file: Option<PathBuf>,
    /// Record encryption-context values, not only keys.
    pub context_values: bool,
    /// Region for the records.
    pub region: String,
}

struct Pending {
    event: AuditEvent,
    done: oneshot::Sender<Result<(), String>>,
}

/// The JSON-lines copy of the trail, shared with the blocking task that
/// writes and syncs it.
type AuditFile = Arc<std::sync::Mutex<std::fs::File>>;

/// The handle requests use to record themselves.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Pending>,
}

impl AuditLog {
    /// Starts the writer task over `store`.
    pub async fn start(store: Arc<dyn Store>, config: AuditConfig) -> Result<Self, KmsError> {
        let file = match &config.file {
            Some(p) => Some(Arc::new(std::sync::Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| {
                        KmsError::Internal(format!("cannot open audit file {}: {e}", p.display()))
                    })?,
            ))),
            None => None,
        };
        let (tx, rx) = mpsc::channel(16_384);
        tokio::spawn(writer(store, config, file, rx));
        Ok(Self { tx })
    }

    /// Records `event`; returns once it is durable.
    pub async fn record(&self, event: AuditEvent) -> Result<(), KmsError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Pending { event, done })
            .await
            .map_err(|_| KmsError::Internal("The audit trail is unavailable.".into()))?;
        match wait.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "audit record not written; request failed");
                Err(KmsError::Internal(
                    "The audit record could not be written.".into(),
                ))
            }
            Err(_) => Err(KmsError::Internal("The audit trail is unavailable.".into())),
        }
    }
}

fn rfc3339_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IdentityJson<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    arn: &'a Option<String>,
    account_id: &'a Option<String>,
    access_key_id: &'a Option<String>,
    invoked_by: &'a Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ParamsJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<&'a String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grant_id: Option<&'a String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    encryption_context_keys: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_context: Option<BTreeMap<&'a str, &'a str>>,
}

#[derive(Serialize)]
struct ResourceJson<'a> {
    #[serde(rename = "ARN")]
    arn: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(rename = "accountId", skip_serializing_if = "Option::is_none")]
    account_id: Option<&'a str>,
}

/// CloudTrail's field names and order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventJson<'a> {
    event_version: &'static str,
    sequence: i64,
    event_time: String,
    event_source: &'static str,
    event_name: &'a str,
    aws_region: &'a str,
    #[serde(rename = "requestID")]
    request_id: &'a str,
    #[serde(rename = "sourceIPAddress")]
    source_ip_address: Option<String>,
    user_agent: &'a Option<String>,
    user_identity: IdentityJson<'a>,
    request_parameters: ParamsJson<'a>,
    resources: Vec<ResourceJson<'a>>,
    event_type: &'static str,
    event_category: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    additional_event_data: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
}

/// The CloudTrail-shaped JSON of one event at position `seq`.
fn event_json(e: &AuditEvent, seq: i64, config: &AuditConfig) -> String {
    let mut keys: Vec<&str> = Vec::new();
    for (k, _) in &e.context {
        if !keys.contains(&k.as_str()) {
            keys.push(k);
        }
    }
    let intent_marker = json!({"phase": "intent"});
    let ev = EventJson {
        event_version: "1.08",
        sequence: seq,
        event_time: rfc3339_ms(e.time_ms),
        event_source: e.event_source.unwrap_or("kms.amazonaws.com"),
        event_name: &e.operation,
        aws_region: &config.region,
        request_id: &e.request_id,
        source_ip_address: if e.service {
            Some(SERVICE_NAME.to_owned())
        } else {
            e.source_ip.map(|ip| ip.to_string())
        },
        user_agent: &e.user_agent,
        user_identity: IdentityJson {
            kind: e.identity.kind,
            arn: &e.identity.arn,
            account_id: &e.identity.account_id,
            access_key_id: &e.identity.access_key_id,
            invoked_by: &e.identity.invoked_by,
        },
        request_parameters: ParamsJson {
            key_id: e.key_arns.first(),
            grant_id: e.grant_id.as_ref(),
            encryption_context_keys: keys,
            encryption_context: config.context_values.then(|| {
                e.context
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect()
            }),
        },
        resources: e
            .key_arns
            .iter()
            .map(|a| ResourceJson {
                arn: a,
                kind: "AWS::KMS::Key",
                // A service event names the key's owner, as CloudTrail does.
                account_id: if e.service {
                    e.identity.account_id.as_deref()
                } else {
                    None
                },
            })
            .collect(),
        event_type: if e.service {
            "AwsServiceEvent"
        } else if e.event_source.is_some() {
            "ModuleEvent"
        } else {
            "AwsApiCall"
        },
        event_category: "Management",
        additional_event_data: if e.intent {
            Some(&intent_marker)
        } else {
            e.additional.as_ref()
        },
        error_code: e.error.as_ref().map(|(c, _)| c.as_str()),
        error_message: e.error.as_ref().map(|(_, m)| m.as_str()),
    };
    serde_json::to_string(&ev).unwrap_or_default()
}

/// The chain hash of `record` after `prev`.
pub fn chain_hash(prev: &str, record: &str) -> String {
    let mut buf = Vec::with_capacity(prev.len() + 1 + record.len());
    buf.extend_from_slice(prev.as_bytes());
    buf.push(b'\n');
    buf.extend_from_slice(record.as_bytes());
    hex::encode(sha256(&buf))
}

fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(3_600_000) * 3600
}

fn key_id_of(arn: &str) -> String {
    arn.rsplit('/').next().unwrap_or(arn).to_string()
}

async fn writer(
    store: Arc<dyn Store>,
    config: AuditConfig,
    file: Option<AuditFile>,
    mut rx: mpsc::Receiver<Pending>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let result = write_batch(&*store, &config, file.as_ref(), &batch).await;
        for p in batch.drain(..) {
            let _ = p.done.send(result.clone());
        }
    }
}

async fn write_batch(
    store: &dyn Store,
    config: &AuditConfig,
    file: Option<&AuditFile>,
    batch: &[Pending],
) -> Result<(), String> {
    let mut drafts = Vec::with_capacity(batch.len());
    let mut usage: HashMap<(String, String, String, i64), u64> = HashMap::new();
    for p in batch {
        let e = &p.event;
        // The store numbers the record: split its JSON around the number.
        let record = event_json(e, SEQ_PLACEHOLDER, config);
        let marker = format!("\"sequence\":{SEQ_PLACEHOLDER}");
        let at = record
            .find(&marker)
            .ok_or("audit record without its sequence field")?
            + marker.len()
            - SEQ_PLACEHOLDER.to_string().len();
        drafts.push(AuditDraft {
            time_ms: e.time_ms,
            principal: e.identity.arn.clone().unwrap_or_else(|| "-".into()),
            account_id: e.identity.account_id.clone().unwrap_or_else(|| "-".into()),
            operation: e.operation.clone(),
            key_arn: e.key_arns.first().cloned(),
            error_code: e.error.as_ref().map(|(c, _)| c.clone()),
            head: record[..at].to_string(),
            tail: record[at + SEQ_PLACEHOLDER.to_string().len()..].to_string(),
        });
        // Only successful, authenticated requests are billable.
        if e.error.is_none()
            && !e.intent
            && !e.service
            && let Some(account) = &e.identity.account_id
        {
            let key = e
                .key_arns
                .first()
                .map(|a| key_id_of(a))
                .unwrap_or("-".into());
            *usage
                .entry((
                    account.clone(),
                    e.operation.clone(),
                    key,
                    hour_of(e.time_ms),
                ))
                .or_default() += 1;
        }
    }
    let usage: Vec<UsageIncrement> = usage
        .into_iter()
        .map(
            |((account_id, operation, key_id, hour), count)| UsageIncrement {
                account_id,
                operation,
                key_id,
                hour,
                count,
            },
        )
        .collect();
    let rows = store
        .append_audit_drafts(&drafts, &usage, chain_hash)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(f) = file {
        let mut out = Vec::new();
        for r in &rows {
            out.extend_from_slice(
                format!(
                    "{{\"sequence\":{},\"prevHash\":\"{}\",\"hash\":\"{}\",\"event\":{}}}\n",
                    r.seq, r.prev_hash, r.hash, r.record
                )
                .as_bytes(),
            );
        }
        // One write and one fdatasync for the whole batch, off the runtime.
        let f = f.clone();
        tokio::task::spawn_blocking(move || {
            let mut f = f
                .lock()
                .map_err(|_| "audit file lock poisoned".to_string())?;
            f.write_all(&out)
                .and_then(|()| f.sync_data())
                .map_err(|e| format!("audit file: {e}"))
        })
        .await
        .map_err(|e| format!("audit file writer failed: {e}"))??;
    }
    Ok(())
}

/// The outcome of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainReport {
    /// Every record links to the one before and hashes to what it says.
    Intact {
        /// How many records.
        records: u64,
        /// The newest record's hash (publish it to pin the chain).
        head: String,
    },
    /// The first record that does not fit.
    Broken {
        /// Its sequence number.
        seq: i64,
        /// What is wrong.
        reason: String,
    },
}

/// Checks the chain in the store from its start.
pub async fn verify_chain(store: &dyn Store) -> Result<ChainReport, StoreError> {
    let mut prev = GENESIS.to_string();
    let mut expected_seq = 1;
    let mut after = None;
    loop {
        let rows = store
            .query_audit(&AuditQuery {
                after_seq: after,
                limit: 10_000,
                ..Default::default()
            })
            .await?;
        if rows.is_empty() {
            return Ok(ChainReport::Intact {
                records: (expected_seq - 1) as u64,
                head: prev,
            });
        }
        for r in rows {
            let broken = |reason: String| Ok(ChainReport::Broken { seq: r.seq, reason });
            if r.seq != expected_seq {
                return Ok(ChainReport::Broken {
                    seq: expected_seq,
                    reason: format!("record {expected_seq} is missing (next is {})", r.seq),
                });
            }
            if r.prev_hash != prev {
                return broken("it does not link to the record before it".into());
            }
            if chain_hash(&prev, &r.record) != r.hash {
                return broken("its contents do not match its hash".into());
            }
            let v: Value = serde_json::from_str(&r.record).unwrap_or(Value::Null);
            let indexed_ok = v["sequence"] == json!(r.seq)
                && v["eventName"] == json!(r.operation)
                && v["userIdentity"]["arn"].as_str().unwrap_or("-") == r.principal
                && v["userIdentity"]["accountId"].as_str().unwrap_or("-") == r.account_id
                && v["requestParameters"]["keyId"].as_str() == r.key_arn.as_deref()
                && v["errorCode"].as_str() == r.error_code.as_deref();
            if !indexed_ok {
                return broken("its indexed columns differ from its hashed record".into());
            }
            prev = r.hash.clone();
            after = Some(r.seq);
            expected_seq += 1;
        }
    }
}
