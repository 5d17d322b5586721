//! `GET /console/api/fleet`: the security modules (mode, health, tags,
//! domains, a fresh signed attestation, their logs and how far the audit
//! trail has copied them), the domains (members, hosts, operators, quorum
//! rules, generations) as their signed tokens say, and the rewrap
//! progress. Never a secret: only what Status, Attest, ListLogs and
//! GetDomainToken answer. Cached for a few seconds. Needs
//! `strongroom:ReadFleet` (an account's root has it) in one of the
//! operator's accounts ([`ConsoleState::fleet_accounts`]): the answer
//! describes the whole service (every account's keys are in the rewrap
//! counts), so no tenant account may see it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::request::Parts;
use axum::response::Response;
use serde_json::{Value, json};
use strongroom_hsm_proto::admin::{ATTESTATION_SIGNING_PREFIX, AttestationBody, prefixed};
use strongroom_hsm_proto::{HsmClient, Request, Response as HsmResponse};
use strongroom_store::Store;
use tokio::sync::Mutex;

use super::ConsoleState;
use crate::error::KmsError;
use crate::telemetry::scrape::PROBE_TIMEOUT;

/// How long one fleet answer is reused.
const FLEET_CACHE_TTL: Duration = Duration::from_secs(5);

/// The last fleet answer.
#[derive(Default)]
pub(crate) struct FleetCache(Mutex<Option<(Instant, Arc<Vec<u8>>)>>);

/// Serves the fleet view.
pub async fn fleet(State(state): State<Arc<ConsoleState>>, parts: Parts) -> Response<Body> {
    let st = state.clone();
    super::reads::authorized(&state, &parts, &super::reads::READ_FLEET, |s| async move {
        if !st.fleet_accounts.contains(&s.caller.account_id) {
            return Err(KmsError::AccessDenied(format!(
                "Account {} is not an operator account of this service: the fleet view \
                 describes every account's keys.",
                s.caller.account_id
            )));
        }
        let mut cached = st.fleet.0.lock().await;
        if let Some((at, body)) = cached.as_ref()
            && at.elapsed() < FLEET_CACHE_TTL
        {
            return Ok(body.as_ref().clone());
        }
        let body = Arc::new(
            serde_json::to_vec(&describe(&st.hsm, &st.store).await?)
                .map_err(|e| KmsError::Internal(format!("fleet answer: {e}")))?,
        );
        *cached = Some((Instant::now(), body.clone()));
        Ok(body.as_ref().clone())
    })
    .await
}

async fn ask(hsm: &HsmClient, i: usize, r: Request) -> Result<HsmResponse, String> {
    match tokio::time::timeout(PROBE_TIMEOUT, hsm.call_module(i, r)).await {
        Ok(Ok(a)) => Ok(a),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {PROBE_TIMEOUT:?}")),
    }
}

fn rfc3339(secs: u64) -> Value {
    time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .map_or(Value::Null, Value::String)
}

/// Everything the view shows.
async fn describe(hsm: &HsmClient, store: &Arc<dyn Store>) -> Result<Value, KmsError> {
    let served = hsm.domain();
    let mut modules = Vec::new();
    let mut domains: Vec<(uuid::Uuid, usize, Value)> = Vec::new();
    for (i, name) in hsm.module_names().into_iter().enumerate() {
        let m = module(hsm, store.as_ref(), i, &name, served).await;
        if let Some(ds) = m["domains"].as_array() {
            for d in ds {
                if let Some(id) = d["id"].as_str().and_then(|s| s.parse().ok())
                    && !domains.iter().any(|(x, _, _)| *x == id)
                {
                    domains.push((id, i, d.clone()));
                }
            }
        }
        modules.push(m);
    }
    let mut out_domains = Vec::new();
    for (id, i, summary) in domains {
        // The modules that report the domain (a dev domain lists none).
        let holders: Vec<Value> = modules
            .iter()
            .filter(|m| {
                m["domains"]
                    .as_array()
                    .is_some_and(|ds| ds.iter().any(|d| d["id"].as_str() == Some(&id.to_string())))
            })
            .map(|m| json!({"moduleId": m["moduleId"], "friendlyName": m["friendlyName"]}))
            .collect();
        out_domains.push(domain(hsm, i, id, &summary, holders).await);
    }
    let rewrap = crate::rewrap::status(store.as_ref()).await?;
    Ok(json!({
        "servedDomain": served.map(|d| d.to_string()),
        "modules": modules,
        "domains": out_domains,
        "rewrap": rewrap_json(&rewrap, &out_domains),
    }))
}

/// One module's facts (an unreachable one says why).
async fn module(
    hsm: &HsmClient,
    store: &dyn Store,
    i: usize,
    name: &str,
    served: Option<uuid::Uuid>,
) -> Value {
    let s = match ask(hsm, i, Request::Status).await {
        Ok(HsmResponse::Status(s)) => s,
        Ok(_) => {
            return json!({"name": name, "up": false, "problem": "unexpected answer to Status"});
        }
        Err(e) => return json!({"name": name, "up": false, "problem": e}),
    };
    let serves = served.is_none_or(|d| s.domains.iter().any(|m| m.domain_id == d));
    let healthy = s.mode == "use" && serves;
    let problem = match (s.mode == "use", serves) {
        (true, true) => Value::Null,
        (false, _) => json!(format!("in {} mode", s.mode)),
        (true, false) => json!("not a member of the served domain"),
    };
    let module_id = s.module_id.to_string();
    json!({
        "name": name,
        "up": true,
        "healthy": healthy,
        "problem": problem,
        "moduleId": module_id,
        "friendlyName": s.friendly_name,
        "mode": s.mode,
        "tags": s.tags,
        "domains": s.domains.iter().map(|d| json!({
            "id": d.domain_id.to_string(), "epoch": d.epoch,
            "generations": d.generations, "keysLoaded": d.keys_loaded,
            "members": d.members.iter().map(|m| m.to_string()).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "vault": {"keys": s.cached_keys, "capacity": s.cache_capacity},
        "memoryLocked": s.memory_locked,
        "uptimeSeconds": s.uptime_secs,
        "requestsServed": s.requests_served,
        "erased": s.last_erasure.is_some(),
        "attestation": attestation(hsm, i).await,
        "logs": logs(hsm, store, i, &module_id).await,
    })
}

/// A fresh attestation, its signature checked against the key it names.
async fn attestation(hsm: &HsmClient, i: usize) -> Value {
    let nonce = match strongroom_crypto::random_array::<16>() {
        Ok(n) => n.to_vec(),
        Err(e) => return json!({"problem": e.to_string()}),
    };
    let report = match ask(
        hsm,
        i,
        Request::Attest {
            nonce: nonce.clone(),
        },
    )
    .await
    {
        Ok(HsmResponse::Attestation(r)) => r,
        Ok(_) => return json!({"problem": "unexpected answer to Attest"}),
        Err(e) => return json!({"problem": e}),
    };
    let Ok(body) = strongroom_hsm_proto::codec::decode::<AttestationBody>(&report.body) else {
        return json!({"problem": "the report does not decode"});
    };
    let verified = strongroom_crypto::verify_p384(
        &body.signing_key,
        &prefixed(ATTESTATION_SIGNING_PREFIX, &report.body),
        &report.signature,
    ) && body.nonce == nonce;
    json!({
        "issuedAt": rfc3339(body.issued_at),
        "measurement": hex::encode(&body.measurement),
        "update": body.installed_update.map(|(_, v)| v),
        "verified": verified,
    })
}

/// The module's logs and how many of their bytes the audit trail holds.
async fn logs(hsm: &HsmClient, store: &dyn Store, i: usize, module_id: &str) -> Value {
    let list = match ask(hsm, i, Request::ListLogs).await {
        Ok(HsmResponse::Logs(l)) => l,
        Ok(_) => return json!({"problem": "unexpected answer to ListLogs"}),
        Err(e) => return json!({"problem": e}),
    };
    let mut out = Vec::new();
    for l in list {
        let copied = store.module_log_cursor(module_id, l.log_id).await.ok();
        out.push(json!({
            "logId": l.log_id, "bytes": l.size, "closed": l.closed,
            "copiedBytes": copied,
        }));
    }
    json!({ "logs": out })
}

/// A domain as its signed token says (members, hosts, operators, rules);
/// a domain with no token (`strongroom dev`'s own) as its module reports it.
async fn domain(
    hsm: &HsmClient,
    i: usize,
    id: uuid::Uuid,
    summary: &Value,
    holders: Vec<Value>,
) -> Value {
    let token = match ask(hsm, i, Request::GetDomainToken { domain_id: id }).await {
        Ok(HsmResponse::DomainToken(t)) => t,
        Ok(_) => return json!({"id": id.to_string(), "problem": "unexpected answer"}),
        Err(_) => return untokened(id, summary, holders),
    };
    let body = match token.verify_issuer(None) {
        Ok(b) => b,
        Err(e) => return json!({"id": id.to_string(), "problem": e}),
    };
    json!({
        "id": id.to_string(),
        "signedToken": true,
        "epoch": body.epoch,
        "issuedAt": rfc3339(body.issued_at),
        "members": body.members.iter().map(|m| json!({
            "moduleId": m.module_id.to_string(), "friendlyName": m.friendly_name,
        })).collect::<Vec<_>>(),
        "hosts": body.hosts.iter().map(|h| hex::encode(&strongroom_crypto::sha256(h)[..8])).collect::<Vec<_>>(),
        "operators": body.operators.iter().map(|o| json!({
            "name": o.name, "permissions": o.permissions,
            "key": hex::encode(&strongroom_crypto::sha256(&o.signing_key)[..8]),
        })).collect::<Vec<_>>(),
        "quorum": body.rules.iter().map(|r| json!({
            "command": format!("{:?}", r.command), "threshold": r.threshold,
        })).collect::<Vec<_>>(),
        "generations": body.generations.iter().map(|g| g.number).collect::<Vec<_>>(),
        "escrowThreshold": body.escrow_threshold,
    })
}

/// A domain without a signed token: no operators, hosts or quorum rules
/// (a dev domain, unsealed from the data directory).
fn untokened(id: uuid::Uuid, summary: &Value, holders: Vec<Value>) -> Value {
    let listed: Vec<&str> = summary["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let members: Vec<Value> = if listed.is_empty() {
        holders
    } else {
        listed
            .iter()
            .map(|m| {
                let held = holders.iter().find(|h| h["moduleId"].as_str() == Some(m));
                json!({"moduleId": m, "friendlyName": held.map_or(Value::Null, |h| h["friendlyName"].clone())})
            })
            .collect()
    };
    json!({
        "id": id.to_string(),
        "signedToken": false,
        "epoch": summary["epoch"],
        "issuedAt": Value::Null,
        "members": members,
        "hosts": [],
        "operators": [],
        "quorum": [],
        "generations": summary["generations"],
        "escrowThreshold": 0,
    })
}

/// Rewrap progress: items already under each domain's newest generation.
fn rewrap_json(s: &crate::rewrap::RewrapStatus, domains: &[Value]) -> Value {
    let newest = domains
        .iter()
        .filter_map(|d| {
            d["generations"]
                .as_array()?
                .iter()
                .filter_map(Value::as_u64)
                .max()
        })
        .max()
        .unwrap_or(0) as u32;
    let total: u64 = s
        .ekts_by_generation
        .values()
        .chain(s.credentials_by_generation.values())
        .sum();
    let behind = s.older_than(newest);
    json!({
        "newestGeneration": newest,
        "total": total,
        "current": total - behind,
        "behind": behind,
        "ektsByGeneration": s.ekts_by_generation,
        "credentialsByGeneration": s.credentials_by_generation,
    })
}
