//! Domain tokens: issuing (wrap every generation to every member, escrow to
//! operators, sign, fingerprint) and verifying what another member issued.

use std::collections::BTreeMap;

use strongroom_crypto::{SecretKey256, seal_to};
use strongroom_hsm_proto::admin::{
    DomainToken, DomainTokenBody, Generation, MemberIdentity, TOKEN_SIGNING_PREFIX,
    WrappedDomainKey, encode, prefixed,
};
use strongroom_hsm_proto::{HsmError, Refusal};
use uuid::Uuid;

use crate::identity::Identity;
use crate::quorum::refuse;
use crate::{DomainKey, escrow};

/// Generations of one domain's key, oldest first.
pub type KeyRing = BTreeMap<u32, DomainKey>;

fn wrap_label(domain: Uuid, generation: u32, member: Uuid) -> Vec<u8> {
    let mut l = b"strongroom domain key v1".to_vec();
    l.extend_from_slice(domain.as_bytes());
    l.extend_from_slice(&generation.to_be_bytes());
    l.extend_from_slice(member.as_bytes());
    l
}

fn internal(e: impl std::fmt::Display) -> HsmError {
    HsmError::Internal(e.to_string())
}

/// Issues a token for `body` (epoch already set) with `keys`: wraps every
/// generation to every member, escrows each to the operators, signs.
pub fn issue(
    me: &Identity,
    body: &mut DomainTokenBody,
    keys: &KeyRing,
    now: u64,
) -> Result<DomainToken, HsmError> {
    let newest = keys
        .values()
        .next_back()
        .ok_or_else(|| internal("a domain needs a key"))?;
    body.issuer = me.id;
    body.issued_at = now;
    let created: BTreeMap<u32, u64> = body
        .generations
        .iter()
        .map(|g| (g.number, g.created_at))
        .collect();
    body.generations = keys
        .keys()
        .map(|&number| Generation {
            number,
            created_at: created.get(&number).copied().unwrap_or(now),
        })
        .collect();
    body.wrapped_keys.clear();
    for member in &body.members {
        for (&generation, key) in keys {
            body.wrapped_keys.push(WrappedDomainKey {
                module_id: member.module_id,
                generation,
                sealed: seal_to(
                    &member.agreement_key,
                    &wrap_label(body.domain_id, generation, member.module_id),
                    key.root().expose(),
                )
                .map_err(|e| {
                    refuse(
                        Refusal::NotAllowed,
                        format!("member {}: {e}", member.module_id),
                    )
                })?,
            });
        }
    }
    body.escrow.clear();
    for key in keys.values() {
        body.escrow
            .extend(escrow::split(key, &body.operators, body.escrow_threshold)?);
    }
    let bytes = encode(&*body);
    Ok(DomainToken {
        signature: me
            .signing
            .sign(&prefixed(TOKEN_SIGNING_PREFIX, &bytes))
            .map_err(internal)?,
        fingerprint: newest.fingerprint(&bytes).to_vec(),
        body: bytes,
    })
}

/// Decodes a token and checks its issuer's signature (see
/// [`DomainToken::verify_issuer`]).
pub fn verify_signature(
    token: &DomainToken,
    trusted_members: Option<&[MemberIdentity]>,
) -> Result<DomainTokenBody, HsmError> {
    token
        .verify_issuer(trusted_members)
        .map_err(|e| refuse(Refusal::InvalidToken, e))
}

/// Opens this module's wrapped copies of every generation in `body` and
/// checks the token's fingerprint with the newest.
pub fn unwrap_keys(
    me: &Identity,
    body: &DomainTokenBody,
    token: &DomainToken,
) -> Result<KeyRing, HsmError> {
    if !body.members.iter().any(|m| me.is(m)) {
        return Err(refuse(
            Refusal::InvalidToken,
            "this module is not a member of the domain in this token",
        ));
    }
    let mut ring = KeyRing::new();
    for g in &body.generations {
        let wrapped = body
            .wrapped_keys
            .iter()
            .find(|w| w.module_id == me.id && w.generation == g.number)
            .ok_or_else(|| {
                refuse(
                    Refusal::InvalidToken,
                    format!("generation {} is not wrapped to this module", g.number),
                )
            })?;
        let root = me
            .agreement
            .open(
                &wrap_label(body.domain_id, g.number, me.id),
                &wrapped.sealed,
            )
            .map_err(|_| refuse(Refusal::InvalidToken, "a wrapped domain key does not open"))?;
        let root = SecretKey256::from_slice(&root)
            .map_err(|_| refuse(Refusal::InvalidToken, "bad domain key length"))?;
        ring.insert(
            g.number,
            DomainKey::from_parts(body.domain_id, g.number, root).map_err(internal)?,
        );
    }
    check_fingerprint(&ring, token)?;
    Ok(ring)
}

/// Checks the token's fingerprint against the newest key of `ring`.
pub fn check_fingerprint(ring: &KeyRing, token: &DomainToken) -> Result<(), HsmError> {
    let newest = ring
        .values()
        .next_back()
        .ok_or_else(|| refuse(Refusal::InvalidToken, "the token holds no domain key"))?;
    if newest.verify_fingerprint(&token.body, &token.fingerprint) {
        Ok(())
    } else {
        Err(refuse(
            Refusal::InvalidToken,
            "the token's fingerprint does not verify under the domain key",
        ))
    }
}
