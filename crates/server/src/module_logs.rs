//! Copies security modules' own logs (quorum-signed commands, refusals,
//! mode changes, domain changes, erasures) into the frontend's audit
//! trail, so one chain shows who did what to keys and to the modules that
//! hold them. Each module record becomes an audit record with
//! `eventSource` `strongroom-hsm` and the module's line, verbatim, in
//! `additionalEventData`. A cursor per (module, log) in the store says how
//! far each log has been copied; a record is copied at least once.

use std::sync::Arc;

use strongroom_hsm_proto::{HsmClient, Request, Response};
use strongroom_store::Store;

use crate::audit::{AuditEvent, AuditIdentity, AuditLog};
use crate::error::KmsError;

/// Most log bytes fetched per call.
const CHUNK: u64 = 256 * 1024;

/// Copies whatever is new in every module's logs; returns how many records.
pub async fn collect(
    hsm: &HsmClient,
    store: &Arc<dyn Store>,
    audit: &AuditLog,
) -> Result<usize, KmsError> {
    let mut copied = 0;
    for i in 0..hsm.module_count() {
        let status = hsm.call_module(i, Request::Status).await;
        let Ok(status) = status.and_then(Response::into_status) else {
            continue;
        };
        let logs = hsm.call_module(i, Request::ListLogs).await;
        let Ok(logs) = logs.and_then(Response::into_logs) else {
            continue;
        };
        let module = status.module_id.to_string();
        for log in logs {
            let mut offset = store.module_log_cursor(&module, log.log_id).await?;
            while offset < log.size {
                let length = (log.size - offset).min(CHUNK);
                let request = Request::GetLog {
                    log_id: log.log_id,
                    offset,
                    length,
                };
                let answer = hsm.call_module(i, request).await;
                let Ok(bytes) = answer.and_then(Response::into_log_bytes) else {
                    break;
                };
                // Only whole lines; a partial one waits for the next round.
                let Some(end) = bytes.iter().rposition(|b| *b == b'\n') else {
                    break;
                };
                for line in bytes[..end].split(|b| *b == b'\n') {
                    audit.record(module_event(&module, line)).await?;
                    copied += 1;
                }
                offset += end as u64 + 1;
                store
                    .set_module_log_cursor(&module, log.log_id, offset)
                    .await?;
            }
        }
    }
    Ok(copied)
}

fn module_event(module: &str, line: &[u8]) -> AuditEvent {
    let record: serde_json::Value = serde_json::from_slice(line)
        .unwrap_or_else(|_| serde_json::json!({"unparsed": String::from_utf8_lossy(line)}));
    let event = record["event"].as_str().unwrap_or("unknown");
    let operation = match event {
        "command" => format!(
            "Module:{}",
            record["detail"]["command"].as_str().unwrap_or("Command")
        ),
        other => format!("Module:{other}"),
    };
    let error = (event == "command refused").then(|| {
        (
            "ModuleCommandRefused".to_string(),
            record["detail"]["error"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )
    });
    AuditEvent {
        time_ms: (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64,
        request_id: format!("module:{module}:{}:{}", record["log_id"], record["seq"]),
        operation,
        identity: AuditIdentity {
            kind: "SecurityModule",
            arn: Some(format!("module:{module}")),
            ..Default::default()
        },
        error,
        event_source: Some("strongroom-hsm"),
        additional: Some(record),
        ..Default::default()
    }
}
