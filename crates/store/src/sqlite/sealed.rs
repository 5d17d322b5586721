//! Walking and replacing sealed material (EKTs, sealed secrets) for
//! domain-key rotation: pages in a stable order, compare-and-swap writes.

use rusqlite::{Connection, params};
use uuid::Uuid;

use super::{access_key_from_row, db, uuid_col};
use crate::{AccessKeyRecord, KeyVersionRecord, StoreResult};

pub(super) fn list_key_versions(
    c: &mut Connection,
    after: Option<(Uuid, u32)>,
    limit: usize,
) -> StoreResult<Vec<KeyVersionRecord>> {
    let (id, version) = after.map_or((String::new(), 0), |(id, v)| (id.to_string(), v));
    let mut s = c
        .prepare(
            "SELECT key_id, version, ekt, created_at FROM key_versions \
             WHERE key_id > ?1 OR (key_id = ?1 AND version > ?2) \
             ORDER BY key_id, version LIMIT ?3",
        )
        .map_err(db)?;
    let rows = s
        .query_map(params![id, version, limit as i64], |r| {
            Ok(KeyVersionRecord {
                key_id: uuid_col(r, 0)?,
                version: r.get(1)?,
                ekt: r.get(2)?,
                created_at: r.get(3)?,
            })
        })
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

pub(super) fn replace_ekt(
    c: &mut Connection,
    id: Uuid,
    version: u32,
    old: &[u8],
    new: &[u8],
) -> StoreResult<bool> {
    let n = c
        .execute(
            "UPDATE key_versions SET ekt = ?4 WHERE key_id = ?1 AND version = ?2 AND ekt = ?3",
            params![id.to_string(), version, old, new],
        )
        .map_err(db)?;
    Ok(n == 1)
}

pub(super) fn list_all_access_keys(
    c: &mut Connection,
    after: Option<&str>,
    limit: usize,
) -> StoreResult<Vec<AccessKeyRecord>> {
    let mut s = c
        .prepare(
            "SELECT access_key_id, account_id, sealed_secret, created_at, active, principal_arn, expires_at, session_token_hash FROM access_keys \
             WHERE access_key_id > ?1 ORDER BY access_key_id LIMIT ?2",
        )
        .map_err(db)?;
    let rows = s
        .query_map(
            params![after.unwrap_or(""), limit as i64],
            access_key_from_row,
        )
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

pub(super) fn replace_sealed_secret(
    c: &mut Connection,
    access_key_id: &str,
    old: &[u8],
    new: &[u8],
) -> StoreResult<bool> {
    let n = c
        .execute(
            "UPDATE access_keys SET sealed_secret = ?3 WHERE access_key_id = ?1 AND sealed_secret = ?2",
            params![access_key_id, old, new],
        )
        .map_err(db)?;
    Ok(n == 1)
}

/// Deletes every version of a key and purges the WAL.
pub(super) fn delete_versions(c: &mut Connection, id: Uuid) -> StoreResult<()> {
    c.execute(
        "DELETE FROM key_versions WHERE key_id = ?1",
        [id.to_string()],
    )
    .map_err(db)?;
    purge_freed(c)
}

/// Pushes freed pages out of the WAL (truncating it), so no deleted or
/// replaced EKT lingers on disk.
pub(super) fn purge_freed(c: &mut Connection) -> StoreResult<()> {
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .map_err(db)?;
    Ok(())
}

/// Keys whose imported material expires at or before `now`.
pub(super) fn expired_material(c: &mut Connection, now: i64) -> StoreResult<Vec<Uuid>> {
    let mut s = c
        .prepare(
            "SELECT id FROM keys WHERE import_valid_to IS NOT NULL AND import_valid_to <= ?1 \
             AND state != 'PendingImport' AND state != 'PendingDeletion' ORDER BY id",
        )
        .map_err(db)?;
    let rows = s.query_map([now], |r| uuid_col(r, 0)).map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}
