//! Records as CloudTrail-shaped JSON lines, the same shape as the
//! frontend's `audit.jsonl` (docs/audit.md, "A record"), for export.

use serde::Serialize;
use serde_json::Value;

use crate::query::QueriedRecord;
use crate::record::AuditRecord;

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
    grant_id: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    encryption_context_keys: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption_context: Option<std::collections::BTreeMap<&'a str, &'a str>>,
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

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventJson<'a> {
    event_version: &'static str,
    sequence: u64,
    event_time: String,
    event_source: &'a str,
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
    additional_event_data: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LineJson<'a> {
    chain: &'a str,
    sequence: u64,
    prev_hash: String,
    hash: String,
    event: EventJson<'a>,
}

/// The name the service acts under in its own events.
const SERVICE_NAME: &str = "kms.amazonaws.com";

/// RFC 3339 with milliseconds, UTC.
pub(crate) fn rfc3339_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// The region a record's first key ARN names (any partition), if any.
pub fn region_of(r: &AuditRecord) -> Option<&str> {
    let rest = r.key_arns.first()?.strip_prefix("arn:")?;
    let mut parts = rest.splitn(4, ':');
    let (_partition, service, region) = (parts.next()?, parts.next()?, parts.next()?);
    (service == "kms" && !region.is_empty()).then_some(region)
}

/// The JSON line of `q`: `{"chain","sequence","prevHash","hash","event"}`
/// with a CloudTrail event in the region of the record's key, or
/// `default_region` for a record that names no key.
pub fn event_json(q: &QueriedRecord, default_region: &str) -> String {
    let e = &q.record;
    let aws_region = region_of(e).unwrap_or(default_region);
    let mut keys: Vec<&str> = Vec::new();
    for (k, _) in &e.context {
        if !keys.contains(&k.as_str()) {
            keys.push(k);
        }
    }
    let with_values = e.context.iter().any(|(_, v)| v.is_some());
    let mut data = e
        .additional_json
        .as_ref()
        .map(|j| serde_json::from_str(j).unwrap_or_else(|_| Value::String(j.clone())));
    // A grant operation's grant id travels as `{"grantId":…}` in the event
    // data (the record has no field of its own for it); CloudTrail shows
    // it among the request parameters.
    let grant_id = match &mut data {
        Some(Value::Object(m)) if m.len() == 1 => m.remove("grantId"),
        _ => None,
    };
    if grant_id.is_some() {
        data = None;
    }
    let additional = if e.intent {
        Some(serde_json::json!({"phase": "intent"}))
    } else {
        data
    };
    let line = LineJson {
        chain: q.chain.as_str(),
        sequence: q.seq,
        prev_hash: hex::encode(q.prev_hash),
        hash: hex::encode(q.hash),
        event: EventJson {
            event_version: "1.08",
            sequence: q.seq,
            event_time: rfc3339_ms(e.time_ms),
            event_source: e.event_source.as_deref().unwrap_or(SERVICE_NAME),
            event_name: &e.operation,
            aws_region,
            request_id: &e.request_id,
            source_ip_address: if e.service {
                Some(SERVICE_NAME.to_owned())
            } else {
                e.source_ip.map(|ip| ip.to_string())
            },
            user_agent: &e.user_agent,
            user_identity: IdentityJson {
                kind: &e.identity.kind,
                arn: &e.identity.arn,
                account_id: &e.identity.account_id,
                access_key_id: &e.identity.access_key_id,
                invoked_by: &e.identity.invoked_by,
            },
            request_parameters: ParamsJson {
                key_id: e.key_arns.first(),
                grant_id,
                encryption_context_keys: keys,
                encryption_context: with_values.then(|| {
                    e.context
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_deref().unwrap_or("")))
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
            additional_event_data: additional,
            error_code: e.error.as_ref().map(|x| x.code.as_str()),
            error_message: e.error.as_ref().map(|x| x.message.as_str()),
        },
    };
    serde_json::to_string(&line).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::ChainId;
    use crate::record::{AuditRecord, Identity};

    fn line(record: AuditRecord) -> Value {
        let q = QueriedRecord {
            chain: ChainId::new("fe").expect("id"),
            seq: 3,
            prev_hash: [1; 32],
            hash: [2; 32],
            record,
        };
        serde_json::from_str(&event_json(&q, "eu-west-1")).expect("json")
    }

    #[test]
    fn a_service_event_is_shaped_as_cloudtrail_shapes_it() {
        let v = line(AuditRecord {
            time_ms: 1_795_860_000_123,
            operation: "DeleteKey".into(),
            identity: Identity {
                kind: "AWSService".into(),
                account_id: Some("111122223333".into()),
                invoked_by: Some("kms.amazonaws.com".into()),
                ..Default::default()
            },
            key_arns: vec!["arn:aws:kms:eu-west-1:111122223333:key/k".into()],
            service: true,
            ..Default::default()
        });
        assert_eq!(v["prevHash"], hex::encode([1; 32]));
        let e = &v["event"];
        assert_eq!(e["eventType"], "AwsServiceEvent");
        assert_eq!(e["eventCategory"], "Management");
        assert_eq!(e["sourceIPAddress"], "kms.amazonaws.com");
        assert_eq!(e["resources"][0]["accountId"], "111122223333");
        assert_eq!(e["eventTime"], "2026-11-28T10:00:00.123Z");
        assert_eq!(e["awsRegion"], "eu-west-1");
    }

    #[test]
    fn a_record_is_in_its_keys_region_and_a_keyless_one_in_the_default() {
        let in_region = |arn: &str| {
            line(AuditRecord {
                operation: "Encrypt".into(),
                key_arns: vec![arn.into()],
                ..Default::default()
            })["event"]["awsRegion"]
                .clone()
        };
        assert_eq!(
            in_region("arn:aws:kms:us-west-2:111122223333:key/k"),
            "us-west-2"
        );
        assert_eq!(
            in_region("arn:aws-cn:kms:cn-north-1:111122223333:key/k"),
            "cn-north-1"
        );
        // Not a KMS ARN: the default.
        assert_eq!(in_region("arn:aws:iam::111122223333:root"), "eu-west-1");
        let keyless = line(AuditRecord {
            operation: "ListKeys".into(),
            ..Default::default()
        });
        assert_eq!(keyless["event"]["awsRegion"], "eu-west-1");
    }

    #[test]
    fn a_grant_id_in_the_event_data_is_a_request_parameter() {
        let v = line(AuditRecord {
            operation: "RetireGrant".into(),
            additional_json: Some("{\"grantId\":\"g1\"}".into()),
            intent: true,
            ..Default::default()
        });
        let e = &v["event"];
        assert_eq!(e["requestParameters"]["grantId"], "g1");
        assert_eq!(e["additionalEventData"]["phase"], "intent");
        let v = line(AuditRecord {
            operation: "RetireGrant".into(),
            additional_json: Some("{\"grantId\":\"g1\"}".into()),
            ..Default::default()
        });
        assert!(v["event"].get("additionalEventData").is_none());
    }

    #[test]
    fn intent_context_values_and_errors_appear_as_today() {
        let v = line(AuditRecord {
            operation: "CreateKey".into(),
            context: vec![("dept".into(), Some("a".into())), ("team".into(), None)],
            intent: true,
            ..Default::default()
        });
        let e = &v["event"];
        assert_eq!(e["eventType"], "AwsApiCall");
        assert_eq!(e["additionalEventData"]["phase"], "intent");
        assert_eq!(
            e["requestParameters"]["encryptionContextKeys"],
            serde_json::json!(["dept", "team"])
        );
        assert_eq!(
            e["requestParameters"]["encryptionContext"],
            serde_json::json!({"dept": "a", "team": ""})
        );
        assert!(e.get("errorCode").is_none());
        assert!(e["resources"][0].is_null());
    }
}
