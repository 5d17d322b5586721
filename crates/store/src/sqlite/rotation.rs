//! Key rotation in SQLite: a new version and the key's metadata in one
//! transaction, the rotation history, and the scheduler's due list.

use rusqlite::{Connection, params};
use uuid::Uuid;

use super::{db, is_unique_violation, update_key_row, uuid_col};
use crate::{KeyRecord, KeyVersionRecord, RotationRecord, StoreError, StoreResult};

pub(super) fn rotate_key(
    c: &mut Connection,
    key: &KeyRecord,
    v: &KeyVersionRecord,
    rotation_type: &str,
) -> StoreResult<()> {
    let tx = c.transaction().map_err(db)?;
    tx.execute(
        "INSERT INTO key_versions (key_id, version, ekt, created_at, rotation_type) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![v.key_id.to_string(), v.version, v.ekt, v.created_at, rotation_type],
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::AlreadyExists(format!("version {} of {}", v.version, v.key_id))
        } else {
            db(e)
        }
    })?;
    update_key_row(&tx, key)?;
    tx.commit().map_err(db)
}

pub(super) fn list_rotations(
    c: &mut Connection,
    id: Uuid,
    after: u32,
    limit: usize,
) -> StoreResult<Vec<RotationRecord>> {
    let mut s = c
        .prepare(
            "SELECT version, created_at, COALESCE(rotation_type, 'AUTOMATIC') FROM key_versions \
             WHERE key_id = ?1 AND version > MAX(?2, 1) ORDER BY version LIMIT ?3",
        )
        .map_err(db)?;
    let rows = s
        .query_map(params![id.to_string(), after, limit as i64], |r| {
            Ok(RotationRecord {
                version: r.get(0)?,
                rotated_at: r.get(1)?,
                rotation_type: r.get(2)?,
            })
        })
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

pub(super) fn keys_due(c: &mut Connection, now: i64) -> StoreResult<Vec<Uuid>> {
    let mut s = c
        .prepare(
            "SELECT id FROM keys WHERE next_rotation_at IS NOT NULL AND next_rotation_at <= ?1 \
             AND state = 'Enabled' ORDER BY next_rotation_at, id",
        )
        .map_err(db)?;
    let rows = s.query_map([now], |r| uuid_col(r, 0)).map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}
