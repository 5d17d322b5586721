//! One audit record and its compact encoding.
//!
//! The encoding is a format version byte `0x01` followed by postcard
//! (varint integers, length-prefixed strings, no field names): the same
//! codec as the module protocol, deterministic, and far smaller than JSON.
//! Two fields that every KMS record carries are stored in a shorter form
//! when, and only when, the short form gives back the exact same text: a
//! request id that is a UUID (16 bytes instead of 36) and a key ARN of the
//! form `arn:aws:kms:<region>:<account>:key/<uuid>` (region, account and
//! 16 bytes instead of ~75 characters). Anything else is stored verbatim.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AuditError;

/// The format version byte of an encoded record.
pub const RECORD_VERSION: u8 = 1;

/// Who made a request, as far as it is known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `Root`, `IAMUser`, `AssumedRole`, `Service`, or `Unknown`.
    pub kind: String,
    /// Principal ARN.
    pub arn: Option<String>,
    /// Account.
    pub account_id: Option<String>,
    /// Access key that signed.
    pub access_key_id: Option<String>,
    /// The service that acted for the principal (authentication proof).
    pub invoked_by: Option<String>,
}

/// The AWS error a failed request answered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordError {
    /// AWS error code (`AccessDeniedException`).
    pub code: String,
    /// Its message.
    pub message: String,
}

/// One request (or module event), as the audit log records it: what the
/// frontend's `AuditEvent` carries today.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditRecord {
    /// Epoch milliseconds.
    pub time_ms: i64,
    /// `x-amzn-RequestId`.
    pub request_id: String,
    /// Operation name (`-` if none could be read).
    pub operation: String,
    /// The caller.
    pub identity: Identity,
    /// Client address.
    pub source_ip: Option<IpAddr>,
    /// `User-Agent`, as the frontend truncated it.
    pub user_agent: Option<String>,
    /// Keys the request used (ReEncrypt: source and destination).
    pub key_arns: Vec<String>,
    /// Encryption context keys, each with its value when values are
    /// recorded.
    pub context: Vec<(String, Option<String>)>,
    /// The error, if the request failed.
    pub error: Option<RecordError>,
    /// Where the event happened (`kms.amazonaws.com` when `None`).
    pub event_source: Option<String>,
    /// Event-specific data, as JSON text (a module log record…).
    pub additional_json: Option<String>,
    /// The record written before a state-changing operation runs.
    pub intent: bool,
    /// Something the service did by itself (deletion sweep, scheduled
    /// rotation…): CloudTrail's `AwsServiceEvent`; never metered.
    pub service: bool,
}

impl AuditRecord {
    /// Whether the request failed.
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }
}

/// A request id: 16 bytes when it is a UUID in its usual spelling.
#[derive(Serialize, Deserialize)]
enum WireId {
    Uuid([u8; 16]),
    Text(String),
}

impl WireId {
    fn from_text(s: &str) -> Self {
        match Uuid::try_parse(s) {
            Ok(u) if u.hyphenated().to_string() == s => Self::Uuid(*u.as_bytes()),
            _ => Self::Text(s.to_string()),
        }
    }

    fn into_text(self) -> String {
        match self {
            Self::Uuid(b) => Uuid::from_bytes(b).hyphenated().to_string(),
            Self::Text(s) => s,
        }
    }
}

/// A key ARN: region, account and UUID when it has the usual form.
#[derive(Serialize, Deserialize)]
enum WireArn {
    Key {
        region: String,
        account: String,
        id: [u8; 16],
    },
    Text(String),
}

impl WireArn {
    fn from_text(s: &str) -> Self {
        let short = (|| {
            let rest = s.strip_prefix("arn:aws:kms:")?;
            let (region, rest) = rest.split_once(':')?;
            let (account, id) = rest.split_once(":key/")?;
            let id = Uuid::try_parse(id).ok()?;
            let back = format!("arn:aws:kms:{region}:{account}:key/{}", id.hyphenated());
            (back == s).then(|| Self::Key {
                region: region.to_string(),
                account: account.to_string(),
                id: *id.as_bytes(),
            })
        })();
        short.unwrap_or_else(|| Self::Text(s.to_string()))
    }

    fn into_text(self) -> String {
        match self {
            Self::Key {
                region,
                account,
                id,
            } => format!(
                "arn:aws:kms:{region}:{account}:key/{}",
                Uuid::from_bytes(id).hyphenated()
            ),
            Self::Text(s) => s,
        }
    }
}

/// The record as encoded, with its position in the chain.
#[derive(Serialize, Deserialize)]
struct WireRecord {
    seq: u64,
    time_ms: i64,
    request_id: WireId,
    operation: String,
    identity: Identity,
    source_ip: Option<IpAddr>,
    user_agent: Option<String>,
    key_arns: Vec<WireArn>,
    context: Vec<(String, Option<String>)>,
    error: Option<RecordError>,
    event_source: Option<String>,
    additional_json: Option<String>,
    intent: bool,
    service: bool,
}

/// The bytes of `record` at position `seq` of its chain.
pub fn encode_record(seq: u64, record: &AuditRecord) -> Vec<u8> {
    let wire = WireRecord {
        seq,
        time_ms: record.time_ms,
        request_id: WireId::from_text(&record.request_id),
        operation: record.operation.clone(),
        identity: record.identity.clone(),
        source_ip: record.source_ip,
        user_agent: record.user_agent.clone(),
        key_arns: record
            .key_arns
            .iter()
            .map(|a| WireArn::from_text(a))
            .collect(),
        context: record.context.clone(),
        error: record.error.clone(),
        event_source: record.event_source.clone(),
        additional_json: record.additional_json.clone(),
        intent: record.intent,
        service: record.service,
    };
    let mut out = vec![RECORD_VERSION];
    // Serializing plain data into a Vec cannot fail.
    out.extend_from_slice(&postcard::to_stdvec(&wire).unwrap_or_default());
    out
}

/// The record and its sequence number from `bytes`.
pub fn decode_record(bytes: &[u8]) -> Result<(u64, AuditRecord), AuditError> {
    let (&version, body) = bytes
        .split_first()
        .ok_or_else(|| AuditError::Malformed("empty record".into()))?;
    if version != RECORD_VERSION {
        return Err(AuditError::Malformed(format!(
            "unsupported record format version {version}"
        )));
    }
    let (wire, rest): (WireRecord, &[u8]) = postcard::take_from_bytes(body)
        .map_err(|e| AuditError::Malformed(format!("record: {e}")))?;
    if !rest.is_empty() {
        return Err(AuditError::Malformed("bytes after the record".into()));
    }
    Ok((
        wire.seq,
        AuditRecord {
            time_ms: wire.time_ms,
            request_id: wire.request_id.into_text(),
            operation: wire.operation,
            identity: wire.identity,
            source_ip: wire.source_ip,
            user_agent: wire.user_agent,
            key_arns: wire.key_arns.into_iter().map(WireArn::into_text).collect(),
            context: wire.context,
            error: wire.error,
            event_source: wire.event_source,
            additional_json: wire.additional_json,
            intent: wire.intent,
            service: wire.service,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AuditRecord {
        AuditRecord {
            time_ms: 1_795_860_000_123,
            request_id: "0b7c2f3e-8d4a-4c1b-9e2f-3a4b5c6d7e8f".into(),
            operation: "Encrypt".into(),
            identity: Identity {
                kind: "Root".into(),
                arn: Some("arn:aws:iam::111122223333:root".into()),
                account_id: Some("111122223333".into()),
                access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
                invoked_by: None,
            },
            source_ip: Some("10.0.3.7".parse().expect("ip")),
            user_agent: Some("aws-sdk-rust/1.3.0 os/linux lang/rust/1.95.0".into()),
            key_arns: vec![
                "arn:aws:kms:us-east-1:111122223333:key/6f0c8a1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b"
                    .into(),
            ],
            context: vec![("dept".into(), None)],
            ..Default::default()
        }
    }

    #[test]
    fn round_trips_short_and_verbatim_forms() {
        let mut r = sample();
        assert_eq!(
            decode_record(&encode_record(7, &r)).expect("decode"),
            (7, r.clone())
        );
        // Forms the short encoding must not normalise.
        r.request_id = "0B7C2F3E-8D4A-4C1B-9E2F-3A4B5C6D7E8F".into();
        r.key_arns = vec![
            "arn:aws:kms:us-east-1:111122223333:key/6F0C8A1E-2B3D-4E5F-8A9B-0C1D2E3F4A5B".into(),
            "arn:aws:kms:us-east-1:111122223333:alias/x".into(),
            "alias/x".into(),
        ];
        r.error = Some(RecordError {
            code: "AccessDeniedException".into(),
            message: "no".into(),
        });
        r.additional_json = Some("{\"phase\":\"intent\"}".into());
        assert_eq!(
            decode_record(&encode_record(8, &r)).expect("decode"),
            (8, r)
        );
    }

    #[test]
    fn refuses_other_versions_and_trailing_bytes() {
        let mut bytes = encode_record(1, &sample());
        bytes.push(0);
        assert!(decode_record(&bytes).is_err());
        bytes.pop();
        bytes[0] = 2;
        assert!(decode_record(&bytes).is_err());
        assert!(decode_record(&[]).is_err());
    }
}
