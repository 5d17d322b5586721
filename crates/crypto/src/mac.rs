//! HMAC with SHA-224/256/384/512 for HMAC KMS keys, whose key material is
//! derived inside the module from a 256-bit seed.

use aws_lc_rs::hkdf::{HKDF_SHA256, KeyType, Salt};
use aws_lc_rs::hmac;
use zeroize::Zeroizing;

use crate::CryptoError;

/// The HMAC variants AWS KMS offers (`HMAC_224` … `HMAC_512`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HmacAlgorithm {
    /// HMAC-SHA-224, 224-bit key.
    Sha224,
    /// HMAC-SHA-256, 256-bit key.
    Sha256,
    /// HMAC-SHA-384, 384-bit key.
    Sha384,
    /// HMAC-SHA-512, 512-bit key.
    Sha512,
}

impl HmacAlgorithm {
    /// Key (and tag) length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::Sha224 => 28,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    fn aws_lc(self) -> hmac::Algorithm {
        match self {
            Self::Sha224 => hmac::HMAC_SHA224,
            Self::Sha256 => hmac::HMAC_SHA256,
            Self::Sha384 => hmac::HMAC_SHA384,
            Self::Sha512 => hmac::HMAC_SHA512,
        }
    }
}

struct Len(usize);
impl KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// An HMAC key. No `Clone`; `Debug` is redacted; zeroized when dropped.
pub struct HmacKey {
    algorithm: HmacAlgorithm,
    key: hmac::Key,
    material: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for HmacKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HmacKey({:?}, <redacted>)", self.algorithm)
    }
}

impl HmacKey {
    /// The key for `algorithm` derived from a 256-bit `seed` with
    /// HKDF-SHA256 (info names the algorithm, so one seed never yields the
    /// same key for two variants).
    pub fn derive(seed: &[u8; 32], algorithm: HmacAlgorithm) -> Result<Self, CryptoError> {
        let prk = Salt::new(HKDF_SHA256, b"strongroom hmac key v1").extract(seed);
        let label = [algorithm.key_len() as u8];
        let info: [&[u8]; 2] = [b"hmac", &label];
        let okm = prk
            .expand(&info, Len(algorithm.key_len()))
            .map_err(|_| CryptoError::InvalidLength)?;
        let mut material = Zeroizing::new(vec![0u8; algorithm.key_len()]);
        okm.fill(&mut material)
            .map_err(|_| CryptoError::InvalidLength)?;
        Ok(Self::from_material(algorithm, material))
    }

    /// A key from raw material (imported keys, tests).
    pub fn from_material(algorithm: HmacAlgorithm, material: Zeroizing<Vec<u8>>) -> Self {
        Self {
            algorithm,
            key: hmac::Key::new(algorithm.aws_lc(), &material),
            material,
        }
    }

    /// The raw key, for exporting to an authorised owner only.
    pub fn expose(&self) -> &[u8] {
        &self.material
    }

    /// The tag over `message`.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        hmac::sign(&self.key, message).as_ref().to_vec()
    }

    /// Whether `tag` is the tag over `message`, in constant time.
    pub fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        hmac::verify(&self.key, message, tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 ("Jefe"), through `from_material`.
    #[test]
    fn rfc4231_case_2() {
        let key = HmacKey::from_material(HmacAlgorithm::Sha256, Zeroizing::new(b"Jefe".to_vec()));
        let tag = key.sign(b"what do ya want for nothing?");
        assert_eq!(
            tag.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert!(key.verify(b"what do ya want for nothing?", &tag));
        assert!(!key.verify(b"what do ya want for nothing!", &tag));
    }

    /// Our derivation and HMACs, recomputed with the RustCrypto crates.
    #[test]
    fn matches_an_independent_implementation() {
        use ::hmac::Mac;
        let seed = [0x42u8; 32];
        let msg = b"independent check";
        let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(b"strongroom hmac key v1"), &seed);
        macro_rules! check {
            ($alg:expr, $digest:ty) => {{
                let alg = $alg;
                let mut okm = vec![0u8; alg.key_len()];
                hk.expand_multi_info(&[b"hmac", &[alg.key_len() as u8]], &mut okm)
                    .unwrap();
                let ours = HmacKey::derive(&seed, alg).unwrap();
                assert_eq!(ours.expose(), &okm[..]);
                let mut theirs = ::hmac::Hmac::<$digest>::new_from_slice(&okm).unwrap();
                theirs.update(msg);
                assert_eq!(ours.sign(msg), theirs.finalize().into_bytes().to_vec());
            }};
        }
        check!(HmacAlgorithm::Sha224, sha2::Sha224);
        check!(HmacAlgorithm::Sha256, sha2::Sha256);
        check!(HmacAlgorithm::Sha384, sha2::Sha384);
        check!(HmacAlgorithm::Sha512, sha2::Sha512);
    }

    #[test]
    fn derived_keys_have_the_right_length_and_differ_per_variant() {
        let seed = [9u8; 32];
        let mut seen = Vec::new();
        for alg in [
            HmacAlgorithm::Sha224,
            HmacAlgorithm::Sha256,
            HmacAlgorithm::Sha384,
            HmacAlgorithm::Sha512,
        ] {
            let k = HmacKey::derive(&seed, alg).unwrap();
            assert_eq!(k.expose().len(), alg.key_len());
            assert_eq!(k.sign(b"m").len(), alg.key_len());
            assert_eq!(k.expose(), HmacKey::derive(&seed, alg).unwrap().expose());
            seen.push(k.expose()[..28].to_vec());
            assert!(format!("{k:?}").ends_with("<redacted>)"));
        }
        seen.dedup();
        assert_eq!(seen.len(), 4);
    }
}
