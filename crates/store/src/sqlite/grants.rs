//! Grants in SQLite.

use rusqlite::{Connection, OptionalExtension, Row, params};
use uuid::Uuid;

use super::{db, uuid_col};
use crate::{GrantRecord, StoreError, StoreResult};

const COLUMNS: &str = "grant_id, key_id, key_account_id, name, grantee, retiring, operations, \
                       context_equals, context_subset, issuing_account, created_at, token";

fn json<T: serde::Serialize>(v: &T) -> StoreResult<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<GrantRecord> {
    let parse = |i: usize, s: Option<String>| -> rusqlite::Result<Option<Vec<(String, String)>>> {
        s.map(|s| {
            serde_json::from_str(&s).map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    i,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })
        })
        .transpose()
    };
    let ops: String = r.get(6)?;
    Ok(GrantRecord {
        grant_id: r.get(0)?,
        key_id: uuid_col(r, 1)?,
        key_account_id: r.get(2)?,
        name: r.get(3)?,
        grantee: r.get(4)?,
        retiring: r.get(5)?,
        operations: serde_json::from_str(&ops).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e))
        })?,
        context_equals: parse(7, r.get(7)?)?,
        context_subset: parse(8, r.get(8)?)?,
        issuing_account: r.get(9)?,
        created_at: r.get(10)?,
        token: r.get(11)?,
    })
}

pub(super) fn create(c: &mut Connection, g: &GrantRecord) -> StoreResult<()> {
    c.execute(
        &format!("INSERT INTO grants ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
        params![
            g.grant_id,
            g.key_id.to_string(),
            g.key_account_id,
            g.name,
            g.grantee,
            g.retiring,
            json(&g.operations)?,
            g.context_equals.as_ref().map(json).transpose()?,
            g.context_subset.as_ref().map(json).transpose()?,
            g.issuing_account,
            g.created_at,
            g.token
        ],
    )
    .map_err(|e| {
        if super::is_unique_violation(&e) {
            StoreError::AlreadyExists(g.grant_id.clone())
        } else {
            db(e)
        }
    })?;
    Ok(())
}

pub(super) fn by_key(c: &mut Connection, key_id: Uuid) -> StoreResult<Vec<GrantRecord>> {
    let mut s = c
        .prepare(&format!(
            "SELECT {COLUMNS} FROM grants WHERE key_id = ?1 ORDER BY grant_id"
        ))
        .map_err(db)?;
    let rows = s.query_map([key_id.to_string()], from_row).map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

pub(super) fn by_retiring(c: &mut Connection, retiring: &str) -> StoreResult<Vec<GrantRecord>> {
    let mut s = c
        .prepare(&format!(
            "SELECT {COLUMNS} FROM grants WHERE retiring = ?1 ORDER BY grant_id"
        ))
        .map_err(db)?;
    let rows = s.query_map([retiring], from_row).map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

pub(super) fn by_token(c: &mut Connection, token: &str) -> StoreResult<Option<GrantRecord>> {
    c.query_row(
        &format!("SELECT {COLUMNS} FROM grants WHERE token = ?1"),
        [token],
        from_row,
    )
    .optional()
    .map_err(db)
}

pub(super) fn delete(c: &mut Connection, grant_id: &str) -> StoreResult<bool> {
    Ok(
        c.execute("DELETE FROM grants WHERE grant_id = ?1", [grant_id])
            .map_err(db)?
            == 1,
    )
}
