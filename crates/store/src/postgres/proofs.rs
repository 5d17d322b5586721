//! Authentication-proof bookkeeping on PostgreSQL: one row per signed
//! request that minted a proof, with the proof's uses left.

use super::PostgresStore;
use crate::{ProofMint, ProofUse, StoreResult};

pub(super) async fn record_mint(s: &PostgresStore, m: &ProofMint) -> StoreResult<bool> {
    Ok(s.exec(
        "INSERT INTO auth_proofs (request_digest, proof_id, uses_left, expires_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        &[
            &m.request_digest,
            &m.proof_id,
            &i64::from(m.uses),
            &m.expires_at,
        ],
    )
    .await?
        == 1)
}

pub(super) async fn use_proof(
    s: &PostgresStore,
    proof_id: &str,
    request_digest: &str,
    now: i64,
) -> StoreResult<ProofUse> {
    // One statement: concurrent users of the same proof (on any frontend)
    // never both get its last use.
    if let Some(r) = s
        .row(
            "UPDATE auth_proofs SET uses_left = uses_left - 1 \
             WHERE proof_id = $1 AND request_digest = $2 AND uses_left > 0 AND expires_at > $3 \
             RETURNING uses_left",
            &[&proof_id, &request_digest, &now],
        )
        .await?
    {
        return Ok(ProofUse::Used {
            left: r.get::<_, i64>(0) as u32,
        });
    }
    let known = s
        .row(
            "SELECT 1 FROM auth_proofs WHERE proof_id = $1 AND request_digest = $2 AND expires_at > $3",
            &[&proof_id, &request_digest, &now],
        )
        .await?;
    Ok(match known {
        Some(_) => ProofUse::Exhausted,
        None => ProofUse::Unknown,
    })
}

pub(super) async fn purge(s: &PostgresStore, now: i64) -> StoreResult<u64> {
    s.exec("DELETE FROM auth_proofs WHERE expires_at <= $1", &[&now])
        .await
}
