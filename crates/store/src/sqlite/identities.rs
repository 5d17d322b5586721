//! Principals and access keys in SQLite.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{db, is_unique_violation};
use crate::{
    AccessKeyRecord, AccountRecord, PrincipalKind, PrincipalRecord, StoreError, StoreResult,
};

/// Access-key columns, in `access_key_from_row` order.
pub(super) const ACCESS_KEY_COLUMNS: &str = "access_key_id, account_id, sealed_secret, created_at, \
                                             active, principal_arn, expires_at, session_token_hash";

pub(super) fn access_key_from_row(row: &Row<'_>) -> rusqlite::Result<AccessKeyRecord> {
    Ok(AccessKeyRecord {
        access_key_id: row.get(0)?,
        account_id: row.get(1)?,
        sealed_secret: row.get(2)?,
        created_at: row.get(3)?,
        active: row.get(4)?,
        principal_arn: row.get(5)?,
        expires_at: row.get(6)?,
        session_token_hash: row.get(7)?,
    })
}

pub(super) fn put_access_key(c: &mut Connection, k: &AccessKeyRecord) -> StoreResult<()> {
    c.execute(
        &format!(
            "INSERT INTO access_keys ({ACCESS_KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ),
        params![
            k.access_key_id,
            k.account_id,
            k.sealed_secret,
            k.created_at,
            k.active,
            k.principal_arn,
            k.expires_at,
            k.session_token_hash
        ],
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::AlreadyExists(k.access_key_id.clone())
        } else {
            db(e)
        }
    })?;
    Ok(())
}

const PRINCIPAL_COLUMNS: &str =
    "arn, account_id, kind, name, policy, tags, service_name, created_at";

fn principal_from_row(r: &Row<'_>) -> rusqlite::Result<PrincipalRecord> {
    let kind: String = r.get(2)?;
    let tags: String = r.get(5)?;
    let bad = |i: usize, e: Box<dyn std::error::Error + Send + Sync>| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e)
    };
    Ok(PrincipalRecord {
        arn: r.get(0)?,
        account_id: r.get(1)?,
        kind: PrincipalKind::parse(&kind).ok_or_else(|| bad(2, format!("kind {kind}").into()))?,
        name: r.get(3)?,
        policy: r.get(4)?,
        tags: serde_json::from_str(&tags).map_err(|e| bad(5, Box::new(e)))?,
        service_name: r.get(6)?,
        created_at: r.get(7)?,
    })
}

pub(super) fn create_principal(c: &mut Connection, p: &PrincipalRecord) -> StoreResult<()> {
    let tags = serde_json::to_string(&p.tags).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    c.execute(
        &format!(
            "INSERT INTO principals ({PRINCIPAL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
        ),
        params![
            p.arn,
            p.account_id,
            p.kind.as_str(),
            p.name,
            p.policy,
            tags,
            p.service_name,
            p.created_at
        ],
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::AlreadyExists(p.arn.clone())
        } else {
            db(e)
        }
    })?;
    Ok(())
}

pub(super) fn update_principal(c: &mut Connection, p: &PrincipalRecord) -> StoreResult<()> {
    let tags = serde_json::to_string(&p.tags).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let n = c
        .execute(
            "UPDATE principals SET policy = ?2, tags = ?3, service_name = ?4 WHERE arn = ?1",
            params![p.arn, p.policy, tags, p.service_name],
        )
        .map_err(db)?;
    if n == 0 {
        return Err(StoreError::NotFound(p.arn.clone()));
    }
    Ok(())
}

pub(super) fn get_principal(c: &mut Connection, arn: &str) -> StoreResult<Option<PrincipalRecord>> {
    c.query_row(
        &format!("SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE arn = ?1"),
        [arn],
        principal_from_row,
    )
    .optional()
    .map_err(db)
}

pub(super) fn list_principals(
    c: &mut Connection,
    account_id: &str,
) -> StoreResult<Vec<PrincipalRecord>> {
    let mut s = c
        .prepare(&format!(
            "SELECT {PRINCIPAL_COLUMNS} FROM principals WHERE account_id = ?1 ORDER BY arn"
        ))
        .map_err(db)?;
    let rows = s.query_map([account_id], principal_from_row).map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

fn account_from_row(r: &Row<'_>) -> rusqlite::Result<AccountRecord> {
    Ok(AccountRecord {
        id: r.get(0)?,
        created_at: r.get(1)?,
    })
}

pub(super) fn create_account(c: &mut Connection, a: &AccountRecord) -> StoreResult<()> {
    c.execute(
        "INSERT INTO accounts (id, created_at) VALUES (?1, ?2)",
        params![a.id, a.created_at],
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::AlreadyExists(a.id.clone())
        } else {
            db(e)
        }
    })?;
    Ok(())
}

pub(super) fn get_account(c: &mut Connection, id: &str) -> StoreResult<Option<AccountRecord>> {
    c.query_row(
        "SELECT id, created_at FROM accounts WHERE id = ?1",
        [id],
        account_from_row,
    )
    .optional()
    .map_err(db)
}

pub(super) fn list_accounts(c: &mut Connection) -> StoreResult<Vec<AccountRecord>> {
    let mut s = c
        .prepare("SELECT id, created_at FROM accounts ORDER BY id")
        .map_err(db)?;
    let rows = s.query_map([], account_from_row).map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

pub(super) fn get_access_key(c: &mut Connection, id: &str) -> StoreResult<Option<AccessKeyRecord>> {
    c.query_row(
        &format!("SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE access_key_id = ?1"),
        [id],
        access_key_from_row,
    )
    .optional()
    .map_err(db)
}

pub(super) fn list_access_keys(
    c: &mut Connection,
    account_id: &str,
) -> StoreResult<Vec<AccessKeyRecord>> {
    let mut s = c
        .prepare(&format!(
            "SELECT {ACCESS_KEY_COLUMNS} FROM access_keys WHERE account_id = ?1 ORDER BY access_key_id"
        ))
        .map_err(db)?;
    let rows = s.query_map([account_id], access_key_from_row).map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}
