//! Exported key tokens, format version 1 (docs/formats.md).
//!
//! ```text
//! offset len  field
//! 0      1    format version (0x01)
//! 1      16   domain id
//! 17     4    domain key generation, big-endian
//! 21     16   key UUID
//! 37     4    key version, big-endian
//! 41     1    key spec code
//! 42     12   AES-GCM IV
//! 54     32   sealed backing key
//! 86     16   AES-GCM tag
//! ```
//! AAD is bytes 0..42, so every bound field is authenticated.
//!
//! Version 2 carries key material of any length (asymmetric private keys
//! as PKCS#8): bytes 0..42 as in v1 but with version 0x02, then a u32 BE
//! material length L at 42..46, the IV at 46..58, and L + 16 bytes of
//! sealed material and tag. AAD is bytes 0..46.

use strongroom_crypto::{Iv, SecretKey256};
use strongroom_hsm_proto::{Ekt, HsmError, KeyRef, KeySpecCode};
use uuid::Uuid;

use crate::DomainKey;

const EKT_V1: u8 = 0x01;
const EKT_V2: u8 = 0x02;
const V2_AAD_LEN: usize = 46;
/// Largest material a v2 EKT carries (an RSA-4096 PKCS#8 is ~2.4 KiB).
const V2_MAX_MATERIAL: usize = 16 * 1024;

/// Checks an EKT's shape (v1 or v2) before its header is read.
fn shape(b: &[u8]) -> Result<(), HsmError> {
    let ok = match b.first() {
        Some(&EKT_V1) => b.len() == EKT_LEN,
        Some(&EKT_V2) if b.len() >= V2_AAD_LEN + 12 + 16 => {
            let l = u32::from_be_bytes(b[42..46].try_into().expect("4")) as usize;
            l <= V2_MAX_MATERIAL && b.len() == V2_AAD_LEN + 12 + l + 16
        }
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(HsmError::InvalidKeyToken)
    }
}

/// Seals key material of any length as a v2 EKT.
pub fn seal_material(
    domain: &DomainKey,
    key: KeyRef,
    spec: KeySpecCode,
    material: &[u8],
) -> Result<Ekt, HsmError> {
    if material.len() > V2_MAX_MATERIAL {
        return Err(HsmError::Internal(
            "key material too large for an EKT".into(),
        ));
    }
    let iv = Iv::random().map_err(|e| HsmError::Internal(e.to_string()))?;
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
        .map_err(|e| HsmError::Internal(e.to_string()))?;
    out.extend_from_slice(&sealed);
    Ok(Ekt(out))
}

/// Opens a v2 EKT, checking it belongs to `domain`.
pub fn open_material(
    domain: &DomainKey,
    ekt: &Ekt,
) -> Result<(KeyRef, KeySpecCode, zeroize::Zeroizing<Vec<u8>>), HsmError> {
    let b = &ekt.0;
    shape(b)?;
    if b[0] != EKT_V2 {
        return Err(HsmError::InvalidKeyToken);
    }
    let (key, spec) = bound_fields(domain, b)?;
    let iv: [u8; 12] = b[46..58].try_into().expect("12");
    let mut body = zeroize::Zeroizing::new(b[58..].to_vec());
    let n = domain
        .ekt_wrap()
        .open_in_place(iv, &b[..V2_AAD_LEN], &mut body)
        .map_err(|_| HsmError::InvalidKeyToken)?
        .len();
    body.truncate(n);
    Ok((key, spec, body))
}

/// Domain check and the key and spec an EKT's header names.
fn bound_fields(domain: &DomainKey, b: &[u8]) -> Result<(KeyRef, KeySpecCode), HsmError> {
    let domain_id = Uuid::from_bytes(b[1..17].try_into().expect("16"));
    let generation = u32::from_be_bytes(b[17..21].try_into().expect("4"));
    if domain_id != domain.id() || generation != domain.generation() {
        return Err(HsmError::InvalidKeyToken);
    }
    let key = KeyRef {
        key_id: Uuid::from_bytes(b[21..37].try_into().expect("16")),
        version: u32::from_be_bytes(b[37..41].try_into().expect("4")),
    };
    let spec = KeySpecCode::from_u8(b[41]).ok_or(HsmError::InvalidKeyToken)?;
    Ok((key, spec))
}
const AAD_LEN: usize = 42;
const EKT_LEN: usize = AAD_LEN + 12 + 32 + 16;

/// Seals `backing` as the EKT for `key` under `domain`.
pub fn seal(
    domain: &DomainKey,
    key: KeyRef,
    spec: KeySpecCode,
    backing: &SecretKey256,
) -> Result<Ekt, HsmError> {
    let iv = Iv::random().map_err(|e| HsmError::Internal(e.to_string()))?;
    let mut out = Vec::with_capacity(EKT_LEN);
    out.push(EKT_V1);
    out.extend_from_slice(domain.id().as_bytes());
    out.extend_from_slice(&domain.generation().to_be_bytes());
    out.extend_from_slice(key.key_id.as_bytes());
    out.extend_from_slice(&key.version.to_be_bytes());
    out.push(spec as u8);
    out.extend_from_slice(&iv.bytes());
    let mut sealed = Vec::with_capacity(48);
    domain
        .ekt_wrap()
        .seal_append(iv, &out[..AAD_LEN], backing.expose(), &mut sealed)
        .map_err(|e| HsmError::Internal(e.to_string()))?;
    out.extend_from_slice(&sealed);
    Ok(Ekt(out))
}

/// The domain and generation an EKT says it is sealed under (unverified:
/// opening it verifies).
pub fn domain_of(ekt: &Ekt) -> Result<(Uuid, u32), HsmError> {
    let b = &ekt.0;
    shape(b)?;
    let id = Uuid::from_slice(&b[1..17]).map_err(|_| HsmError::InvalidKeyToken)?;
    let generation = u32::from_be_bytes(
        b[17..21]
            .try_into()
            .map_err(|_| HsmError::InvalidKeyToken)?,
    );
    Ok((id, generation))
}

/// The key spec an EKT says it holds (unverified: opening it verifies).
pub fn spec_of(ekt: &Ekt) -> Result<KeySpecCode, HsmError> {
    let b = &ekt.0;
    shape(b)?;
    KeySpecCode::from_u8(b[41]).ok_or(HsmError::InvalidKeyToken)
}

/// Opens an EKT, checking it belongs to `domain`.
pub fn open(
    domain: &DomainKey,
    ekt: &Ekt,
) -> Result<(KeyRef, KeySpecCode, SecretKey256), HsmError> {
    let b = &ekt.0;
    if b.len() != EKT_LEN || b[0] != EKT_V1 {
        return Err(HsmError::InvalidKeyToken);
    }
    let (key, spec) = bound_fields(domain, b)?;
    let iv: [u8; 12] = b[42..54].try_into().expect("12");
    let mut body = zeroize::Zeroizing::new(b[54..].to_vec());
    let plain = domain
        .ekt_wrap()
        .open_in_place(iv, &b[..AAD_LEN], &mut body)
        .map_err(|_| HsmError::InvalidKeyToken)?;
    let backing = SecretKey256::from_slice(plain).map_err(|_| HsmError::InvalidKeyToken)?;
    Ok((key, spec, backing))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> KeyRef {
        KeyRef {
            key_id: Uuid::new_v4(),
            version: 3,
        }
    }

    #[test]
    fn round_trip() {
        let d = DomainKey::generate().unwrap();
        let k = key();
        let bk = SecretKey256::generate().unwrap();
        let e = seal(&d, k, KeySpecCode::SymmetricDefault, &bk).unwrap();
        assert_eq!(e.0.len(), EKT_LEN);
        let (k2, spec, bk2) = open(&d, &e).unwrap();
        assert_eq!(k2, k);
        assert_eq!(spec, KeySpecCode::SymmetricDefault);
        assert_eq!(bk2.expose(), bk.expose());
    }

    #[test]
    fn every_bit_flip_is_rejected() {
        let d = DomainKey::generate().unwrap();
        let e = seal(
            &d,
            key(),
            KeySpecCode::SymmetricDefault,
            &SecretKey256::generate().unwrap(),
        )
        .unwrap();
        for i in 0..e.0.len() {
            for bit in [0x01u8, 0x80] {
                let mut t = e.clone();
                t.0[i] ^= bit;
                assert_eq!(
                    open(&d, &t).unwrap_err(),
                    HsmError::InvalidKeyToken,
                    "byte {i}"
                );
            }
        }
        let mut short = e.clone();
        short.0.pop();
        assert!(open(&d, &short).is_err());
    }

    #[test]
    fn other_domain_or_generation_is_rejected() {
        let d = DomainKey::generate().unwrap();
        let e = seal(
            &d,
            key(),
            KeySpecCode::SymmetricDefault,
            &SecretKey256::generate().unwrap(),
        )
        .unwrap();
        let other = DomainKey::generate().unwrap();
        assert!(open(&other, &e).is_err());
        let same_id_next_gen = DomainKey::from_parts(d.id(), 2, d.root().duplicate()).unwrap();
        assert!(open(&same_id_next_gen, &e).is_err());
    }
}

#[cfg(test)]
mod v2_tests {
    use super::*;

    #[test]
    fn variable_length_material_round_trips_and_every_flip_fails() {
        let d = DomainKey::generate().unwrap();
        let k = KeyRef {
            key_id: Uuid::new_v4(),
            version: 3,
        };
        let material = (0..300u16).map(|i| i as u8).collect::<Vec<_>>();
        let e = seal_material(&d, k, KeySpecCode::SymmetricDefault, &material).unwrap();
        let (k2, spec, m) = open_material(&d, &e).unwrap();
        assert_eq!(
            (k2, spec, &m[..]),
            (k, KeySpecCode::SymmetricDefault, &material[..])
        );
        assert_eq!(domain_of(&e).unwrap(), (d.id(), 1));
        for i in 0..e.0.len() {
            let mut bad = e.clone();
            bad.0[i] ^= 1;
            assert!(open_material(&d, &bad).is_err(), "flip at {i}");
        }
        assert!(open_material(&d, &Ekt(e.0[..e.0.len() - 1].to_vec())).is_err());
        assert!(open_material(&DomainKey::generate().unwrap(), &e).is_err());
        // A v1 opener refuses a v2 token and vice versa.
        assert!(open(&d, &e).is_err());
    }
}
