//! Public keys of customer signing keys, parsed once and kept for
//! verification outside the module (AWS allows Verify offline with the
//! public key: it needs no secret).

use std::sync::OnceLock;

use aws_lc_rs::signature::{ParsedPublicKey, VerificationAlgorithm};

use crate::customer_keys::check;
use crate::{AsymmetricSpec, CryptoError, SignInput, SigningAlgorithm, ml_dsa, verify_signature};

/// Signing algorithms there are (the length of [`VerifyingKey`]'s table).
const ALGORITHMS: usize = SigningAlgorithm::ALL.len();

/// A signing key's public half (DER SubjectPublicKeyInfo), with the parsed
/// key for each algorithm it has been used with. Verification gives the
/// same answers as [`verify_signature`], without parsing the key each time.
pub struct VerifyingKey {
    spec: AsymmetricSpec,
    spki: Vec<u8>,
    /// By `SigningAlgorithm` (each parses the key under its own parameters);
    /// `None` once parsing failed.
    parsed: [OnceLock<Option<ParsedPublicKey>>; ALGORITHMS],
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VerifyingKey({:?})", self.spec)
    }
}

fn index(alg: SigningAlgorithm) -> usize {
    use SigningAlgorithm::*;
    match alg {
        RsaPssSha256 => 0,
        RsaPssSha384 => 1,
        RsaPssSha512 => 2,
        RsaPkcs1Sha256 => 3,
        RsaPkcs1Sha384 => 4,
        RsaPkcs1Sha512 => 5,
        EcdsaSha256 => 6,
        EcdsaSha384 => 7,
        EcdsaSha512 => 8,
        Ed25519Sha512 => 9,
        MlDsaShake256 => 10,
    }
}

/// The verification algorithm for `alg` with a key of `spec`, when the
/// key is parsed ahead (RSA, ECDSA and ML-DSA; Ed25519 keys are 32 bytes
/// and cost nothing to take each time).
fn verification(
    spec: AsymmetricSpec,
    alg: SigningAlgorithm,
) -> Option<&'static dyn VerificationAlgorithm> {
    if let Some(params) = alg.rsa_verification() {
        return Some(params);
    }
    if let Some(v) = ml_dsa::verification(spec) {
        return Some(v);
    }
    spec.ecdsa_verification()
        .map(|v| v as &'static dyn VerificationAlgorithm)
}

impl VerifyingKey {
    /// The public key `spki` of a `spec` signing key; fails if it does not
    /// parse as one.
    pub fn new(spec: AsymmetricSpec, spki: Vec<u8>) -> Result<Self, CryptoError> {
        let key = Self {
            spec,
            spki,
            parsed: Default::default(),
        };
        let first = *spec
            .signing_algorithms()
            .first()
            .ok_or(CryptoError::InvalidKey)?;
        if verification(spec, first).is_some() && key.parsed(first).is_none() {
            return Err(CryptoError::InvalidKey);
        }
        Ok(key)
    }

    /// The spec.
    pub fn spec(&self) -> AsymmetricSpec {
        self.spec
    }

    /// The public key, DER SubjectPublicKeyInfo.
    pub fn public_key(&self) -> &[u8] {
        &self.spki
    }

    fn parsed(&self, alg: SigningAlgorithm) -> Option<&ParsedPublicKey> {
        self.parsed[index(alg)]
            .get_or_init(|| {
                let v = verification(self.spec, alg)?;
                ParsedPublicKey::new(v, &self.spki).ok()
            })
            .as_ref()
    }

    /// Whether `sig` is a valid `alg` signature over `input` by this key.
    pub fn verify(&self, alg: SigningAlgorithm, input: SignInput<'_>, sig: &[u8]) -> bool {
        if check(self.spec, alg).is_err() {
            return false;
        }
        if verification(self.spec, alg).is_none() {
            return verify_signature(self.spec, &self.spki, alg, input, sig);
        }
        let Some(key) = self.parsed(alg) else {
            return false;
        };
        if !alg.takes_digest() {
            // ML-DSA verifies the message itself.
            return matches!(input, SignInput::Raw(m) if key.verify_sig(m, sig).is_ok());
        }
        alg.digest_of(input)
            .is_ok_and(|digest| key.verify_digest_sig(&digest, sig).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AsymmetricKey;

    /// Every spec and algorithm: the parsed key answers as the module's
    /// verification does, for a valid, a tampered and a wrong-message
    /// signature, raw and as a digest.
    #[test]
    fn parsed_keys_answer_as_verify_signature_does() {
        use AsymmetricSpec::*;
        for spec in [
            Rsa2048,
            EccNistP256,
            EccNistP384,
            EccNistP521,
            EccSecgP256k1,
            Ed25519,
            MlDsa44,
            MlDsa65,
            MlDsa87,
        ] {
            let pair = AsymmetricKey::generate(spec).unwrap();
            let key = VerifyingKey::new(spec, pair.public_key().to_vec()).unwrap();
            for &alg in spec.signing_algorithms() {
                let message = b"the message";
                let sig = pair.sign(alg, SignInput::Raw(message)).unwrap();
                let mut tampered = sig.clone();
                tampered[sig.len() / 2] ^= 1;
                for (input, s) in [
                    (SignInput::Raw(message), &sig),
                    (SignInput::Raw(b"another message"), &sig),
                    (SignInput::Raw(message), &tampered),
                ] {
                    let expected = verify_signature(spec, pair.public_key(), alg, input, s);
                    assert_eq!(key.verify(alg, input, s), expected, "{spec:?} {alg:?}");
                }
                assert!(key.verify(alg, SignInput::Raw(message), &sig));
                if alg.takes_digest() {
                    let d = aws_lc_rs::digest::digest(alg.digest().unwrap(), message);
                    assert!(key.verify(alg, SignInput::Digest(d.as_ref()), &sig));
                    assert!(!key.verify(alg, SignInput::Digest(&d.as_ref()[1..]), &sig));
                }
            }
        }
    }

    #[test]
    fn an_algorithm_of_another_spec_never_verifies() {
        let pair = AsymmetricKey::generate(AsymmetricSpec::EccNistP256).unwrap();
        let key =
            VerifyingKey::new(AsymmetricSpec::EccNistP256, pair.public_key().to_vec()).unwrap();
        let sig = pair
            .sign(SigningAlgorithm::EcdsaSha256, SignInput::Raw(b"m"))
            .unwrap();
        assert!(!key.verify(SigningAlgorithm::RsaPssSha256, SignInput::Raw(b"m"), &sig));
        assert!(!key.verify(SigningAlgorithm::EcdsaSha384, SignInput::Raw(b"m"), &sig));
    }

    #[test]
    fn a_malformed_public_key_is_refused() {
        assert!(VerifyingKey::new(AsymmetricSpec::Rsa2048, vec![0x30, 0x03, 1, 2, 3]).is_err());
        assert!(VerifyingKey::new(AsymmetricSpec::EccNistP256, vec![]).is_err());
    }
}
