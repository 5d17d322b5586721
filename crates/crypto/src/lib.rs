//! Strongroom's cryptographic primitives, on aws-lc-rs.
//!
//! This is the only crate that calls the crypto library. Its types are built
//! so that secrets cannot be printed or copied by accident: key types hold
//! their bytes in [`zeroize::Zeroizing`], have a redacted `Debug` and no
//! `Clone`; AEAD nonces are consumed by value so one cannot be used twice.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod aead;
mod asymmetric;
mod customer_keys;
mod digest;
mod ed25519;
mod error;
mod kdf;
mod mac;
mod ml_dsa;
mod random;
mod secret;
mod verifying_key;

pub use aead::{AES_GCM_TAG_LEN, Aes256GcmKey, IV_LEN, Iv};
pub use asymmetric::{AgreementKeyPair, SigningKeyPair, seal_to, verify_p384};
pub use customer_keys::{
    AsymmetricKey, AsymmetricSpec, OaepHash, SignInput, SigningAlgorithm, rsa_oaep_encrypt,
    verify_signature,
};
pub use digest::{
    HmacSha256Key, Sha384Stream, constant_time_eq, hmac_sha256, sha256, sha384, sha512,
    sigv4_signing_key,
};
pub use ed25519::{ED25519_PUBLIC_KEY_LEN, ED25519_SIGNATURE_LEN, Ed25519SealKey, verify_ed25519};
pub use error::CryptoError;
pub use kdf::{hkdf_sha256, hkdf_sha256_bytes};
pub use mac::{HmacAlgorithm, HmacKey};
pub use random::{fill_random, random_array};
pub use secret::{SecretBytes, SecretKey256};
pub use verifying_key::VerifyingKey;
