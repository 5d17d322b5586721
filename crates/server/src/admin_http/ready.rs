//! `/readyz`: the store answers, at least one module in use mode answers
//! for the served domain, and the audit writer is healthy. Each check is
//! asked now (not cached: a balancer must see a module die at once), each
//! within a bounded time.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use strongroom_hsm_proto::HsmClient;
use strongroom_store::Store;

use crate::audit::AuditLog;
use crate::telemetry::scrape::{PROBE_TIMEOUT, module_facts};

/// An audit queue that has not committed for this long while appends
/// wait is stuck.
pub const AUDIT_STUCK_AFTER: Duration = Duration::from_secs(10);

/// The answer of `/readyz`.
#[derive(Debug, Serialize)]
pub struct Readiness {
    /// All checks passed.
    pub ready: bool,
    /// Each check.
    pub checks: Checks,
}

/// The checks of [`Readiness`].
#[derive(Debug, Serialize)]
pub struct Checks {
    /// The store answered a read.
    pub store: Check,
    /// A module in use mode answered for the served domain.
    pub modules: ModulesCheck,
    /// The audit writer is running, not failing and not stuck.
    pub audit: AuditCheck,
}

/// One check's outcome.
#[derive(Debug, Serialize)]
pub struct Check {
    /// It passed.
    pub ok: bool,
    /// What is wrong, if it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The modules check, with each module's state.
#[derive(Debug, Serialize)]
pub struct ModulesCheck {
    /// At least one module serves.
    pub ok: bool,
    /// The domain served (none: whatever domain the modules hold).
    pub domain: Option<String>,
    /// Modules in use mode, members of the domain, that answered.
    pub serving: usize,
    /// Each module.
    pub members: Vec<ModuleState>,
    /// What is wrong, if no module serves.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// One module in [`ModulesCheck`].
#[derive(Debug, Serialize)]
pub struct ModuleState {
    /// Its address.
    pub module: String,
    /// It serves.
    pub ok: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// The audit check, with the facts it looked at.
#[derive(Debug, Serialize)]
pub struct AuditCheck {
    /// Healthy.
    pub ok: bool,
    /// Appends waiting for their batch.
    pub queue_depth: usize,
    /// Batches failed since the last commit.
    pub failed_batches: u64,
    /// Milliseconds since the last commit.
    pub since_last_commit_ms: u64,
    /// What is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Runs every check.
pub async fn check(store: &Arc<dyn Store>, hsm: &HsmClient, audit: &AuditLog) -> Readiness {
    let (store, modules) = tokio::join!(store_check(store.as_ref()), modules_check(hsm));
    let audit = audit_check(audit.writer_health());
    Readiness {
        ready: store.ok && modules.ok && audit.ok,
        checks: Checks {
            store,
            modules,
            audit,
        },
    }
}

async fn store_check(store: &dyn Store) -> Check {
    // A read of a key that cannot exist: one round trip, no data.
    match tokio::time::timeout(PROBE_TIMEOUT, store.get_key(uuid::Uuid::nil())).await {
        Ok(Ok(_)) => Check {
            ok: true,
            problem: None,
        },
        Ok(Err(e)) => Check {
            ok: false,
            problem: Some(format!("the store did not answer: {e}")),
        },
        Err(_) => Check {
            ok: false,
            problem: Some(format!("the store did not answer within {PROBE_TIMEOUT:?}")),
        },
    }
}

async fn modules_check(hsm: &HsmClient) -> ModulesCheck {
    let facts = module_facts(hsm).await;
    let members: Vec<ModuleState> = facts
        .into_iter()
        .map(|f| ModuleState {
            ok: f.problem.is_none(),
            module: f.name,
            problem: f.problem,
        })
        .collect();
    let serving = members.iter().filter(|m| m.ok).count();
    let domain = hsm.domain().map(|d| d.to_string());
    ModulesCheck {
        ok: serving > 0,
        problem: (serving == 0).then(|| match &domain {
            Some(d) => format!("no security module in use mode answers for domain {d}"),
            None => "no security module in use mode answers".into(),
        }),
        domain,
        serving,
        members,
    }
}

/// Judges the writer's health facts.
pub fn audit_check(h: strongroom_audit::WriterHealth) -> AuditCheck {
    let problem = if h.closed {
        Some("the audit writer has stopped: every request fails".to_owned())
    } else if h.failed_batches > 0 {
        Some(format!(
            "the last {} audit batch(es) failed to commit",
            h.failed_batches
        ))
    } else if h.in_flight > 0 && h.since_last_commit_ms > AUDIT_STUCK_AFTER.as_millis() as u64 {
        Some(format!(
            "{} audit append(s) waiting and no commit for {} ms",
            h.in_flight, h.since_last_commit_ms
        ))
    } else {
        None
    };
    AuditCheck {
        ok: problem.is_none(),
        queue_depth: h.in_flight,
        failed_batches: h.failed_batches,
        since_last_commit_ms: h.since_last_commit_ms,
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strongroom_audit::WriterHealth;

    fn health(in_flight: usize, failed: u64, since_ms: u64, closed: bool) -> WriterHealth {
        WriterHealth {
            in_flight,
            failed_batches: failed,
            since_last_commit_ms: since_ms,
            closed,
        }
    }

    #[test]
    fn an_idle_writer_is_healthy_however_long_since_its_last_commit() {
        assert!(audit_check(health(0, 0, 3_600_000, false)).ok);
    }

    #[test]
    fn a_stopped_failing_or_stuck_writer_is_not_ready_and_says_why() {
        for (h, word) in [
            (health(0, 0, 0, true), "stopped"),
            (health(0, 2, 0, false), "failed"),
            (health(5, 0, 20_000, false), "waiting"),
        ] {
            let c = audit_check(h);
            assert!(!c.ok);
            assert!(c.problem.as_deref().unwrap_or("").contains(word), "{c:?}");
        }
    }
}
