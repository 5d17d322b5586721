//! Domain tokens (crates/hsm/src/token.rs, hsm-proto admin.rs): modules
//! take them in from operators (IngestDomain, RecoverDomain) and operator
//! tools read them from disk.
//! Input: a selector byte, then either an encoded token (0) or a token
//! body that the fixed module signs and fingerprints (1), so the fuzzer
//! reaches the decoding behind the signature.
//! Asserts: never panics; an encoded token re-encodes to one that decodes
//! equal; a body signed by a trusted issuer verifies exactly when it
//! decodes and names that issuer, its fingerprint checks, and a verified
//! body re-encodes to one that decodes equal; unwrapping keys never
//! panics and yields only generations the token lists.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_fuzz::{DOMAIN, MODULE};
use strongroom_hsm::fuzzing::{
    token_check_fingerprint, token_fingerprint, token_unwrap, token_verify,
};
use strongroom_hsm_proto::admin::{
    DomainToken, DomainTokenBody, TOKEN_SIGNING_PREFIX, decode, encode, prefixed,
};

fn check_verified(token: &DomainToken, body: &DomainTokenBody) {
    let again: DomainTokenBody = decode(&encode(body)).expect("re-encoded body decodes");
    assert_eq!(&again, body);
    if let Ok(generations) = token_unwrap(&MODULE, body, token) {
        assert!(
            generations
                .iter()
                .all(|g| body.generations.iter().any(|x| x.number == *g))
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let trusted = [MODULE.member("fuzz")];
    if mode % 2 == 0 {
        let Ok(token) = decode::<DomainToken>(rest) else {
            return;
        };
        let again: DomainToken = decode(&encode(&token)).expect("re-encoded token decodes");
        assert_eq!(again, token);
        let _ = token_check_fingerprint(&DOMAIN, &token);
        for members in [None, Some(&trusted[..])] {
            if let Ok(body) = token_verify(&token, members) {
                check_verified(&token, &body);
            }
        }
    } else {
        let token = DomainToken {
            body: rest.to_vec(),
            signature: MODULE
                .signing
                .sign(&prefixed(TOKEN_SIGNING_PREFIX, rest))
                .expect("sign"),
            fingerprint: token_fingerprint(&DOMAIN, rest),
        };
        let decoded = token.decode_body();
        let verified = token_verify(&token, Some(&trusted));
        match &decoded {
            Ok(b) if b.issuer == MODULE.id => {
                let body = verified.expect("a well-signed token from a trusted issuer verifies");
                assert_eq!(&body, b);
                token_check_fingerprint(&DOMAIN, &token).expect("fingerprint checks");
                check_verified(&token, &body);
            }
            _ => assert!(
                verified.is_err(),
                "verified a token the trusted issuer did not sign"
            ),
        }
    }
});
