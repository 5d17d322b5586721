//! Exported key tokens (crates/hsm/src/ekt.rs): the module opens EKTs that
//! the frontend stores in its database and sends with every request.
//! Input: an EKT. Asserts: never panics; v1 and v2 readers never both
//! accept; an EKT that opens names the fixed domain in its unverified
//! header and re-seals to one that opens to the same key; the input's
//! bytes sealed as material open back to themselves, and any one-bit
//! change of that sealed EKT is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_fuzz::DOMAIN;
use strongroom_hsm::fuzzing::{
    ekt_header, ekt_open, ekt_open_material, ekt_seal, ekt_seal_material,
};
use strongroom_hsm_proto::{Ekt, KeyRef, KeySpecCode};
use uuid::Uuid;

fuzz_target!(|data: &[u8]| {
    let ekt = Ekt(data.to_vec());
    let (domain, spec) = ekt_header(&ekt);
    let v1 = ekt_open(&DOMAIN, &ekt);
    let v2 = ekt_open_material(&DOMAIN, &ekt);
    assert!(v1.is_err() || v2.is_err(), "both EKT versions accepted");
    if let Ok((key, s, material)) = &v1 {
        assert_eq!(domain, Ok((DOMAIN.id(), DOMAIN.generation())));
        assert_eq!(spec, Ok(*s));
        let backing: [u8; 32] = material[..].try_into().expect("v1 holds 32 bytes");
        let again = ekt_seal(&DOMAIN, *key, *s, &backing).expect("seal");
        let (k2, s2, m2) = ekt_open(&DOMAIN, &again).expect("re-sealed EKT opens");
        assert_eq!((k2, s2, &m2[..]), (*key, *s, &material[..]));
    }
    if let Ok((key, s, material)) = &v2 {
        assert_eq!(domain, Ok((DOMAIN.id(), DOMAIN.generation())));
        assert_eq!(spec, Ok(*s));
        let again = ekt_seal_material(&DOMAIN, *key, *s, material).expect("seal");
        let (k2, s2, m2) = ekt_open_material(&DOMAIN, &again).expect("re-sealed EKT opens");
        assert_eq!((k2, s2, &m2[..]), (*key, *s, &material[..]));
    }

    // The input as key material: sealing and opening round-trips, and
    // every bit of the result is authenticated.
    let material = &data[..data.len().min(16 * 1024)];
    let key = KeyRef {
        key_id: Uuid::from_u128(data.len() as u128),
        version: data.len() as u32,
    };
    let spec = data
        .first()
        .and_then(|&b| KeySpecCode::from_u8(b))
        .unwrap_or(KeySpecCode::SymmetricDefault);
    let sealed = ekt_seal_material(&DOMAIN, key, spec, material).expect("seal");
    let (k2, s2, m2) = ekt_open_material(&DOMAIN, &sealed).expect("opens");
    assert_eq!((k2, s2, &m2[..]), (key, spec, material));
    let mut flipped = sealed.clone();
    let i = data.iter().map(|&b| b as usize).sum::<usize>() % flipped.0.len();
    flipped.0[i] ^= 1 << (data.len() % 8);
    assert!(ekt_open_material(&DOMAIN, &flipped).is_err(), "flip at {i}");
    assert!(
        ekt_open(&DOMAIN, &sealed).is_err(),
        "v1 reader took a v2 EKT"
    );
});
