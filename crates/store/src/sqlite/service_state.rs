//! The service's own state in SQLite: sealed service secrets and module-log
//! copy cursors.

use rusqlite::{Connection, OptionalExtension, params};

use super::db;
use crate::StoreResult;

fn read_secret(c: &Connection, name: &str) -> StoreResult<Vec<u8>> {
    c.query_row(
        "SELECT sealed FROM service_secrets WHERE name = ?1",
        [name],
        |r| r.get(0),
    )
    .map_err(db)
}

pub(super) fn get_secret(c: &mut Connection, name: &str) -> StoreResult<Option<Vec<u8>>> {
    c.query_row(
        "SELECT sealed FROM service_secrets WHERE name = ?1",
        [name],
        |r| r.get(0),
    )
    .optional()
    .map_err(db)
}

pub(super) fn put_secret(c: &mut Connection, name: &str, sealed: &[u8]) -> StoreResult<Vec<u8>> {
    c.execute(
        "INSERT OR IGNORE INTO service_secrets (name, sealed, created_at) VALUES (?1, ?2, strftime('%s','now'))",
        params![name, sealed],
    )
    .map_err(db)?;
    read_secret(c, name)
}

pub(super) fn replace_secret(
    c: &mut Connection,
    name: &str,
    old: &[u8],
    new: &[u8],
) -> StoreResult<Vec<u8>> {
    c.execute(
        "UPDATE service_secrets SET sealed = ?3 WHERE name = ?1 AND sealed = ?2",
        params![name, old, new],
    )
    .map_err(db)?;
    read_secret(c, name)
}

pub(super) fn cursor(c: &mut Connection, module_id: &str, log_id: u64) -> StoreResult<u64> {
    let v: Option<i64> = c
        .query_row(
            "SELECT offset FROM module_log_cursors WHERE module_id = ?1 AND log_id = ?2",
            params![module_id, log_id as i64],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    Ok(v.unwrap_or(0) as u64)
}

pub(super) fn set_cursor(
    c: &mut Connection,
    module_id: &str,
    log_id: u64,
    offset: u64,
) -> StoreResult<()> {
    c.execute(
        "INSERT INTO module_log_cursors (module_id, log_id, offset) VALUES (?1, ?2, ?3)
         ON CONFLICT (module_id, log_id) DO UPDATE SET offset = excluded.offset",
        params![module_id, log_id as i64, offset as i64],
    )
    .map_err(db)?;
    Ok(())
}

pub(super) fn try_lease(
    c: &mut Connection,
    job: &str,
    holder: &str,
    now: i64,
    until: i64,
) -> StoreResult<bool> {
    let n = c
        .execute(
            "INSERT INTO job_leases (job, holder, until) VALUES (?1, ?2, ?4)
             ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, until = excluded.until
             WHERE job_leases.holder = ?2 OR job_leases.until <= ?3",
            params![job, holder, now, until],
        )
        .map_err(db)?;
    Ok(n == 1)
}
