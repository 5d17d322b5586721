//! Rows to records (and the column lists they expect).

use tokio_postgres::Row;
use uuid::Uuid;

use crate::{
    AccessKeyRecord, AccountRecord, AliasRecord, AuditRow, GrantRecord, KeyRecord, KeyState,
    KeyVersionRecord, PrincipalKind, PrincipalRecord, StoreError, StoreResult,
};

pub(super) const KEY_COLUMNS: &str = "id, account_id, description, state, key_spec, key_usage, origin, created_at, \
     deletion_date, pending_window_days, current_version, tags, rotation_period_days, next_rotation_at, \
     on_demand_rotations, import_valid_to, import_fingerprint, suspension_fingerprint, exposed, volatile, policy, \
     module_group, revision";
pub(super) const ACCESS_KEY_COLUMNS: &str = "access_key_id, account_id, sealed_secret, created_at, active, \
     principal_arn, expires_at, session_token_hash";
pub(super) const GRANT_COLUMNS: &str = "grant_id, key_id, key_account_id, name, grantee, retiring, operations, \
     context_equals, context_subset, issuing_account, created_at, token";
pub(super) const PRINCIPAL_COLUMNS: &str =
    "arn, account_id, kind, name, policy, tags, service_name, created_at";
pub(super) const AUDIT_COLUMNS: &str =
    "seq, time_ms, principal, account_id, operation, key_arn, error_code, record, prev_hash, hash";

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub(super) fn uuid(s: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(s).map_err(corrupt)
}

pub(super) fn u32_of(v: i64) -> StoreResult<u32> {
    u32::try_from(v).map_err(corrupt)
}

fn json<T: serde::de::DeserializeOwned>(s: &str) -> StoreResult<T> {
    serde_json::from_str(s).map_err(corrupt)
}

pub(super) fn to_json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(corrupt)
}

pub(super) fn account(r: &Row) -> StoreResult<AccountRecord> {
    Ok(AccountRecord {
        id: r.get(0),
        created_at: r.get(1),
    })
}

pub(super) fn access_key(r: &Row) -> StoreResult<AccessKeyRecord> {
    Ok(AccessKeyRecord {
        access_key_id: r.get(0),
        account_id: r.get(1),
        sealed_secret: r.get(2),
        created_at: r.get(3),
        active: r.get(4),
        principal_arn: r.get(5),
        expires_at: r.get(6),
        session_token_hash: r.get(7),
    })
}

pub(super) fn key(r: &Row) -> StoreResult<KeyRecord> {
    let state: String = r.get(3);
    Ok(KeyRecord {
        id: uuid(r.get(0))?,
        account_id: r.get(1),
        description: r.get(2),
        state: KeyState::parse(&state).ok_or_else(|| corrupt(format!("key state {state}")))?,
        key_spec: r.get(4),
        key_usage: r.get(5),
        origin: r.get(6),
        created_at: r.get(7),
        deletion_date: r.get(8),
        pending_window_days: r.get::<_, Option<i64>>(9).map(u32_of).transpose()?,
        current_version: u32_of(r.get(10))?,
        tags: json(r.get(11))?,
        rotation_period_days: r.get::<_, Option<i64>>(12).map(u32_of).transpose()?,
        next_rotation_at: r.get(13),
        on_demand_rotations: u32_of(r.get(14))?,
        import_valid_to: r.get(15),
        import_fingerprint: r.get(16),
        suspension_fingerprint: r.get(17),
        exposed: r.get(18),
        volatile: r.get(19),
        policy: r.get(20),
        module_group: r.get(21),
        revision: r.get::<_, i64>(22) as u64,
    })
}

pub(super) fn version(r: &Row) -> StoreResult<KeyVersionRecord> {
    Ok(KeyVersionRecord {
        key_id: uuid(r.get(0))?,
        version: u32_of(r.get(1))?,
        ekt: r.get(2),
        created_at: r.get(3),
    })
}

pub(super) fn alias(r: &Row) -> StoreResult<AliasRecord> {
    Ok(AliasRecord {
        account_id: r.get(0),
        name: r.get(1),
        key_id: uuid(r.get(2))?,
        created_at: r.get(3),
        updated_at: r.get(4),
    })
}

pub(super) fn grant(r: &Row) -> StoreResult<GrantRecord> {
    Ok(GrantRecord {
        grant_id: r.get(0),
        key_id: uuid(r.get(1))?,
        key_account_id: r.get(2),
        name: r.get(3),
        grantee: r.get(4),
        retiring: r.get(5),
        operations: json(r.get(6))?,
        context_equals: r.get::<_, Option<&str>>(7).map(json).transpose()?,
        context_subset: r.get::<_, Option<&str>>(8).map(json).transpose()?,
        issuing_account: r.get(9),
        created_at: r.get(10),
        token: r.get(11),
    })
}

pub(super) fn principal(r: &Row) -> StoreResult<PrincipalRecord> {
    let kind: String = r.get(2);
    Ok(PrincipalRecord {
        arn: r.get(0),
        account_id: r.get(1),
        kind: PrincipalKind::parse(&kind).ok_or_else(|| corrupt(format!("kind {kind}")))?,
        name: r.get(3),
        policy: r.get(4),
        tags: json(r.get(5))?,
        service_name: r.get(6),
        created_at: r.get(7),
    })
}

pub(super) fn audit(r: &Row) -> StoreResult<AuditRow> {
    Ok(AuditRow {
        seq: r.get(0),
        time_ms: r.get(1),
        principal: r.get(2),
        account_id: r.get(3),
        operation: r.get(4),
        key_arn: r.get(5),
        error_code: r.get(6),
        record: r.get(7),
        prev_hash: r.get(8),
        hash: r.get(9),
    })
}

/// Every row through `f`.
pub(super) fn all<T>(rows: Vec<Row>, f: fn(&Row) -> StoreResult<T>) -> StoreResult<Vec<T>> {
    rows.iter().map(f).collect()
}
