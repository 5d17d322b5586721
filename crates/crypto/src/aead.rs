use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use crate::{CryptoError, SecretKey256, random};

/// AES-GCM IV length in bytes.
pub const IV_LEN: usize = 12;
/// AES-GCM tag length in bytes.
pub const AES_GCM_TAG_LEN: usize = 16;

/// A 96-bit AES-GCM IV. Sealing consumes it, so one value cannot seal twice.
#[derive(Debug)]
pub struct Iv([u8; IV_LEN]);

impl Iv {
    /// A fresh random IV.
    pub fn random() -> Result<Self, CryptoError> {
        Ok(Self(random::random_array()?))
    }

    /// The IV bytes (public; written next to the ciphertext).
    pub fn bytes(&self) -> [u8; IV_LEN] {
        self.0
    }
}

/// An AES-256-GCM key ready for use.
pub struct Aes256GcmKey(LessSafeKey);

impl std::fmt::Debug for Aes256GcmKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Aes256GcmKey(<redacted>)")
    }
}

impl Aes256GcmKey {
    /// Builds the AEAD key from 256-bit secret material.
    pub fn new(key: &SecretKey256) -> Self {
        let unbound =
            UnboundKey::new(&AES_256_GCM, key.expose()).expect("AES-256 accepts every 32-byte key");
        Self(LessSafeKey::new(unbound))
    }

    /// Encrypts `plaintext` and appends the tag; `out` receives ciphertext||tag.
    pub fn seal_append(
        &self,
        iv: Iv,
        aad: &[u8],
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), CryptoError> {
        let start = out.len();
        out.extend_from_slice(plaintext);
        let tag = self
            .0
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(iv.0),
                Aad::from(aad),
                &mut out[start..],
            )
            .map_err(|_| CryptoError::InvalidLength)?;
        out.extend_from_slice(tag.as_ref());
        Ok(())
    }

    /// Decrypts ciphertext||tag in place, returning the plaintext prefix.
    /// The IV here is the one read back from a stored message.
    pub fn open_in_place<'a>(
        &self,
        iv: [u8; IV_LEN],
        aad: &[u8],
        ciphertext_and_tag: &'a mut [u8],
    ) -> Result<&'a mut [u8], CryptoError> {
        self.0
            .open_in_place(
                Nonce::assume_unique_for_key(iv),
                Aad::from(aad),
                ciphertext_and_tag,
            )
            .map_err(|_| CryptoError::AuthenticationFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tamper() {
        let key = Aes256GcmKey::new(&SecretKey256::generate().unwrap());
        let iv = Iv::random().unwrap();
        let ivb = iv.bytes();
        let mut ct = Vec::new();
        key.seal_append(iv, b"aad", b"hello", &mut ct).unwrap();
        assert_eq!(ct.len(), 5 + AES_GCM_TAG_LEN);
        let mut c = ct.clone();
        assert_eq!(key.open_in_place(ivb, b"aad", &mut c).unwrap(), b"hello");
        let mut c = ct.clone();
        assert!(key.open_in_place(ivb, b"aaX", &mut c).is_err());
        let mut c = ct.clone();
        c[0] ^= 1;
        assert!(key.open_in_place(ivb, b"aad", &mut c).is_err());
    }
}
