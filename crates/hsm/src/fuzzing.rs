//! Entry points for the fuzz targets in /fuzz (cargo feature `fuzzing`):
//! the module's parsers of EKTs (every kind), domain tokens, quorum
//! commands and import tokens, reachable without a running module. Not an
//! API: the feature is off in every build but the fuzzer's.

use strongroom_crypto::SecretKey256;
use strongroom_hsm_proto::admin::{
    DomainToken, DomainTokenBody, MemberIdentity, Operator, QuorumRule, SignedCommand,
};
use strongroom_hsm_proto::{Ekt, HsmError, KeyRef, KeySpecCode, TransientEkt};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::DomainKey;
use crate::ekt::{Opened, Sealed, SuspensionOwner, WrappingKeyEkt};
use crate::identity::Identity;
use crate::{ekt, import, quorum, token};

/// Which opener took a token (the kinds of EKT v3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EktKind {
    /// A key version's material ([`Ekt`]).
    Key,
    /// An import wrapping private key.
    WrappingKey,
    /// A VOLATILE key's transient token ([`TransientEkt`]).
    Transient,
}

/// What an opener returns.
#[derive(Debug, PartialEq, Eq)]
pub struct OpenedEkt {
    pub key: KeyRef,
    pub spec: KeySpecCode,
    /// The suspension owner bound into the token, if any.
    pub owner: Option<[u8; 32]>,
    pub material: Zeroizing<Vec<u8>>,
}

fn opened(o: Opened) -> OpenedEkt {
    OpenedEkt {
        key: o.key,
        spec: o.spec,
        owner: o.owner.map(|o| o.0),
        material: o.material,
    }
}

/// Seals material as a token of `kind` (v3), bound to `owner` when given
/// (key kind only: the other kinds never carry an owner).
pub fn ekt_seal(
    domain: &DomainKey,
    kind: EktKind,
    key: KeyRef,
    spec: KeySpecCode,
    material: &[u8],
    owner: Option<[u8; 32]>,
) -> Result<Vec<u8>, HsmError> {
    Ok(match kind {
        EktKind::Key => ekt::seal_key(domain, key, spec, material, owner.map(SuspensionOwner))?.0,
        EktKind::WrappingKey => ekt::seal_wrapping_key(domain, key.key_id, spec, material)?
            .bytes()
            .to_vec(),
        EktKind::Transient => {
            let secret = SecretKey256::from_slice(material)
                .map_err(|e| HsmError::Internal(e.to_string()))?;
            ekt::seal_transient(domain, key, spec, &secret)?.0
        }
    })
}

/// Opens `bytes` with the opener of `kind` (each refuses the others).
pub fn ekt_open(domain: &DomainKey, kind: EktKind, bytes: &[u8]) -> Result<OpenedEkt, HsmError> {
    match kind {
        EktKind::Key => ekt::open_key(domain, &Ekt(bytes.to_vec())),
        EktKind::WrappingKey => {
            ekt::open_wrapping_key(domain, &WrappingKeyEkt::from_bytes(bytes.to_vec()))
        }
        EktKind::Transient => ekt::open_transient(domain, &TransientEkt(bytes.to_vec())),
    }
    .map(opened)
}

/// What a public EKT reader returns: key, spec and material.
pub type PublicOpen = Result<(KeyRef, KeySpecCode, Zeroizing<Vec<u8>>), HsmError>;

/// The public readers of a key EKT: 256-bit keys, material of any length.
pub fn ekt_open_public(domain: &DomainKey, ekt: &Ekt) -> (PublicOpen, PublicOpen) {
    let fixed = ekt::open(domain, ekt)
        .map(|(k, s, secret)| (k, s, Zeroizing::new(secret.expose().to_vec())));
    (fixed, ekt::open_material(domain, ekt))
}

/// The unverified header readers of a key EKT.
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
    wrapping_key: &[u8],
) -> Vec<u8> {
    let wrapping_key = WrappingKeyEkt::from_bytes(wrapping_key.to_vec());
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

/// The expiry an import token's body states (unverified), if it decodes.
pub fn import_token_valid_to(token: &[u8]) -> Option<u64> {
    import::token_valid_to(token)
}
