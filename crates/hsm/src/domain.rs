use strongroom_crypto::{
    Aes256GcmKey, CryptoError, Ed25519SealKey, HmacSha256Key, SecretKey256, hkdf_sha256,
};
use uuid::Uuid;

/// A cryptographic domain's key (one generation), with the purpose keys
/// derived from it. Only a member module holds one.
pub struct DomainKey {
    id: Uuid,
    generation: u32,
    root: SecretKey256,
    ekt_wrap: Aes256GcmKey,
    credential_wrap: Aes256GcmKey,
    fingerprint: HmacSha256Key,
    local_store: Aes256GcmKey,
    import: HmacSha256Key,
    audit_seal: Ed25519SealKey,
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
        let fp = hkdf_sha256(root.expose(), salt, &[b"strongroom domain v1 fingerprint"])?;
        let store = hkdf_sha256(root.expose(), salt, &[b"strongroom domain v1 local store"])?;
        let import = hkdf_sha256(root.expose(), salt, &[b"strongroom domain v1 import"])?;
        // The audit seal key: every member derives the same pair, so any
        // member can seal and the public key names the domain's key.
        let seal_seed = hkdf_sha256(root.expose(), salt, &[b"strongroom domain v1 audit seal"])?;
        Ok(Self {
            id,
            generation,
            ekt_wrap: Aes256GcmKey::new(&ekt),
            credential_wrap: Aes256GcmKey::new(&cred),
            fingerprint: HmacSha256Key::new(fp.expose()),
            local_store: Aes256GcmKey::new(&store),
            import: HmacSha256Key::new(import.expose()),
            audit_seal: Ed25519SealKey::from_seed(&seal_seed)?,
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

    /// A second copy (for building a new key ring before committing it).
    pub(crate) fn duplicate(&self) -> Self {
        Self::from_parts(self.id, self.generation, self.root.duplicate())
            .expect("deriving from a valid key cannot fail")
    }

    /// A new generation of the same domain.
    pub fn next_generation(&self) -> Result<Self, CryptoError> {
        Self::from_parts(self.id, self.generation + 1, SecretKey256::generate()?)
    }

    /// The fingerprint MAC over a domain token body: only members can make it.
    pub(crate) fn fingerprint(&self, body: &[u8]) -> [u8; 32] {
        self.fingerprint.sign(body)
    }

    /// Whether `tag` is this key's fingerprint of `body` (constant time).
    pub(crate) fn verify_fingerprint(&self, body: &[u8], tag: &[u8]) -> bool {
        self.fingerprint.verify(body, tag)
    }

    /// The MAC key of import tokens and imported-material fingerprints.
    pub(crate) fn import_mac(&self) -> &HmacSha256Key {
        &self.import
    }

    /// The key of the module's local sealed store for this domain.
    pub(crate) fn local_store(&self) -> &Aes256GcmKey {
        &self.local_store
    }

    /// The root key bytes, for sealing the domain key itself.
    pub(crate) fn root(&self) -> &SecretKey256 {
        &self.root
    }

    /// The domain's audit seal key of this generation.
    pub(crate) fn audit_seal(&self) -> &Ed25519SealKey {
        &self.audit_seal
    }

    pub(crate) fn ekt_wrap(&self) -> &Aes256GcmKey {
        &self.ekt_wrap
    }

    pub(crate) fn credential_wrap(&self) -> &Aes256GcmKey {
        &self.credential_wrap
    }
}
