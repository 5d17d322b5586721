//! Fixtures shared by the fuzz targets: fixed keys made once per process,
//! so a target reaches the decoding code behind a MAC or a signature, and
//! a tiny splitter for inputs that carry several fields.

use std::sync::LazyLock;

use strongroom_crypto::{SecretKey256, SigningKeyPair};
use strongroom_hsm::DomainKey;
use strongroom_hsm::identity::Identity;
use strongroom_hsm_proto::admin::{Operator, QuorumRule, permission};
use uuid::Uuid;

/// "Now" for every target that checks an expiry (2023-11-14).
pub const NOW: u64 = 1_700_000_000;

/// The domain every target's EKTs, tokens and import tokens belong to.
pub static DOMAIN: LazyLock<DomainKey> = LazyLock::new(|| {
    let root = SecretKey256::from_slice(&[7; 32]).expect("32 bytes");
    DomainKey::from_parts(Uuid::from_u128(0x5eed_d0a1), 1, root).expect("domain key")
});

/// The module identity that issues and receives the fuzzed tokens.
pub static MODULE: LazyLock<Identity> =
    LazyLock::new(|| Identity::generate().expect("module identity"));

/// One operator key, holding every permission.
pub static OPERATOR_KEY: LazyLock<SigningKeyPair> =
    LazyLock::new(|| SigningKeyPair::generate().expect("operator key"));

/// The domain's operators: [`OPERATOR_KEY`] only.
pub static OPERATORS: LazyLock<Vec<Operator>> = LazyLock::new(|| {
    vec![Operator {
        name: "fuzz".into(),
        signing_key: OPERATOR_KEY.public_key().to_vec(),
        agreement_key: MODULE.agreement.public_key().to_vec(),
        permissions: permission::ALL,
    }]
});

/// One signature suffices for every command.
pub static RULES: LazyLock<Vec<QuorumRule>> = LazyLock::new(|| QuorumRule::uniform(1));

/// The MAC key of authentication proofs.
pub const PROOF_KEY: [u8; 32] = [0x42; 32];

/// Splits `data` at the first `0xff` byte: `(head, rest)`; the whole input
/// is the head when there is none. Lets one input carry two fields while
/// keeping the seeds readable.
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0xff) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

/// Splits a text input at newlines into at most `n` fields (the last takes
/// the rest); missing fields are empty.
pub fn fields(text: &str, n: usize) -> Vec<&str> {
    let mut out: Vec<&str> = text.splitn(n, '\n').collect();
    out.resize(n, "");
    out
}
