//! Exported key tokens (crates/hsm/src/ekt.rs, format v3 with kinds; v1
//! and v2 key EKTs still open): the module opens EKTs that the frontend
//! stores in its database and sends with every request, import wrapping
//! keys inside import tokens, and VOLATILE keys' transient tokens.
//! Input: a token, opened with the opener of every kind.
//! Asserts: never panics; at most one kind's opener accepts a token (a
//! token of one kind never opens as another); a key EKT that opens names
//! the fixed domain in its unverified header, both public readers agree
//! with the key opener, and it re-seals (same kind, owner) to one that
//! opens to the same key, spec, owner and material; the input's bytes
//! sealed as each kind open back to themselves with that kind's opener
//! only, and any one-bit change of the sealed token is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_fuzz::DOMAIN;
use strongroom_hsm::fuzzing::{EktKind, ekt_header, ekt_open, ekt_open_public, ekt_seal};
use strongroom_hsm_proto::{Ekt, KeyRef, KeySpecCode};
use uuid::Uuid;

const KINDS: [EktKind; 3] = [EktKind::Key, EktKind::WrappingKey, EktKind::Transient];

fuzz_target!(|data: &[u8]| {
    let opened: Vec<_> = KINDS
        .iter()
        .map(|&k| (k, ekt_open(&DOMAIN, k, data)))
        .collect();
    assert!(
        opened.iter().filter(|(_, r)| r.is_ok()).count() <= 1,
        "a token opened as two kinds"
    );
    let ekt = Ekt(data.to_vec());
    let (domain, spec) = ekt_header(&ekt);
    let (fixed, any_len) = ekt_open_public(&DOMAIN, &ekt);
    match &opened[0].1 {
        Ok(o) => {
            assert_eq!(domain, Ok((DOMAIN.id(), DOMAIN.generation())));
            assert_eq!(spec, Ok(o.spec));
            let (k, s, m) = any_len.as_ref().expect("material reader agrees");
            assert_eq!((*k, *s, &m[..]), (o.key, o.spec, &o.material[..]));
            assert_eq!(fixed.is_ok(), o.material.len() == 32);
        }
        Err(_) => assert!(fixed.is_err() && any_len.is_err()),
    }
    for (kind, r) in &opened {
        let Ok(o) = r else { continue };
        let Ok(again) = ekt_seal(&DOMAIN, *kind, o.key, o.spec, &o.material, o.owner) else {
            // Only a transient token's material has a fixed length.
            assert!(*kind == EktKind::Transient && o.material.len() != 32);
            continue;
        };
        let back = ekt_open(&DOMAIN, *kind, &again).expect("re-sealed token opens");
        assert_eq!(&back, o);
    }

    // The input as key material: sealing and opening round-trips for
    // every kind, only that kind's opener takes it, and every bit of the
    // result is authenticated.
    let material = &data[..data.len().min(16 * 1024)];
    let key = KeyRef {
        key_id: Uuid::from_u128(data.len() as u128),
        version: data.len() as u32 | 1,
    };
    let spec = data
        .first()
        .and_then(|&b| KeySpecCode::from_u8(b))
        .unwrap_or(KeySpecCode::SymmetricDefault);
    let owner = data
        .get(1..33)
        .map(|o| <[u8; 32]>::try_from(o).expect("32"));
    for kind in KINDS {
        let (material, owner, key) = match kind {
            EktKind::Key => (material, owner, key),
            EktKind::WrappingKey => (material, None, KeyRef { version: 0, ..key }),
            EktKind::Transient if material.len() >= 32 => (&material[..32], None, key),
            EktKind::Transient => continue,
        };
        let sealed = ekt_seal(&DOMAIN, kind, key, spec, material, owner).expect("seal");
        for other in KINDS {
            let r = ekt_open(&DOMAIN, other, &sealed);
            if other == kind {
                let o = r.expect("opens as its kind");
                assert_eq!(
                    (o.key, o.spec, o.owner, &o.material[..]),
                    (key, spec, owner, material)
                );
            } else {
                assert!(r.is_err(), "{kind:?} opened as {other:?}");
            }
        }
        let mut flipped = sealed.clone();
        let i = data.iter().map(|&b| b as usize).sum::<usize>() % flipped.len();
        flipped[i] ^= 1 << (data.len() % 8);
        assert!(ekt_open(&DOMAIN, kind, &flipped).is_err(), "flip at {i}");
    }
});
