use super::*;

fn key() -> KeyRef {
    KeyRef {
        key_id: Uuid::new_v4(),
        version: 3,
    }
}

/// A token in the pre-kind formats (v1: 32-byte material; v2: any length),
/// as older modules sealed them.
pub(crate) fn legacy(
    domain: &DomainKey,
    key: KeyRef,
    spec: KeySpecCode,
    material: &[u8],
    v2: bool,
) -> Ekt {
    let mut out = vec![if v2 { EKT_V2 } else { EKT_V1 }];
    out.extend_from_slice(domain.id().as_bytes());
    out.extend_from_slice(&domain.generation().to_be_bytes());
    out.extend_from_slice(key.key_id.as_bytes());
    out.extend_from_slice(&key.version.to_be_bytes());
    out.push(spec as u8);
    if v2 {
        out.extend_from_slice(&(material.len() as u32).to_be_bytes());
    }
    let aad = out.len();
    let iv = Iv::random().unwrap();
    out.extend_from_slice(&iv.bytes());
    let mut sealed = Vec::new();
    domain
        .ekt_wrap()
        .seal_append(iv, &out[..aad], material, &mut sealed)
        .unwrap();
    out.extend_from_slice(&sealed);
    Ekt(out)
}

#[test]
fn round_trip() {
    let d = DomainKey::generate().unwrap();
    let k = key();
    let bk = SecretKey256::generate().unwrap();
    let e = seal(&d, k, KeySpecCode::SymmetricDefault, &bk).unwrap();
    let (k2, spec, bk2) = open(&d, &e).unwrap();
    assert_eq!(k2, k);
    assert_eq!(spec, KeySpecCode::SymmetricDefault);
    assert_eq!(bk2.expose(), bk.expose());
    assert_eq!(domain_of(&e).unwrap(), (d.id(), 1));
}

#[test]
fn every_bit_flip_is_rejected() {
    let d = DomainKey::generate().unwrap();
    let owner = Some(SuspensionOwner([7; 32]));
    let e = seal_key(&d, key(), KeySpecCode::SymmetricDefault, &[9; 32], owner).unwrap();
    for i in 0..e.0.len() {
        for bit in [0x01u8, 0x80] {
            let mut t = e.clone();
            t.0[i] ^= bit;
            assert!(open_key(&d, &t).is_err(), "byte {i}");
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

#[test]
fn variable_length_material_round_trips_with_its_owner() {
    let d = DomainKey::generate().unwrap();
    let k = key();
    let material = (0..300u16).map(|i| i as u8).collect::<Vec<_>>();
    let owner = SuspensionOwner::of_public_key(b"an owner's spki");
    let e = seal_key(&d, k, KeySpecCode::Rsa2048, &material, Some(owner)).unwrap();
    let o = open_key(&d, &e).unwrap();
    assert_eq!(
        (o.key, o.spec, o.owner),
        (k, KeySpecCode::Rsa2048, Some(owner))
    );
    assert_eq!(&o.material[..], &material[..]);
    assert!(open(&d, &e).is_err(), "not a 256-bit key");
}

#[test]
fn swapping_the_owner_in_the_header_fails_to_unwrap() {
    let d = DomainKey::generate().unwrap();
    let real = SuspensionOwner([1; 32]);
    let e = seal_key(
        &d,
        key(),
        KeySpecCode::SymmetricDefault,
        &[3; 32],
        Some(real),
    )
    .unwrap();
    let mut swapped = e.clone();
    swapped.0[44..76].copy_from_slice(&[2; 32]);
    assert_eq!(
        open_key(&d, &swapped).err(),
        Some(HsmError::InvalidKeyToken)
    );
    let mut dropped = e.clone();
    dropped.0[43] = 0;
    dropped.0[44..76].copy_from_slice(&[0; 32]);
    assert_eq!(
        open_key(&d, &dropped).err(),
        Some(HsmError::InvalidKeyToken)
    );
}

#[test]
fn a_wrapping_key_never_opens_as_a_key_even_with_its_kind_byte_changed() {
    let d = DomainKey::generate().unwrap();
    let id = Uuid::new_v4();
    let w = seal_wrapping_key(&d, id, KeySpecCode::Rsa2048, &[5; 200]).unwrap();
    assert_eq!(open_wrapping_key(&d, &w).unwrap().material.len(), 200);
    // The same bytes presented as an EKT: refused by kind, before the AEAD.
    let as_key = Ekt(w.bytes().to_vec());
    assert_eq!(domain_of(&as_key).err(), Some(HsmError::InvalidKeyToken));
    assert_eq!(open_key(&d, &as_key).err(), Some(HsmError::InvalidKeyToken));
    // With the kind byte rewritten: the AEAD refuses.
    let mut relabelled = as_key.clone();
    relabelled.0[1] = Kind::Key as u8;
    assert_eq!(
        open_key(&d, &relabelled).err(),
        Some(HsmError::InvalidKeyToken)
    );
    // And a key never opens as a wrapping key.
    let k = seal_material(&d, key(), KeySpecCode::Rsa2048, &[5; 200]).unwrap();
    assert!(open_wrapping_key(&d, &WrappingKeyEkt(k.0)).is_err());
}

#[test]
fn a_transient_token_never_opens_as_a_key_and_a_key_never_installs() {
    let d = DomainKey::generate().unwrap();
    let k = key();
    let secret = SecretKey256::generate().unwrap();
    let t = seal_transient(&d, k, KeySpecCode::SymmetricDefault, &secret).unwrap();
    assert_eq!(
        open_transient(&d, &t).unwrap().secret().unwrap().expose(),
        secret.expose()
    );
    let as_key = Ekt(t.0.clone());
    assert!(open(&d, &as_key).is_err());
    let mut relabelled = as_key;
    relabelled.0[1] = Kind::Key as u8;
    assert!(open(&d, &relabelled).is_err());
    let ekt = seal(&d, k, KeySpecCode::SymmetricDefault, &secret).unwrap();
    assert!(open_transient(&d, &TransientEkt(ekt.0)).is_err());
}

#[test]
fn legacy_tokens_open_as_keys_without_owner_but_never_version_zero() {
    let d = DomainKey::generate().unwrap();
    let k = key();
    let v1 = legacy(&d, k, KeySpecCode::SymmetricDefault, &[4; 32], false);
    let (k1, _, s) = open(&d, &v1).unwrap();
    assert_eq!((k1, *s.expose()), (k, [4; 32]));
    let v2 = legacy(&d, k, KeySpecCode::Rsa2048, &[6; 100], true);
    let o = open_key(&d, &v2).unwrap();
    assert_eq!((o.key, o.owner, o.material.len()), (k, None, 100));
    // Old import tokens sealed their wrapping key as version 0 in v2.
    let zero = KeyRef {
        key_id: k.key_id,
        version: 0,
    };
    let old_wrapping = legacy(&d, zero, KeySpecCode::Rsa2048, &[6; 100], true);
    assert_eq!(
        open_key(&d, &old_wrapping).err(),
        Some(HsmError::InvalidKeyToken)
    );
    // Legacy bytes never pass for another kind.
    assert!(open_transient(&d, &TransientEkt(v1.0)).is_err());
    assert!(open_wrapping_key(&d, &WrappingKeyEkt(v2.0)).is_err());
}
