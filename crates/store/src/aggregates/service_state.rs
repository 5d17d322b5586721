//! The service's own bookkeeping: how far module logs have been copied,
//! leases on background jobs, and authentication-proof uses.

use async_trait::async_trait;

use super::{count_or_zero, execute};
use crate::backend::{Backend, Conn, run};
use crate::sql::codec::Codec;
use crate::sql::params;
use crate::sql::statements::service_state as sql;
use crate::{ProofMint, ProofUse, StoreResult};

/// The service's own bookkeeping: how far module logs have been copied,
/// leases on background jobs, and authentication-proof uses.
#[async_trait]
pub trait ServiceStateStore: Send + Sync + 'static {
    /// How far a module's log has been copied into the audit trail.
    async fn module_log_cursor(&self, module_id: &str, log_id: u64) -> StoreResult<u64>;
    /// Records how far a module's log has been copied.
    async fn set_module_log_cursor(
        &self,
        module_id: &str,
        log_id: u64,
        offset: u64,
    ) -> StoreResult<()>;

    /// Takes or renews the lease on background job `job` for `holder` until
    /// `until` (epoch s), unless another holder's lease is still valid at
    /// `now`; returns whether `holder` holds it. Jobs run exactly once
    /// across frontends, and move on when a holder dies.
    async fn try_lease(&self, job: &str, holder: &str, now: i64, until: i64) -> StoreResult<bool>;

    /// Records a proof minted from a signed request; returns `false`, and
    /// records nothing, if that request has already minted one (on any
    /// frontend, before or after a restart) whose record is not yet purged.
    async fn record_proof_mint(&self, mint: &ProofMint) -> StoreResult<bool>;
    /// Takes one use of proof `proof_id` minted from `request_digest`, if
    /// its record is live at `now` and has a use left.
    async fn use_proof(
        &self,
        proof_id: &str,
        request_digest: &str,
        now: i64,
    ) -> StoreResult<ProofUse>;
    /// Deletes proof records that expired at or before `now`; returns how
    /// many.
    async fn purge_expired_proofs(&self, now: i64) -> StoreResult<u64>;
}

/// A stored `u64` (cursors and positions are stored as 64-bit integers).
pub(super) fn stored_u64(v: u64) -> i64 {
    v as i64
}

#[async_trait]
impl<B: Backend> ServiceStateStore for B {
    async fn module_log_cursor(&self, module_id: &str, log_id: u64) -> StoreResult<u64> {
        let p = params![module_id, stored_u64(log_id)];
        count_or_zero(self, &sql::CURSOR_GET, p).await
    }

    async fn set_module_log_cursor(
        &self,
        module_id: &str,
        log_id: u64,
        offset: u64,
    ) -> StoreResult<()> {
        let p = params![module_id, stored_u64(log_id), stored_u64(offset)];
        execute(self, &sql::CURSOR_SET, p).await.map(drop)
    }

    async fn try_lease(&self, job: &str, holder: &str, now: i64, until: i64) -> StoreResult<bool> {
        let p = params![job, holder, now, until];
        Ok(execute(self, &sql::LEASE_TAKE, p).await? == 1)
    }

    async fn record_proof_mint(&self, mint: &ProofMint) -> StoreResult<bool> {
        Ok(execute(self, &sql::PROOF_INSERT, mint.values()?).await? == 1)
    }

    async fn use_proof(
        &self,
        proof_id: &str,
        request_digest: &str,
        now: i64,
    ) -> StoreResult<ProofUse> {
        let p = params![proof_id, request_digest, now];
        run(self, move |c| {
            Box::pin(async move {
                if let Some(row) = c.query_opt(&sql::PROOF_USE, &p).await? {
                    return Ok(ProofUse::Used { left: row.u32(0)? });
                }
                Ok(match c.query_opt(&sql::PROOF_KNOWN, &p).await? {
                    Some(_) => ProofUse::Exhausted,
                    None => ProofUse::Unknown,
                })
            })
        })
        .await
    }

    async fn purge_expired_proofs(&self, now: i64) -> StoreResult<u64> {
        execute(self, &sql::PROOFS_PURGE, params![now]).await
    }
}
