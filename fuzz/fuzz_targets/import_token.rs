//! Import tokens (crates/hsm/src/import.rs): GetParametersForImport hands
//! one to the caller, who sends it back with ImportKeyMaterial.
//! Input: a selector byte, then either a whole token (0) or a token body
//! that gets the fixed domain's valid MAC appended (1), so the fuzzer
//! reaches the decoding and checks behind the MAC.
//! Asserts: never panics; an accepted token names the fixed domain; a
//! token whose MAC is changed in any one bit is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_fuzz::{DOMAIN, NOW};
use strongroom_hsm::fuzzing::{import_token_mac, import_token_open};
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
});
