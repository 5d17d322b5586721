//! Authentication proofs (crates/server/src/proof.rs): a data service
//! presents one in `X-Strongroom-Auth-Proof` with every request.
//! Input: a selector byte, then either a whole proof (0) or the claims
//! text that gets a valid MAC under the fixed key (1), so the fuzzer
//! reaches the claims parsing behind the MAC.
//! Asserts: never panics; a proof opens exactly when its MAC is right,
//! it fits 4096 bytes and its claims are valid JSON claims (v2: issued_to,
//! request digest); opened claims re-seal to a proof that opens equal; a
//! changed MAC is refused. (What `open_claims` accepts still has to pass
//! `Proofs::accept`'s version, expiry, presenter and store-backed
//! single-mint / use-count checks, which need a store.)
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use libfuzzer_sys::fuzz_target;
use strongroom_crypto::hmac_sha256;
use strongroom_fuzz::PROOF_KEY;
use strongroom_server::proof::{ProofClaims, open_claims, seal_claims};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let proof = if mode % 2 == 0 {
        text.to_owned()
    } else {
        let mac = hmac_sha256(&PROOF_KEY, text.as_bytes());
        let proof = format!("{}.{}", B64.encode(text), B64.encode(mac));
        let expect_ok = proof.len() <= 4096 && serde_json::from_str::<ProofClaims>(text).is_ok();
        assert_eq!(
            open_claims(&PROOF_KEY, &proof).is_ok(),
            expect_ok,
            "{proof}"
        );
        let mut wrong_mac = mac;
        wrong_mac[usize::from(mode) % 32] ^= 1;
        let forged = format!("{}.{}", B64.encode(text), B64.encode(wrong_mac));
        assert!(open_claims(&PROOF_KEY, &forged).is_err());
        proof
    };
    if let Ok(claims) = open_claims(&PROOF_KEY, &proof) {
        let resealed = seal_claims(&PROOF_KEY, &claims).expect("seal");
        if resealed.len() <= 4096 {
            assert_eq!(open_claims(&PROOF_KEY, &resealed).ok(), Some(claims));
        }
    }
});
