//! Authentication-proof bookkeeping in SQLite: one row per signed request
//! that minted a proof, with the proof's uses left.

use rusqlite::{Connection, OptionalExtension, params};

use super::db;
use crate::{ProofMint, ProofUse, StoreResult};

pub(super) fn record_mint(c: &mut Connection, m: &ProofMint) -> StoreResult<bool> {
    let n = c
        .execute(
            "INSERT INTO auth_proofs (request_digest, proof_id, uses_left, expires_at) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
            params![m.request_digest, m.proof_id, m.uses, m.expires_at],
        )
        .map_err(db)?;
    Ok(n == 1)
}

pub(super) fn use_proof(
    c: &mut Connection,
    proof_id: &str,
    request_digest: &str,
    now: i64,
) -> StoreResult<ProofUse> {
    // One statement: concurrent users of the same proof are serialised by
    // the database, never both given the last use.
    let left: Option<i64> = c
        .query_row(
            "UPDATE auth_proofs SET uses_left = uses_left - 1 \
             WHERE proof_id = ?1 AND request_digest = ?2 AND uses_left > 0 AND expires_at > ?3 \
             RETURNING uses_left",
            params![proof_id, request_digest, now],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    if let Some(left) = left {
        return Ok(ProofUse::Used { left: left as u32 });
    }
    let known = c
        .query_row(
            "SELECT 1 FROM auth_proofs WHERE proof_id = ?1 AND request_digest = ?2 AND expires_at > ?3",
            params![proof_id, request_digest, now],
            |_| Ok(()),
        )
        .optional()
        .map_err(db)?;
    Ok(match known {
        Some(()) => ProofUse::Exhausted,
        None => ProofUse::Unknown,
    })
}

pub(super) fn purge(c: &mut Connection, now: i64) -> StoreResult<u64> {
    let n = c
        .execute("DELETE FROM auth_proofs WHERE expires_at <= ?1", [now])
        .map_err(db)?;
    Ok(n as u64)
}
