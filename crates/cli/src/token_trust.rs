//! Which domain tokens an operator tool or a frontend believes.
//!
//! A domain token is signed by the module that issued it, and anyone can
//! make a module and a token that lists themselves. So a token is believed
//! only when it chains to a trust anchor the operator supplies:
//!
//! - an earlier token of the domain: the new token must be for the same
//!   domain, its epoch must not go back (the same epoch only for the very
//!   same body), and its issuer must be a member *of the anchor token*,
//!   whose signing key (as the anchor lists it) verifies the signature;
//! - or attested modules (`operator attest --out`, checked with
//!   `verify-attestation`): the issuer's signing key must be one of theirs.
//!
//! Operator public keys alone are no anchor: tokens carry no operator
//! signature, and operator keys are public, so a forger can list them too.

use std::path::Path;

use strongroom_hsm_proto::admin::{
    AttestationReport, DomainToken, DomainTokenBody, MemberIdentity, TOKEN_SIGNING_PREFIX, prefixed,
};

/// What a token must chain to.
#[derive(Debug, Clone)]
pub enum Anchor {
    /// An earlier (already trusted) token body of the domain.
    Token(Box<DomainTokenBody>),
    /// Signing keys (DER SPKI) of modules the operator attested.
    Modules(Vec<Vec<u8>>),
}

/// Why a token does not chain to its anchor.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The token could not be decoded.
    #[error("the token is malformed: {0}")]
    Malformed(String),
    /// For another domain than the anchor's.
    #[error("the token is for domain {found}, the trust anchor for domain {anchor}")]
    WrongDomain {
        /// The token's domain.
        found: uuid::Uuid,
        /// The anchor's domain.
        anchor: uuid::Uuid,
    },
    /// An older epoch than the anchor's.
    #[error("the token's epoch {found} is older than the trust anchor's epoch {anchor}")]
    EpochWentBack {
        /// The token's epoch.
        found: u64,
        /// The anchor's epoch.
        anchor: u64,
    },
    /// The same epoch as the anchor's with different contents.
    #[error("the token differs from the trust anchor at the same epoch {0}")]
    Forked(u64),
    /// The issuer is not trusted by the anchor.
    #[error("the token's issuer {0} is not a trusted module of the trust anchor")]
    UntrustedIssuer(uuid::Uuid),
    /// The signature does not verify under the trusted key.
    #[error("the token's signature does not verify under its issuer's trusted key")]
    BadSignature,
}

fn verify_signature(token: &DomainToken, key: &[u8]) -> Result<(), ChainError> {
    let signed = prefixed(TOKEN_SIGNING_PREFIX, &token.body);
    if strongroom_crypto::verify_p384(key, &signed, &token.signature) {
        Ok(())
    } else {
        Err(ChainError::BadSignature)
    }
}

/// Checks that `token` chains to `anchor` (see the module docs) and
/// returns its body.
pub fn verify_chain(token: &DomainToken, anchor: &Anchor) -> Result<DomainTokenBody, ChainError> {
    let body = token
        .decode_body()
        .map_err(|e| ChainError::Malformed(e.to_string()))?;
    match anchor {
        Anchor::Token(a) => {
            if body.domain_id != a.domain_id {
                return Err(ChainError::WrongDomain {
                    found: body.domain_id,
                    anchor: a.domain_id,
                });
            }
            if body.epoch < a.epoch {
                return Err(ChainError::EpochWentBack {
                    found: body.epoch,
                    anchor: a.epoch,
                });
            }
            if body.epoch == a.epoch && body != **a {
                return Err(ChainError::Forked(body.epoch));
            }
            let issuer: &MemberIdentity = a
                .members
                .iter()
                .find(|m| m.module_id == body.issuer)
                .ok_or(ChainError::UntrustedIssuer(body.issuer))?;
            verify_signature(token, &issuer.signing_key)?;
        }
        Anchor::Modules(keys) => {
            let issuer = body
                .members
                .iter()
                .find(|m| m.module_id == body.issuer && keys.contains(&m.signing_key))
                .ok_or(ChainError::UntrustedIssuer(body.issuer))?;
            verify_signature(token, &issuer.signing_key)?;
        }
    }
    Ok(body)
}

/// An anchor from attestation report files (each checked for its own
/// signature; the operator checks the measurement with `verify-attestation`).
pub fn modules_anchor(reports: &[impl AsRef<Path>]) -> anyhow::Result<Anchor> {
    let mut keys = Vec::new();
    for path in reports {
        let r: AttestationReport =
            crate::files::read(path.as_ref(), crate::files::kind::ATTESTATION)?;
        let body = crate::operator::verify_attestation(&r, None, None)?;
        keys.push(body.signing_key);
    }
    Ok(Anchor::Modules(keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use strongroom_crypto::SigningKeyPair;
    use strongroom_hsm_proto::admin::encode;
    use uuid::Uuid;

    fn member(key: &SigningKeyPair) -> MemberIdentity {
        MemberIdentity {
            module_id: Uuid::new_v4(),
            friendly_name: "m".into(),
            signing_key: key.public_key().to_vec(),
            agreement_key: vec![],
        }
    }

    fn body(domain: Uuid, epoch: u64, issuer: &MemberIdentity) -> DomainTokenBody {
        DomainTokenBody {
            domain_id: domain,
            epoch,
            issued_at: 0,
            issuer: issuer.module_id,
            members: vec![issuer.clone()],
            operators: vec![],
            rules: vec![],
            hosts: vec![],
            generations: vec![],
            wrapped_keys: vec![],
            escrow_threshold: 1,
            escrow: vec![],
            min_generation_lifespan_secs: 0,
        }
    }

    fn signed(body: &DomainTokenBody, key: &SigningKeyPair) -> DomainToken {
        let bytes = encode(body);
        let signature = key.sign(&prefixed(TOKEN_SIGNING_PREFIX, &bytes)).unwrap();
        DomainToken {
            body: bytes,
            signature,
            fingerprint: vec![],
        }
    }

    #[test]
    fn a_newer_token_signed_by_an_anchor_member_chains() {
        let k = SigningKeyPair::generate().unwrap();
        let m = member(&k);
        let d = Uuid::new_v4();
        let anchor = Anchor::Token(Box::new(body(d, 3, &m)));
        for epoch in [3, 4, 9] {
            let t = signed(&body(d, epoch, &m), &k);
            assert_eq!(verify_chain(&t, &anchor).unwrap().epoch, epoch);
        }
    }

    #[test]
    fn a_self_signed_token_from_a_stranger_does_not_chain() {
        let k = SigningKeyPair::generate().unwrap();
        let m = member(&k);
        let d = Uuid::new_v4();
        let anchor = Anchor::Token(Box::new(body(d, 3, &m)));
        let evil = SigningKeyPair::generate().unwrap();
        let mut forged = body(d, 4, &member(&evil));
        // Even claiming the real member's id, with the attacker's key listed.
        forged.issuer = m.module_id;
        forged.members[0].module_id = m.module_id;
        let t = signed(&forged, &evil);
        assert!(matches!(
            verify_chain(&t, &anchor),
            Err(ChainError::BadSignature)
        ));
        let t = signed(&body(d, 4, &member(&evil)), &evil);
        assert!(matches!(
            verify_chain(&t, &anchor),
            Err(ChainError::UntrustedIssuer(_))
        ));
        assert!(matches!(
            verify_chain(&t, &Anchor::Modules(vec![k.public_key().to_vec()])),
            Err(ChainError::UntrustedIssuer(_))
        ));
    }

    #[test]
    fn going_back_forking_or_switching_domain_does_not_chain() {
        let k = SigningKeyPair::generate().unwrap();
        let m = member(&k);
        let d = Uuid::new_v4();
        let anchor = Anchor::Token(Box::new(body(d, 3, &m)));
        let old = signed(&body(d, 2, &m), &k);
        assert!(matches!(
            verify_chain(&old, &anchor),
            Err(ChainError::EpochWentBack { .. })
        ));
        let mut fork = body(d, 3, &m);
        fork.hosts.push(vec![1]);
        assert!(matches!(
            verify_chain(&signed(&fork, &k), &anchor),
            Err(ChainError::Forked(3))
        ));
        let other = signed(&body(Uuid::new_v4(), 5, &m), &k);
        assert!(matches!(
            verify_chain(&other, &anchor),
            Err(ChainError::WrongDomain { .. })
        ));
    }

    #[test]
    fn an_attested_module_anchors_its_tokens() {
        let k = SigningKeyPair::generate().unwrap();
        let m = member(&k);
        let t = signed(&body(Uuid::new_v4(), 1, &m), &k);
        let anchor = Anchor::Modules(vec![k.public_key().to_vec()]);
        assert!(verify_chain(&t, &anchor).is_ok());
    }
}
