use std::fmt;
use zeroize::{Zeroize, Zeroizing};

use crate::{CryptoError, random};

/// A 256-bit secret key. Zeroized on drop; `Debug` is redacted; not `Clone`.
pub struct SecretKey256(Zeroizing<[u8; 32]>);

impl SecretKey256 {
    /// Generates a fresh key from the system CSPRNG.
    pub fn generate() -> Result<Self, CryptoError> {
        let mut k = Zeroizing::new([0u8; 32]);
        random::fill_random(&mut k[..])?;
        Ok(Self(k))
    }

    /// Takes ownership of key bytes; the caller's copy should be zeroized.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Copies a key out of a slice, which must be exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let arr: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::InvalidLength)?;
        Ok(Self::from_bytes(arr))
    }

    /// The raw bytes, for feeding a primitive. Never log or persist them.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// An explicit, greppable copy for the rare place that needs two owners.
    pub fn duplicate(&self) -> Self {
        Self(Zeroizing::new(*self.0))
    }
}

impl fmt::Debug for SecretKey256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey256(<redacted>)")
    }
}

/// Variable-length secret bytes (data keys, derived material). Zeroized on
/// drop; `Debug` is redacted.
pub struct SecretBytes(Zeroizing<Vec<u8>>);

impl SecretBytes {
    /// Wraps bytes that are secret.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// `len` fresh random bytes.
    pub fn random(len: usize) -> Result<Self, CryptoError> {
        let mut v = Zeroizing::new(vec![0u8; len]);
        random::fill_random(&mut v)?;
        Ok(Self(v))
    }

    /// The bytes. Never log or persist them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes (not secret).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Moves the bytes out, still zeroized on drop.
    pub fn into_zeroizing(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl From<Zeroizing<Vec<u8>>> for SecretBytes {
    fn from(v: Zeroizing<Vec<u8>>) -> Self {
        Self(v)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes(<{} bytes redacted>)", self.0.len())
    }
}

impl Zeroize for SecretBytes {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let k = SecretKey256::from_bytes([0xAB; 32]);
        let s = format!("{k:?}");
        assert!(!s.contains("ab") && !s.contains("171"), "{s}");
        let b = SecretBytes::new(vec![0x42; 5]);
        assert_eq!(format!("{b:?}"), "SecretBytes(<5 bytes redacted>)");
    }

    #[test]
    fn generated_keys_differ() {
        let a = SecretKey256::generate().unwrap();
        let b = SecretKey256::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
    }
}
