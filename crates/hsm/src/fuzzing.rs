//! Entry points for the fuzz targets in /fuzz (cargo feature `fuzzing`):
//! the module's parsers of EKTs, domain tokens, quorum commands and import
//! tokens, reachable without a running module. Not an API: the feature is
//! off in every build but the fuzzer's.

use strongroom_crypto::SecretKey256;
use strongroom_hsm_proto::admin::{
    DomainToken, DomainTokenBody, MemberIdentity, Operator, QuorumRule, SignedCommand,
};
use strongroom_hsm_proto::{Ekt, HsmError, KeyRef, KeySpecCode};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::DomainKey;
use crate::identity::Identity;
use crate::{ekt, import, quorum, token};

/// Seals a 256-bit key as a v1 EKT.
pub fn ekt_seal(
    domain: &DomainKey,
    key: KeyRef,
    spec: KeySpecCode,
    backing: &[u8; 32],
) -> Result<Ekt, HsmError> {
    let secret =
        SecretKey256::from_slice(backing).map_err(|e| HsmError::Internal(e.to_string()))?;
    ekt::seal(domain, key, spec, &secret)
}

/// Seals key material of any length as a v2 EKT.
pub fn ekt_seal_material(
    domain: &DomainKey,
    key: KeyRef,
    spec: KeySpecCode,
    material: &[u8],
) -> Result<Ekt, HsmError> {
    ekt::seal_material(domain, key, spec, material)
}

/// Opens a v1 EKT; returns the key material.
pub fn ekt_open(
    domain: &DomainKey,
    ekt: &Ekt,
) -> Result<(KeyRef, KeySpecCode, Zeroizing<Vec<u8>>), HsmError> {
    let (key, spec, backing) = ekt::open(domain, ekt)?;
    Ok((key, spec, Zeroizing::new(backing.expose().to_vec())))
}

/// Opens a v2 EKT.
pub fn ekt_open_material(
    domain: &DomainKey,
    ekt: &Ekt,
) -> Result<(KeyRef, KeySpecCode, Zeroizing<Vec<u8>>), HsmError> {
    ekt::open_material(domain, ekt)
}

/// The unverified header readers of an EKT.
pub fn ekt_header(ekt: &Ekt) -> (Result<(Uuid, u32), HsmError>, Result<KeySpecCode, HsmError>) {
    (ekt::domain_of(ekt), ekt::spec_of(ekt))
}

/// Issues a token for `body` with the single key `domain`.
pub fn token_issue(
    me: &Identity,
    body: &mut DomainTokenBody,
    domain: &DomainKey,
    now: u64,
) -> Result<DomainToken, HsmError> {
    let ring = token::KeyRing::from([(domain.generation(), domain.duplicate())]);
    token::issue(me, body, &ring, now)
}

/// The fingerprint a member of `domain` puts on a token body.
pub fn token_fingerprint(domain: &DomainKey, body: &[u8]) -> Vec<u8> {
    domain.fingerprint(body).to_vec()
}

/// Decodes a token and checks its issuer's signature.
pub fn token_verify(
    token: &DomainToken,
    trusted_members: Option<&[MemberIdentity]>,
) -> Result<DomainTokenBody, HsmError> {
    token::verify_signature(token, trusted_members)
}

/// Opens `me`'s wrapped domain keys in a verified body and checks the
/// fingerprint; returns the generations opened.
pub fn token_unwrap(
    me: &Identity,
    body: &DomainTokenBody,
    token: &DomainToken,
) -> Result<Vec<u32>, HsmError> {
    Ok(token::unwrap_keys(me, body, token)?.into_keys().collect())
}

/// Checks a token's fingerprint against the single key `domain`.
pub fn token_check_fingerprint(domain: &DomainKey, token: &DomainToken) -> Result<(), HsmError> {
    let ring = token::KeyRing::from([(domain.generation(), domain.duplicate())]);
    token::check_fingerprint(&ring, token)
}

/// Checks a command's freshness and signatures against one domain's
/// operators and rules (no nonce seen yet).
pub fn quorum_verify(
    cmd: &SignedCommand,
    now: u64,
    operators: &[Operator],
    rules: &[QuorumRule],
) -> Result<strongroom_hsm_proto::admin::CommandBody, HsmError> {
    quorum::verify(
        cmd,
        now,
        &quorum::NonceCache::default(),
        &[quorum::Authority::Domain { operators, rules }],
    )
}

/// Encodes and MACs an import token under `domain`.
pub fn import_token_seal(
    domain: &DomainKey,
    key_id: Uuid,
    algorithm: String,
    valid_to: u64,
    wrapping_key: Ekt,
) -> Vec<u8> {
    import::seal_token(domain, key_id, algorithm, valid_to, wrapping_key)
}

/// Checks an import token for `key_id` at `now` with `domain` as the only
/// domain key the module holds; returns the domain and generation.
pub fn import_token_open(
    domain: &DomainKey,
    token: &[u8],
    key_id: Uuid,
    now: u64,
) -> Result<(Uuid, u32), HsmError> {
    let opened = import::open_token(token, key_id, now, |id, generation| {
        if id == domain.id() && generation == domain.generation() {
            Ok(domain)
        } else {
            Err(HsmError::NoDomainKey(format!(
                "{id} generation {generation}"
            )))
        }
    })?;
    Ok((opened.domain, opened.generation))
}

/// The MAC an import token body gets under `domain`.
pub fn import_token_mac(domain: &DomainKey, body: &[u8]) -> Vec<u8> {
    domain.import_mac().sign(body).to_vec()
}
