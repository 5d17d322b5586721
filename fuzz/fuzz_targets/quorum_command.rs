//! Signed operator commands (hsm-proto admin.rs, checked by
//! crates/hsm/src/quorum.rs): any peer can send one to a module.
//! Input: a selector byte, then either an encoded `SignedCommand` (0) or a
//! command body that the fixed operator signs (1), so the fuzzer reaches
//! the decoding and the quorum logic behind the signature.
//! Asserts: never panics; a command re-encodes to one that decodes equal;
//! an accepted command carries a signature, is unexpired and expires
//! within seven days, and its body re-encodes equal; without its
//! signatures the same command is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strongroom_fuzz::{NOW, OPERATOR_KEY, OPERATORS, RULES};
use strongroom_hsm::fuzzing::quorum_verify;
use strongroom_hsm_proto::admin::{OperatorSignature, SignedCommand, decode, encode};

const SEVEN_DAYS: u64 = 7 * 24 * 3600;

fn check(cmd: &SignedCommand) {
    let Ok(body) = quorum_verify(cmd, NOW, &OPERATORS, &RULES) else {
        return;
    };
    assert!(!cmd.signatures.is_empty());
    assert!(body.expires_at >= NOW && body.expires_at <= NOW + SEVEN_DAYS);
    assert_eq!(SignedCommand::new(&body).decode_body(), Ok(body.clone()));
    let unsigned = SignedCommand {
        body: cmd.body.clone(),
        signatures: Vec::new(),
    };
    assert!(quorum_verify(&unsigned, NOW, &OPERATORS, &RULES).is_err());
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let Ok(cmd) = decode::<SignedCommand>(rest) else {
            return;
        };
        let again: SignedCommand = decode(&encode(&cmd)).expect("re-encoded command decodes");
        assert_eq!(again, cmd);
        check(&cmd);
    } else {
        let mut cmd = SignedCommand {
            body: rest.to_vec(),
            signatures: Vec::new(),
        };
        cmd.signatures.push(OperatorSignature {
            signing_key: OPERATOR_KEY.public_key().to_vec(),
            signature: OPERATOR_KEY.sign(&cmd.signing_bytes()).expect("sign"),
        });
        check(&cmd);
    }
});
