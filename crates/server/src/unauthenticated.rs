//! A bounded record of requests that never authenticated. Writing a
//! durable, chained audit row for each would let anyone on the network
//! fill the audit trail (and the disk) and write text of their choosing
//! into it. Instead they are counted in memory and summarised in one audit
//! record per interval per frontend: how many, by error code, by claimed
//! access key id (sanitised, at most [`MAX_DISTINCT`] of them) and by
//! source address (likewise). Nothing else the client sent is kept.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;

use crate::audit::{AuditEvent, AuditIdentity, AuditLog};

/// Most distinct access key ids, and source addresses, one summary names;
/// the rest are counted together.
pub const MAX_DISTINCT: usize = 16;
/// The `eventName` of a summary record.
pub const EVENT_NAME: &str = "UnauthenticatedRequests";

#[derive(Default)]
struct Window {
    started_ms: i64,
    count: u64,
    by_error: BTreeMap<&'static str, u64>,
    by_key: BTreeMap<String, u64>,
    other_keys: u64,
    by_ip: BTreeMap<IpAddr, u64>,
    other_ips: u64,
}

fn bump<K: Ord>(map: &mut BTreeMap<K, u64>, other: &mut u64, k: K) {
    if let Some(n) = map.get_mut(&k) {
        *n += 1;
    } else if map.len() < MAX_DISTINCT {
        map.insert(k, 1);
    } else {
        *other += 1;
    }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Counts unauthenticated requests until the next summary.
#[derive(Default)]
pub struct UnauthenticatedLog {
    window: Mutex<Window>,
}

impl UnauthenticatedLog {
    /// Counts one refused request: its error code, the access key id it
    /// claimed (already sanitised), its source address.
    pub fn note(&self, error_code: &'static str, key: Option<String>, ip: Option<IpAddr>) {
        let Ok(mut w) = self.window.lock() else {
            return;
        };
        if w.count == 0 {
            w.started_ms = now_ms();
        }
        w.count += 1;
        *w.by_error.entry(error_code).or_default() += 1;
        let w = &mut *w;
        if let Some(k) = key {
            bump(&mut w.by_key, &mut w.other_keys, k);
        }
        if let Some(ip) = ip {
            bump(&mut w.by_ip, &mut w.other_ips, ip);
        }
    }

    /// The summary of everything counted since the last one (`None` if
    /// nothing was), resetting the counts.
    pub fn take_summary(&self) -> Option<AuditEvent> {
        let w = std::mem::take(&mut *self.window.lock().ok()?);
        (w.count > 0).then(|| summary_event(w))
    }
}

fn summary_event(w: Window) -> AuditEvent {
    let ended = now_ms();
    AuditEvent {
        time_ms: ended,
        request_id: uuid::Uuid::new_v4().to_string(),
        operation: EVENT_NAME.into(),
        identity: AuditIdentity {
            kind: "Unknown",
            ..Default::default()
        },
        additional: Some(json!({
            "count": w.count,
            "windowStart": w.started_ms,
            "windowEnd": ended,
            "errorCodes": w.by_error,
            "accessKeyIds": w.by_key,
            "otherAccessKeyIds": w.other_keys,
            "sourceIPAddresses": w.by_ip.iter().map(|(ip, n)| (ip.to_string(), *n)).collect::<BTreeMap<_, _>>(),
            "otherSourceIPAddresses": w.other_ips,
        })),
        ..Default::default()
    }
}

/// Writes a summary every `every` (if anything was counted), and a last
/// one when `shutdown` fires.
pub async fn summarise(
    log: std::sync::Arc<UnauthenticatedLog>,
    audit: AuditLog,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        let last = tokio::select! {
            _ = tick.tick() => false,
            _ = shutdown.changed() => true,
        };
        if let Some(event) = log.take_summary()
            && let Err(e) = audit.record(event).await
        {
            tracing::warn!(error = %e, "summary of unauthenticated requests not written");
        }
        if last {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_thousand_refusals_make_one_bounded_summary() {
        let log = UnauthenticatedLog::default();
        for i in 0..10_000u32 {
            log.note(
                if i % 2 == 0 {
                    "UnrecognizedClientException"
                } else {
                    "MissingAuthenticationTokenException"
                },
                Some(format!("AKIA{i}")),
                Some(IpAddr::from([10, 0, (i >> 8) as u8, i as u8])),
            );
        }
        let e = log.take_summary().unwrap();
        let a = e.additional.unwrap();
        assert_eq!(a["count"], 10_000);
        assert_eq!(a["accessKeyIds"].as_object().unwrap().len(), MAX_DISTINCT);
        assert_eq!(a["otherAccessKeyIds"], 10_000 - MAX_DISTINCT as u64);
        assert_eq!(a["errorCodes"]["UnrecognizedClientException"], 5_000);
        assert!(e.user_agent.is_none() && e.error.is_none());
        assert!(log.take_summary().is_none());
    }
}
