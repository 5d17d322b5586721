//! Sealed key tokens, format version 3 (docs/formats.md): key material
//! sealed with AES-256-GCM under a domain-key generation.
//!
//! ```text
//! offset len   field
//! 0      1     format version (0x03)
//! 1      1     kind: 1 key (an EKT), 2 import wrapping key, 3 volatile transient
//! 2      16    domain id
//! 18     4     domain key generation, big-endian
//! 22     16    key UUID
//! 38     4     key version, big-endian
//! 42     1     key spec code
//! 43     1     1 if a suspension owner is bound, else 0
//! 44     32    SHA-256 of the suspension owner's DER SPKI (zeros if none)
//! 76     4     material length L, big-endian
//! 80     12    AES-GCM IV
//! 92     L+16  sealed material and tag
//! ```
//! AAD is bytes 0..80: the kind, the owner and every other field are
//! authenticated, so a token never opens as another kind or with another
//! owner. Each kind has its own Rust type ([`Ekt`], [`WrappingKeyEkt`],
//! [`TransientEkt`]) and every opener takes exactly one of them, so handing
//! a wrapping key to a signing path is a type error in the module, and a
//! kind byte changed on the wire fails to unwrap.
//!
//! Versions 1 (32-byte material, AAD bytes 0..42) and 2 (any length, AAD
//! 0..46) predate kinds; they still open, as key EKTs only, with no
//! suspension owner, and never for version 0 (what v2 import wrapping keys
//! used), so an old import token's wrapping key is no key either.

use serde::{Deserialize, Serialize};
use strongroom_crypto::{Iv, SecretKey256};
use strongroom_hsm_proto::{Ekt, HsmError, KeyRef, KeySpecCode, TransientEkt};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::DomainKey;

const EKT_V1: u8 = 0x01;
const EKT_V2: u8 = 0x02;
const EKT_V3: u8 = 0x03;
const V1_AAD_LEN: usize = 42;
const V1_LEN: usize = V1_AAD_LEN + 12 + 32 + 16;
const V2_AAD_LEN: usize = 46;
const V3_AAD_LEN: usize = 80;
/// Largest material a token carries (an RSA-4096 PKCS#8 is ~2.4 KiB).
const MAX_MATERIAL: usize = 16 * 1024;

/// What a sealed token holds. Bound into the AEAD's additional data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// A customer key's version: the only kind any key operation opens.
    Key = 1,
    /// An import wrapping private key: only an import token opens it.
    ImportWrappingKey = 2,
    /// A VOLATILE key on its way to the other members: only
    /// InstallVolatileKey opens it.
    VolatileTransient = 3,
}

/// A token type of one kind.
pub(crate) trait Sealed: Sized {
    /// The kind every token of this type must carry.
    const KIND: Kind;
    /// The encoded token.
    fn bytes(&self) -> &[u8];
    /// Wraps encoded bytes (only the sealer makes them).
    fn from_bytes(b: Vec<u8>) -> Self;
}

impl Sealed for Ekt {
    const KIND: Kind = Kind::Key;
    fn bytes(&self) -> &[u8] {
        &self.0
    }
    fn from_bytes(b: Vec<u8>) -> Self {
        Ekt(b)
    }
}

impl Sealed for TransientEkt {
    const KIND: Kind = Kind::VolatileTransient;
    fn bytes(&self) -> &[u8] {
        &self.0
    }
    fn from_bytes(b: Vec<u8>) -> Self {
        TransientEkt(b)
    }
}

/// An import wrapping private key, sealed; lives only inside import tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WrappingKeyEkt(Vec<u8>);

impl Sealed for WrappingKeyEkt {
    const KIND: Kind = Kind::ImportWrappingKey;
    fn bytes(&self) -> &[u8] {
        &self.0
    }
    fn from_bytes(b: Vec<u8>) -> Self {
        WrappingKeyEkt(b)
    }
}

/// Who a key's suspension wraps to: SHA-256 of the owner's RSA public key
/// (DER SPKI), fixed when the key is made and bound into every version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SuspensionOwner(pub [u8; 32]);

impl SuspensionOwner {
    /// The owner whose public key is `spki`.
    pub(crate) fn of_public_key(spki: &[u8]) -> Self {
        Self(strongroom_crypto::sha256(spki))
    }
}

/// An opened token: what it is bound to, and its material.
pub(crate) struct Opened {
    /// The key version it names.
    pub key: KeyRef,
    /// The spec bound to it.
    pub spec: KeySpecCode,
    /// The suspension owner bound to it, if any.
    pub owner: Option<SuspensionOwner>,
    /// The material (a 32-byte seed, or a PKCS#8 private key).
    pub material: Zeroizing<Vec<u8>>,
    /// Sealed in a pre-kind format (v1/v2): what it was cannot be told
    /// (a key, or a VOLATILE transient token a frontend kept).
    pub legacy: bool,
}

impl Opened {
    /// The material as a 256-bit key.
    pub(crate) fn secret(&self) -> Result<SecretKey256, HsmError> {
        SecretKey256::from_slice(&self.material).map_err(|_| HsmError::InvalidKeyToken)
    }
}

fn internal(e: impl std::fmt::Display) -> HsmError {
    HsmError::Internal(e.to_string())
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().expect("4 bytes"))
}

/// The unverified header of a token: `(kind, domain, generation, key,
/// spec byte, owner, aad length, iv offset)`, after checking its shape.
struct Header {
    kind: Kind,
    domain: Uuid,
    generation: u32,
    key: KeyRef,
    spec: u8,
    owner: Option<SuspensionOwner>,
    aad_len: usize,
}

fn parse(b: &[u8]) -> Result<Header, HsmError> {
    let bad = HsmError::InvalidKeyToken;
    let (kind, base, owner, aad_len) = match b.first() {
        Some(&EKT_V1) if b.len() == V1_LEN => (Kind::Key, 1, None, V1_AAD_LEN),
        Some(&EKT_V2) if b.len() >= V2_AAD_LEN + 12 + 16 => {
            let l = be32(&b[42..]) as usize;
            if l > MAX_MATERIAL || b.len() != V2_AAD_LEN + 12 + l + 16 {
                return Err(bad);
            }
            (Kind::Key, 1, None, V2_AAD_LEN)
        }
        Some(&EKT_V3) if b.len() >= V3_AAD_LEN + 12 + 16 => {
            let l = be32(&b[76..]) as usize;
            if l > MAX_MATERIAL || b.len() != V3_AAD_LEN + 12 + l + 16 {
                return Err(bad);
            }
            let kind = match b[1] {
                1 => Kind::Key,
                2 => Kind::ImportWrappingKey,
                3 => Kind::VolatileTransient,
                _ => return Err(bad),
            };
            let owner = match b[43] {
                0 if b[44..76].iter().all(|&x| x == 0) => None,
                1 => Some(SuspensionOwner(b[44..76].try_into().expect("32"))),
                _ => return Err(bad),
            };
            (kind, 2, owner, V3_AAD_LEN)
        }
        _ => return Err(bad),
    };
    let key = KeyRef {
        key_id: Uuid::from_bytes(b[base + 20..base + 36].try_into().expect("16")),
        version: be32(&b[base + 36..]),
    };
    // Before v3, import wrapping keys were sealed as version 0 of their
    // key: never a key.
    if b[0] != EKT_V3 && key.version == 0 {
        return Err(bad);
    }
    Ok(Header {
        kind,
        domain: Uuid::from_bytes(b[base..base + 16].try_into().expect("16")),
        generation: be32(&b[base + 16..]),
        key,
        spec: b[base + 40],
        owner,
        aad_len,
    })
}

/// Parses `t` as a token of its type's kind (unverified).
fn header<T: Sealed>(t: &T) -> Result<Header, HsmError> {
    let h = parse(t.bytes())?;
    if h.kind != T::KIND {
        return Err(HsmError::InvalidKeyToken);
    }
    Ok(h)
}

/// Seals `material` as a token of `T`'s kind for `key` under `domain`.
fn seal_kind<T: Sealed>(
    domain: &DomainKey,
    key: KeyRef,
    spec: KeySpecCode,
    material: &[u8],
    owner: Option<SuspensionOwner>,
) -> Result<T, HsmError> {
    if material.len() > MAX_MATERIAL {
        return Err(internal("key material too large for a token"));
    }
    let iv = Iv::random().map_err(internal)?;
    let mut out = Vec::with_capacity(V3_AAD_LEN + 12 + material.len() + 16);
    out.push(EKT_V3);
    out.push(T::KIND as u8);
    out.extend_from_slice(domain.id().as_bytes());
    out.extend_from_slice(&domain.generation().to_be_bytes());
    out.extend_from_slice(key.key_id.as_bytes());
    out.extend_from_slice(&key.version.to_be_bytes());
    out.push(spec as u8);
    out.push(u8::from(owner.is_some()));
    out.extend_from_slice(&owner.map_or([0; 32], |o| o.0));
    out.extend_from_slice(&(material.len() as u32).to_be_bytes());
    out.extend_from_slice(&iv.bytes());
    let mut sealed = Vec::with_capacity(material.len() + 16);
    domain
        .ekt_wrap()
        .seal_append(iv, &out[..V3_AAD_LEN], material, &mut sealed)
        .map_err(internal)?;
    out.extend_from_slice(&sealed);
    Ok(T::from_bytes(out))
}

/// Opens a token of `T`'s kind, checking it belongs to `domain`.
fn open_kind<T: Sealed>(domain: &DomainKey, t: &T) -> Result<Opened, HsmError> {
    let h = header(t)?;
    if h.domain != domain.id() || h.generation != domain.generation() {
        return Err(HsmError::InvalidKeyToken);
    }
    let spec = KeySpecCode::from_u8(h.spec).ok_or(HsmError::InvalidKeyToken)?;
    let b = t.bytes();
    let iv: [u8; 12] = b[h.aad_len..h.aad_len + 12].try_into().expect("12");
    let mut body = Zeroizing::new(b[h.aad_len + 12..].to_vec());
    let n = domain
        .ekt_wrap()
        .open_in_place(iv, &b[..h.aad_len], &mut body)
        .map_err(|_| HsmError::InvalidKeyToken)?
        .len();
    body.truncate(n);
    Ok(Opened {
        key: h.key,
        spec,
        owner: h.owner,
        material: body,
        legacy: b[0] != EKT_V3,
    })
}

/// Seals a key version's material (any length) as an EKT, bound to
/// `owner` when given.
pub(crate) fn seal_key(
    domain: &DomainKey,
    key: KeyRef,
    spec: KeySpecCode,
    material: &[u8],
    owner: Option<SuspensionOwner>,
) -> Result<Ekt, HsmError> {
    seal_kind(domain, key, spec, material, owner)
}

/// Re-seals a legacy (v1/v2) token's material under `domain`, still in the
/// legacy v2 layout (no kind, no owner): re-wrapping moves it to a new
/// domain-key generation without making it a current key token.
pub(crate) fn reseal_legacy(
    domain: &DomainKey,
    key: KeyRef,
    spec: KeySpecCode,
    material: &[u8],
) -> Result<Ekt, HsmError> {
    if material.len() > MAX_MATERIAL || key.version == 0 {
        return Err(HsmError::InvalidKeyToken);
    }
    let iv = Iv::random().map_err(internal)?;
    let mut out = Vec::with_capacity(V2_AAD_LEN + 12 + material.len() + 16);
    out.push(EKT_V2);
    out.extend_from_slice(domain.id().as_bytes());
    out.extend_from_slice(&domain.generation().to_be_bytes());
    out.extend_from_slice(key.key_id.as_bytes());
    out.extend_from_slice(&key.version.to_be_bytes());
    out.push(spec as u8);
    out.extend_from_slice(&(material.len() as u32).to_be_bytes());
    out.extend_from_slice(&iv.bytes());
    let mut sealed = Vec::with_capacity(material.len() + 16);
    domain
        .ekt_wrap()
        .seal_append(iv, &out[..V2_AAD_LEN], material, &mut sealed)
        .map_err(internal)?;
    out.extend_from_slice(&sealed);
    Ok(Ekt(out))
}

/// Opens an EKT (of the key kind only), checking it belongs to `domain`.
pub(crate) fn open_key(domain: &DomainKey, ekt: &Ekt) -> Result<Opened, HsmError> {
    open_kind(domain, ekt)
}

/// Seals key material of any length as an EKT with no suspension owner.
pub fn seal_material(
    domain: &DomainKey,
    key: KeyRef,
    spec: KeySpecCode,
    material: &[u8],
) -> Result<Ekt, HsmError> {
    seal_key(domain, key, spec, material, None)
}

/// Opens an EKT of any material length, checking it belongs to `domain`.
pub fn open_material(
    domain: &DomainKey,
    ekt: &Ekt,
) -> Result<(KeyRef, KeySpecCode, Zeroizing<Vec<u8>>), HsmError> {
    let o = open_key(domain, ekt)?;
    Ok((o.key, o.spec, o.material))
}

/// Seals `backing` as the EKT for `key` under `domain`, with no owner.
pub fn seal(
    domain: &DomainKey,
    key: KeyRef,
    spec: KeySpecCode,
    backing: &SecretKey256,
) -> Result<Ekt, HsmError> {
    seal_key(domain, key, spec, backing.expose(), None)
}

/// Opens an EKT holding a 256-bit key, checking it belongs to `domain`.
pub fn open(
    domain: &DomainKey,
    ekt: &Ekt,
) -> Result<(KeyRef, KeySpecCode, SecretKey256), HsmError> {
    let o = open_key(domain, ekt)?;
    let secret = o.secret()?;
    Ok((o.key, o.spec, secret))
}

/// Seals an import wrapping private key (PKCS#8) for `key_id`.
pub(crate) fn seal_wrapping_key(
    domain: &DomainKey,
    key_id: Uuid,
    spec: KeySpecCode,
    pkcs8: &[u8],
) -> Result<WrappingKeyEkt, HsmError> {
    let key = KeyRef { key_id, version: 0 };
    seal_kind(domain, key, spec, pkcs8, None)
}

/// Opens an import wrapping key, checking it belongs to `domain`.
pub(crate) fn open_wrapping_key(
    domain: &DomainKey,
    token: &WrappingKeyEkt,
) -> Result<Opened, HsmError> {
    open_kind(domain, token)
}

/// Seals a VOLATILE key as a transient token for the other members.
pub(crate) fn seal_transient(
    domain: &DomainKey,
    key: KeyRef,
    spec: KeySpecCode,
    secret: &SecretKey256,
) -> Result<TransientEkt, HsmError> {
    seal_kind(domain, key, spec, secret.expose(), None)
}

/// Opens a transient token, checking it belongs to `domain`.
pub(crate) fn open_transient(domain: &DomainKey, token: &TransientEkt) -> Result<Opened, HsmError> {
    open_kind(domain, token)
}

/// The domain and generation a token of `T`'s kind says it is sealed
/// under (unverified: opening it verifies). Refuses another kind at once.
pub(crate) fn domain_of_kind<T: Sealed>(t: &T) -> Result<(Uuid, u32), HsmError> {
    let h = header(t)?;
    Ok((h.domain, h.generation))
}

/// The domain and generation an EKT says it is sealed under (unverified:
/// opening it verifies).
pub fn domain_of(ekt: &Ekt) -> Result<(Uuid, u32), HsmError> {
    domain_of_kind(ekt)
}

/// The key spec an EKT says it holds (unverified: opening it verifies).
pub fn spec_of(ekt: &Ekt) -> Result<KeySpecCode, HsmError> {
    KeySpecCode::from_u8(header(ekt)?.spec).ok_or(HsmError::InvalidKeyToken)
}

#[cfg(test)]
#[path = "ekt_tests.rs"]
pub(crate) mod tests;
