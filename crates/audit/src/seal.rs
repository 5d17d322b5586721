//! Seals over footers and receipts: who makes them ([`FooterSealer`]; in a
//! frontend, the security module with its domain's audit seal key) and
//! which of them are believed ([`TrustedKeys`]).
//!
//! A seal names its key: `ed25519-<first 8 bytes of SHA-256(public key),
//! hex>` for the module's Ed25519 keys, `hmac-<…>` for the legacy HMAC
//! key of earlier versions (verified, never made). A seal is believed only
//! under a key the verifier was given from a source it trusts (the module,
//! or a key the operator pinned); a key found only in the audit directory
//! is not such a source, since whoever writes the directory could write it.

use std::fmt;
use std::sync::Arc;

use strongroom_crypto::{
    CryptoError, ED25519_PUBLIC_KEY_LEN, Ed25519SealKey, HmacSha256Key, SecretKey256, sha256,
    verify_ed25519,
};

use crate::error::AuditError;

/// What the security module prefixes to every message it signs with an
/// audit seal key (`strongroom_hsm_proto::AUDIT_SEAL_CONTEXT`; the server
/// crate's tests hold the two equal). Verifiers prefix it too.
pub const ED25519_SEAL_CONTEXT: &[u8] = b"strongroom audit seal v1\0";

/// The name of an Ed25519 seal key: `ed25519-` and the first 8 bytes of
/// its SHA-256 in hex.
pub fn ed25519_key_id(public_key: &[u8; ED25519_PUBLIC_KEY_LEN]) -> String {
    format!("ed25519-{}", hex::encode(&sha256(public_key)[..8]))
}

/// The name of a legacy HMAC footer key: `hmac-` and the first 8 bytes of
/// its SHA-256 in hex.
pub fn legacy_hmac_key_id(key: &[u8]) -> String {
    format!("hmac-{}", hex::encode(&sha256(key)[..8]))
}

/// A seal and the key that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seal {
    /// The key's name ([`ed25519_key_id`]).
    pub sealer: String,
    /// The signature.
    pub seal: Vec<u8>,
}

/// Makes seals. A frontend's sealer asks its security module, so it may
/// block (the module is reached over the network) and may fail (the module
/// is unreachable): call it from a blocking context, never an async task.
pub trait FooterSealer: Send + Sync {
    /// The seal over `message`.
    fn seal(&self, message: &[u8]) -> Result<Seal, AuditError>;
    /// The keys whose seals the writer believes when it recovers its chain
    /// and applies retention: at least those it seals with, as the source
    /// of its key vouches for them.
    fn trusted(&self) -> TrustedKeys;
}

/// What checking a seal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealCheck {
    /// A valid signature by a trusted Ed25519 key.
    Ed25519,
    /// A valid HMAC under the legacy footer key (earlier versions).
    LegacyHmac,
    /// The key it names is not trusted (or not known): proves nothing.
    UntrustedKey,
    /// The key is trusted but the seal is not its seal over this message.
    Invalid,
}

impl SealCheck {
    /// Whether the seal holds.
    pub fn is_valid(self) -> bool {
        matches!(self, Self::Ed25519 | Self::LegacyHmac)
    }
}

/// The keys whose seals are believed. Cheap to clone.
#[derive(Clone, Default)]
pub struct TrustedKeys {
    ed25519: Vec<(String, [u8; ED25519_PUBLIC_KEY_LEN])>,
    legacy_hmac: Vec<(String, Arc<HmacSha256Key>)>,
}

impl fmt::Debug for TrustedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.ed25519.iter().map(|(id, _)| id))
            .entries(self.legacy_hmac.iter().map(|(id, _)| id))
            .finish()
    }
}

impl TrustedKeys {
    /// Trusts the Ed25519 key `public_key`; returns its name.
    pub fn add_ed25519(&mut self, public_key: [u8; ED25519_PUBLIC_KEY_LEN]) -> String {
        let id = ed25519_key_id(&public_key);
        if !self.ed25519.iter().any(|(i, _)| *i == id) {
            self.ed25519.push((id.clone(), public_key));
        }
        id
    }

    /// Trusts the Ed25519 key `public_key` given as bytes (from the module
    /// or an operator); refused unless it is 32 bytes.
    pub fn add_ed25519_bytes(&mut self, public_key: &[u8]) -> Result<String, AuditError> {
        let key: [u8; ED25519_PUBLIC_KEY_LEN] = public_key.try_into().map_err(|_| {
            AuditError::Malformed(format!(
                "an Ed25519 seal key is {ED25519_PUBLIC_KEY_LEN} bytes, not {}",
                public_key.len()
            ))
        })?;
        Ok(self.add_ed25519(key))
    }

    /// Trusts the legacy HMAC footer key `key` (to verify what earlier
    /// versions sealed with it); returns its name.
    pub fn add_legacy_hmac(&mut self, key: &[u8]) -> String {
        let id = legacy_hmac_key_id(key);
        if !self.legacy_hmac.iter().any(|(i, _)| *i == id) {
            self.legacy_hmac
                .push((id.clone(), Arc::new(HmacSha256Key::new(key))));
        }
        id
    }

    /// Adds every key of `other`.
    pub fn extend(&mut self, other: &TrustedKeys) {
        for (_, k) in &other.ed25519 {
            self.add_ed25519(*k);
        }
        for (id, k) in &other.legacy_hmac {
            if !self.legacy_hmac.iter().any(|(i, _)| i == id) {
                self.legacy_hmac.push((id.clone(), k.clone()));
            }
        }
    }

    /// The trusted Ed25519 keys: name and public key.
    pub fn ed25519_keys(&self) -> impl Iterator<Item = (&str, &[u8; ED25519_PUBLIC_KEY_LEN])> {
        self.ed25519.iter().map(|(id, k)| (id.as_str(), k))
    }

    /// Whether any key is trusted.
    pub fn is_empty(&self) -> bool {
        self.ed25519.is_empty() && self.legacy_hmac.is_empty()
    }

    /// Checks `seal`, made by the key named `sealer`, over `message`.
    pub fn check(&self, sealer: &str, message: &[u8], seal: &[u8]) -> SealCheck {
        if let Some((_, key)) = self.ed25519.iter().find(|(id, _)| id == sealer) {
            let mut signed = Vec::with_capacity(ED25519_SEAL_CONTEXT.len() + message.len());
            signed.extend_from_slice(ED25519_SEAL_CONTEXT);
            signed.extend_from_slice(message);
            return if verify_ed25519(key, &signed, seal) {
                SealCheck::Ed25519
            } else {
                SealCheck::Invalid
            };
        }
        match self.legacy_hmac.iter().find(|(id, _)| id == sealer) {
            Some((_, key)) if key.verify(message, seal) => SealCheck::LegacyHmac,
            Some(_) => SealCheck::Invalid,
            None => SealCheck::UntrustedKey,
        }
    }

    /// Checks a legacy seal that does not name its key (receipts written
    /// before seals named keys) against every legacy HMAC key.
    pub fn check_unnamed_legacy(&self, message: &[u8], seal: &[u8]) -> SealCheck {
        if self
            .legacy_hmac
            .iter()
            .any(|(_, k)| k.verify(message, seal))
        {
            SealCheck::LegacyHmac
        } else {
            SealCheck::UntrustedKey
        }
    }
}

/// Seals with an Ed25519 key held in this process: for tests, benchmarks
/// and tools. A frontend seals with its security module's key instead, so
/// that no file it keeps can forge a seal.
pub struct InProcessSealer {
    key: Ed25519SealKey,
    id: String,
}

impl fmt::Debug for InProcessSealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InProcessSealer({})", self.id)
    }
}

impl InProcessSealer {
    /// A sealer with a fresh random key.
    pub fn generate() -> Result<Self, AuditError> {
        Self::from_key(Ed25519SealKey::generate())
    }

    /// The sealer whose private key is `seed` (tests that seal in one
    /// process and verify in another).
    pub fn from_seed(seed: [u8; 32]) -> Result<Self, AuditError> {
        Self::from_key(Ed25519SealKey::from_seed(&SecretKey256::from_bytes(seed)))
    }

    fn from_key(key: Result<Ed25519SealKey, CryptoError>) -> Result<Self, AuditError> {
        let key = key.map_err(|e| AuditError::Seal(e.to_string()))?;
        let id = ed25519_key_id(&key.public_key());
        Ok(Self { key, id })
    }

    /// The raw public key.
    pub fn public_key(&self) -> [u8; ED25519_PUBLIC_KEY_LEN] {
        self.key.public_key()
    }
}

impl FooterSealer for InProcessSealer {
    fn seal(&self, message: &[u8]) -> Result<Seal, AuditError> {
        let mut signed = ED25519_SEAL_CONTEXT.to_vec();
        signed.extend_from_slice(message);
        Ok(Seal {
            sealer: self.id.clone(),
            seal: self.key.sign(&signed).to_vec(),
        })
    }

    fn trusted(&self) -> TrustedKeys {
        let mut t = TrustedKeys::default();
        t.add_ed25519(self.key.public_key());
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_verify_only_under_the_trusted_key_that_made_them() {
        let sealer = InProcessSealer::generate().unwrap();
        let s = sealer.seal(b"m").unwrap();
        let trusted = sealer.trusted();
        assert_eq!(trusted.check(&s.sealer, b"m", &s.seal), SealCheck::Ed25519);
        assert_eq!(trusted.check(&s.sealer, b"n", &s.seal), SealCheck::Invalid);
        // An attacker's own key, naming itself: not trusted.
        let attacker = InProcessSealer::generate().unwrap();
        let forged = attacker.seal(b"m").unwrap();
        assert_eq!(
            trusted.check(&forged.sealer, b"m", &forged.seal),
            SealCheck::UntrustedKey
        );
        // The attacker's seal under the trusted key's name.
        assert_eq!(
            trusted.check(&s.sealer, b"m", &forged.seal),
            SealCheck::Invalid
        );
        // A bare signature over the message (no context) is not a seal.
        let mut legacy = TrustedKeys::default();
        let id = legacy.add_legacy_hmac(b"old key");
        let mac = HmacSha256Key::new(b"old key").sign(b"m");
        assert_eq!(legacy.check(&id, b"m", &mac), SealCheck::LegacyHmac);
        assert_eq!(legacy.check(&id, b"n", &mac), SealCheck::Invalid);
        assert_eq!(
            legacy.check_unnamed_legacy(b"m", &mac),
            SealCheck::LegacyHmac
        );
        assert_eq!(
            trusted.check_unnamed_legacy(b"m", &mac),
            SealCheck::UntrustedKey
        );
        assert!(!format!("{legacy:?}").contains("old key"));
    }
}
