//! Conformance of authentication-proof bookkeeping: one mint per signed
//! request, exact use counts under concurrency, expiry and purging.

use std::sync::Arc;

use crate::*;

fn mint(digest: &str, id: &str, uses: u32, expires_at: i64) -> ProofMint {
    ProofMint {
        request_digest: digest.into(),
        proof_id: id.into(),
        uses,
        expires_at,
    }
}

pub(crate) async fn a_signed_request_mints_one_proof_and_uses_are_counted(s: Arc<dyn Store>) {
    assert!(
        s.record_proof_mint(&mint("d1", "p1", 2, 1000))
            .await
            .unwrap()
    );
    // The same signed request again, even for another proof id: refused.
    assert!(
        !s.record_proof_mint(&mint("d1", "p2", 9, 2000))
            .await
            .unwrap()
    );
    assert_eq!(
        s.use_proof("p2", "d1", 10).await.unwrap(),
        ProofUse::Unknown
    );
    // A proof id presented with another request's digest is not this proof.
    assert_eq!(
        s.use_proof("p1", "d9", 10).await.unwrap(),
        ProofUse::Unknown
    );
    assert_eq!(
        s.use_proof("p1", "d1", 10).await.unwrap(),
        ProofUse::Used { left: 1 }
    );
    assert_eq!(
        s.use_proof("p1", "d1", 11).await.unwrap(),
        ProofUse::Used { left: 0 }
    );
    assert_eq!(
        s.use_proof("p1", "d1", 12).await.unwrap(),
        ProofUse::Exhausted
    );
    // Expired: neither usable nor counted as known.
    assert!(
        s.record_proof_mint(&mint("d3", "p3", 5, 100))
            .await
            .unwrap()
    );
    assert_eq!(
        s.use_proof("p3", "d3", 100).await.unwrap(),
        ProofUse::Unknown
    );
    assert_eq!(s.purge_expired_proofs(99).await.unwrap(), 0);
    assert_eq!(s.purge_expired_proofs(100).await.unwrap(), 1);
    assert_eq!(s.purge_expired_proofs(1000).await.unwrap(), 1);
    assert_eq!(s.purge_expired_proofs(5000).await.unwrap(), 0);
    // Once purged (its signed request long expired), the digest is free.
    assert!(
        s.record_proof_mint(&mint("d1", "p4", 1, 3000))
            .await
            .unwrap()
    );
}

pub(crate) async fn concurrent_proof_uses_and_mints_have_exact_winners(s: Arc<dyn Store>) {
    assert!(
        s.record_proof_mint(&mint("d", "p", 5, i64::MAX))
            .await
            .unwrap()
    );
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let s = s.clone();
        tasks.spawn(async move {
            let used = s.use_proof("p", "d", 1).await.unwrap();
            let minted = s
                .record_proof_mint(&mint("race", &format!("q{i}"), 1, i64::MAX))
                .await
                .unwrap();
            (used, minted)
        });
    }
    let (mut used, mut minted) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        let (u, m) = r.unwrap();
        match u {
            ProofUse::Used { .. } => used += 1,
            ProofUse::Exhausted => {}
            ProofUse::Unknown => panic!("a live proof was reported unknown"),
        }
        minted += usize::from(m);
    }
    assert_eq!(used, 5);
    assert_eq!(minted, 1);
}
