use strongroom_crypto::{Aes256GcmKey, CryptoError, SecretKey256, hkdf_sha256};
use uuid::Uuid;

/// A cryptographic domain's key (one generation), with the purpose keys
/// derived from it. Only a member module holds one.
pub struct DomainKey {
    id: Uuid,
    generation: u32,
    root: SecretKey256,
    ekt_wrap: Aes256GcmKey,
    credential_wrap: Aes256GcmKey,
}

impl std::fmt::Debug for DomainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainKey")
            .field("id", &self.id)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

impl DomainKey {
    /// A new domain with a fresh random key, generation 1.
    pub fn generate() -> Result<Self, CryptoError> {
        Self::from_parts(Uuid::new_v4(), 1, SecretKey256::generate()?)
    }

    /// Rebuilds a domain key from its parts (after unsealing).
    pub fn from_parts(id: Uuid, generation: u32, root: SecretKey256) -> Result<Self, CryptoError> {
        // Separate keys per purpose, so an EKT can never be confused with a
        // sealed credential even if formats collided.
        let salt = id.as_bytes();
        let ekt = hkdf_sha256(root.expose(), salt, &[b"strongroom domain v1 ekt"])?;
        let cred = hkdf_sha256(root.expose(), salt, &[b"strongroom domain v1 credential"])?;
        Ok(Self {
            id,
            generation,
            ekt_wrap: Aes256GcmKey::new(&ekt),
            credential_wrap: Aes256GcmKey::new(&cred),
            root,
        })
    }

    /// The domain id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The key generation.
    pub fn generation(&self) -> u32 {
        self.generation
    }

    /// The root key bytes, for sealing the domain key itself.
    pub(crate) fn root(&self) -> &SecretKey256 {
        &self.root
    }

    pub(crate) fn ekt_wrap(&self) -> &Aes256GcmKey {
        &self.ekt_wrap
    }

    pub(crate) fn credential_wrap(&self) -> &Aes256GcmKey {
        &self.credential_wrap
    }
}
