//! Ed25519 seal keys: a key pair made from a 32-byte seed (so every holder
//! of the seed derives the same key, as every member of a domain does for
//! its audit seal key) and verification against a raw 32-byte public key.

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};

use crate::{CryptoError, SecretKey256};

/// Length of a raw Ed25519 public key.
pub const ED25519_PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const ED25519_SIGNATURE_LEN: usize = 64;

/// An Ed25519 key pair. No `Clone`; `Debug` shows only the public key.
pub struct Ed25519SealKey {
    pair: Ed25519KeyPair,
    public: [u8; ED25519_PUBLIC_KEY_LEN],
}

impl std::fmt::Debug for Ed25519SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Ed25519SealKey(public {})", hex_prefix(&self.public))
    }
}

fn hex_prefix(b: &[u8]) -> String {
    b.iter().take(8).map(|x| format!("{x:02x}")).collect()
}

impl Ed25519SealKey {
    /// The key pair whose private key is `seed` (RFC 8032 §5.1.5).
    pub fn from_seed(seed: &SecretKey256) -> Result<Self, CryptoError> {
        let pair = Ed25519KeyPair::from_seed_unchecked(seed.expose())
            .map_err(|_| CryptoError::InvalidKey)?;
        let public = pair
            .public_key()
            .as_ref()
            .try_into()
            .map_err(|_| CryptoError::InvalidKey)?;
        Ok(Self { pair, public })
    }

    /// A key pair from a fresh random seed.
    pub fn generate() -> Result<Self, CryptoError> {
        Self::from_seed(&SecretKey256::generate()?)
    }

    /// The raw 32-byte public key.
    pub fn public_key(&self) -> [u8; ED25519_PUBLIC_KEY_LEN] {
        self.public
    }

    /// The signature over `message`.
    pub fn sign(&self, message: &[u8]) -> [u8; ED25519_SIGNATURE_LEN] {
        let mut out = [0u8; ED25519_SIGNATURE_LEN];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        out
    }
}

/// Whether `signature` is `public_key`'s Ed25519 signature over `message`.
pub fn verify_ed25519(
    public_key: &[u8; ED25519_PUBLIC_KEY_LEN],
    message: &[u8],
    signature: &[u8],
) -> bool {
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(message, signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_key_and_signatures_verify_only_as_signed() {
        let seed = [7u8; 32];
        let a = Ed25519SealKey::from_seed(&SecretKey256::from_bytes(seed)).unwrap();
        let b = Ed25519SealKey::from_seed(&SecretKey256::from_bytes(seed)).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        let sig = a.sign(b"message");
        assert!(verify_ed25519(&b.public_key(), b"message", &sig));
        assert!(!verify_ed25519(&b.public_key(), b"messagE", &sig));
        let other = Ed25519SealKey::generate().unwrap();
        assert!(!verify_ed25519(&other.public_key(), b"message", &sig));
        assert!(!verify_ed25519(&a.public_key(), b"message", &sig[..63]));
        assert!(!format!("{a:?}").contains(&format!("{:?}", seed)));
    }

    #[test]
    fn rfc8032_test_vector_1() {
        let hex = |s: &str| -> Vec<u8> {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
                .collect()
        };
        let seed = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let k = Ed25519SealKey::from_seed(&SecretKey256::from_slice(&seed).unwrap()).unwrap();
        assert_eq!(
            k.public_key().to_vec(),
            hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        );
        assert_eq!(
            k.sign(b"").to_vec(),
            hex(
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
            )
        );
    }
}
