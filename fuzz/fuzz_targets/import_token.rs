//! Import tokens (crates/hsm/src/import.rs): GetParametersForImport hands
//! one to the caller, who sends it back with ImportKeyMaterial.
//! Input: a selector byte, then either a whole token (0) or a token body
//! that gets the fixed domain's valid MAC appended (1), so the fuzzer
//! reaches the decoding and checks behind the MAC.
//! Asserts: never panics; an accepted token names the fixed domain and
//! its wrapping key is of the wrapping-key kind (the opener takes no key
//! EKT, so a key's material can never stand in as a wrapping key); a
//! token whose MAC is changed in any one bit is refused; an accepted token
//! is refused once expired (`ExpiredImportToken`) and for another key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_fuzz::{DOMAIN, NOW};
use strongroom_hsm::fuzzing::{import_token_mac, import_token_open, import_token_valid_to};
use strongroom_hsm_proto::HsmError;
use uuid::Uuid;

/// The key id the seeds' tokens are bound to.
const KEY_ID: Uuid = Uuid::from_u128(0x1b0c_4e55);

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let token = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let mut t = rest.to_vec();
        t.extend_from_slice(&import_token_mac(&DOMAIN, rest));
        t
    };
    let Ok((domain, generation)) = import_token_open(&DOMAIN, &token, KEY_ID, NOW) else {
        return;
    };
    assert_eq!((domain, generation), (DOMAIN.id(), DOMAIN.generation()));
    let mut bad = token.clone();
    let last = bad.len() - 1 - usize::from(mode) % 32;
    bad[last] ^= 0x80;
    assert_eq!(
        import_token_open(&DOMAIN, &bad, KEY_ID, NOW).err(),
        Some(HsmError::InvalidImportToken)
    );
    assert_eq!(
        import_token_open(&DOMAIN, &token, Uuid::from_u128(0x07e4), NOW).err(),
        Some(HsmError::InvalidImportToken)
    );
    if let Some(later) = import_token_valid_to(&token).and_then(|t| t.checked_add(1)) {
        assert_eq!(
            import_token_open(&DOMAIN, &token, KEY_ID, later).err(),
            Some(HsmError::ExpiredImportToken)
        );
    }
});
