use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zeroize::Zeroizing;

/// One version of one KMS key: the name a module knows a backing key by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyRef {
    /// The key's UUID.
    pub key_id: Uuid,
    /// The version (1 for the first backing key; rotation adds more).
    pub version: u32,
}

/// Key material kinds a module can generate. The code is bound into EKTs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum KeySpecCode {
    /// 256-bit AES backing key (AWS `SYMMETRIC_DEFAULT`).
    SymmetricDefault = 1,
    /// HMAC-SHA-224 key, derived from a 256-bit seed (AWS `HMAC_224`).
    Hmac224 = 2,
    /// HMAC-SHA-256 (AWS `HMAC_256`).
    Hmac256 = 3,
    /// HMAC-SHA-384 (AWS `HMAC_384`).
    Hmac384 = 4,
    /// HMAC-SHA-512 (AWS `HMAC_512`).
    Hmac512 = 5,
    /// RSA 2048 (AWS `RSA_2048`), PKCS#8 in a v2 EKT.
    Rsa2048 = 16,
    /// RSA 3072.
    Rsa3072 = 17,
    /// RSA 4096.
    Rsa4096 = 18,
    /// ECDSA P-256 (AWS `ECC_NIST_P256`).
    EccNistP256 = 32,
    /// ECDSA P-384.
    EccNistP384 = 33,
    /// ECDSA P-521.
    EccNistP521 = 34,
    /// ECDSA secp256k1 (AWS `ECC_SECG_P256K1`).
    EccSecgP256k1 = 35,
    /// Ed25519 (AWS `ECC_NIST_EDWARDS25519`).
    EccEd25519 = 36,
    /// ML-DSA-44, FIPS 204 (AWS `ML_DSA_44`), PKCS#8 (seed form).
    MlDsa44 = 48,
    /// ML-DSA-65 (AWS `ML_DSA_65`).
    MlDsa65 = 49,
    /// ML-DSA-87 (AWS `ML_DSA_87`).
    MlDsa87 = 50,
}

impl KeySpecCode {
    /// Parses the byte stored in an EKT.
    pub fn from_u8(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::SymmetricDefault),
            2 => Some(Self::Hmac224),
            3 => Some(Self::Hmac256),
            4 => Some(Self::Hmac384),
            5 => Some(Self::Hmac512),
            16 => Some(Self::Rsa2048),
            17 => Some(Self::Rsa3072),
            18 => Some(Self::Rsa4096),
            32 => Some(Self::EccNistP256),
            33 => Some(Self::EccNistP384),
            34 => Some(Self::EccNistP521),
            35 => Some(Self::EccSecgP256k1),
            36 => Some(Self::EccEd25519),
            48 => Some(Self::MlDsa44),
            49 => Some(Self::MlDsa65),
            50 => Some(Self::MlDsa87),
            _ => None,
        }
    }
}

impl KeySpecCode {
    /// The spec for an AWS `KeySpec` name.
    pub fn from_aws(name: &str) -> Option<Self> {
        Some(match name {
            "SYMMETRIC_DEFAULT" => Self::SymmetricDefault,
            "HMAC_224" => Self::Hmac224,
            "HMAC_256" => Self::Hmac256,
            "HMAC_384" => Self::Hmac384,
            "HMAC_512" => Self::Hmac512,
            "RSA_2048" => Self::Rsa2048,
            "RSA_3072" => Self::Rsa3072,
            "RSA_4096" => Self::Rsa4096,
            "ECC_NIST_P256" => Self::EccNistP256,
            "ECC_NIST_P384" => Self::EccNistP384,
            "ECC_NIST_P521" => Self::EccNistP521,
            "ECC_SECG_P256K1" => Self::EccSecgP256k1,
            "ECC_NIST_EDWARDS25519" => Self::EccEd25519,
            "ML_DSA_44" => Self::MlDsa44,
            "ML_DSA_65" => Self::MlDsa65,
            "ML_DSA_87" => Self::MlDsa87,
            _ => return None,
        })
    }

    /// The asymmetric spec, for RSA, ECC and ML-DSA keys.
    pub fn asymmetric(self) -> Option<strongroom_crypto::AsymmetricSpec> {
        use strongroom_crypto::AsymmetricSpec as A;
        Some(match self {
            Self::Rsa2048 => A::Rsa2048,
            Self::Rsa3072 => A::Rsa3072,
            Self::Rsa4096 => A::Rsa4096,
            Self::EccNistP256 => A::EccNistP256,
            Self::EccNistP384 => A::EccNistP384,
            Self::EccNistP521 => A::EccNistP521,
            Self::EccSecgP256k1 => A::EccSecgP256k1,
            Self::EccEd25519 => A::Ed25519,
            Self::MlDsa44 => A::MlDsa44,
            Self::MlDsa65 => A::MlDsa65,
            Self::MlDsa87 => A::MlDsa87,
            _ => return None,
        })
    }

    /// The HMAC variant, for HMAC specs.
    pub fn hmac(self) -> Option<strongroom_crypto::HmacAlgorithm> {
        use strongroom_crypto::HmacAlgorithm as H;
        Some(match self {
            Self::Hmac224 => H::Sha224,
            Self::Hmac256 => H::Sha256,
            Self::Hmac384 => H::Sha384,
            Self::Hmac512 => H::Sha512,
            _ => return None,
        })
    }
}

use crate::audit_seal::AuditSealKey;
pub use crate::sealed::{Ekt, TransientEkt};

/// The scope a SigV4 signing key is derived for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SigV4Scope {
    /// `YYYYMMDD`.
    pub date: String,
    /// Region, e.g. `us-east-1`.
    pub region: String,
    /// Service, `kms`.
    pub service: String,
}

/// A day-scoped SigV4 signing key (`kSigning`). It cannot recover the secret
/// access key; still secret, so zeroized and redacted.
#[derive(Serialize, Deserialize)]
pub struct SigningKey(pub Zeroizing<[u8; 32]>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(<redacted>)")
    }
}

/// A data key produced for a caller: plaintext (if asked for) and its
/// ciphertext blob under the KMS key.
#[derive(Serialize, Deserialize)]
pub struct DataKey {
    /// The plaintext data key, absent for `...WithoutPlaintext`.
    pub plaintext: Option<Zeroizing<Vec<u8>>>,
    /// The data key encrypted under the KMS key.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataKey")
            .field("plaintext", &self.plaintext.as_ref().map(|_| "<redacted>"))
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

/// A request to a module. The frontend sends the cryptographic ones for its
/// callers (a host wraps each in [`Request::InDomain`]); operator tools send
/// `Command`, `Attest` and the log requests. `Clone` so a router can retry
/// on another member; clones of plaintexts are zeroized too.
#[derive(Clone, Serialize, Deserialize)]
pub enum Request {
    /// Generate a fresh backing key for `key` and return its EKT.
    GenerateBackingKey {
        /// The key version the new material becomes (bound into the EKT).
        key: KeyRef,
        /// What to generate: AES, HMAC seed, or an asymmetric key pair.
        spec: KeySpecCode,
    },
    /// Generate a VOLATILE key (extension): kept only in module memory. The
    /// answered EKT is transient, only to install it in the other members.
    GenerateVolatileKey {
        /// The key version the new material becomes.
        key: KeyRef,
        /// Symmetric or HMAC only; the module refuses asymmetric specs.
        spec: KeySpecCode,
    },
    /// Keep a volatile key (from another member's transient EKT) in memory.
    InstallVolatileKey {
        /// The key version the transient EKT must name.
        key: KeyRef,
        /// What GenerateVolatileKey answered on the member that made the key.
        ekt: TransientEkt,
    },
    /// Like GenerateBackingKey, but also return the key material in clear
    /// (an exposed key, extension): AES key, HMAC key, or PKCS#8.
    GenerateExposedKey {
        /// The key version the new material becomes.
        key: KeyRef,
        /// What to generate.
        spec: KeySpecCode,
    },
    /// Encrypt customer data under `key`.
    Encrypt {
        /// The key version to encrypt under.
        key: KeyRef,
        /// That version's EKT; empty for a VOLATILE key, held only in memory.
        ekt: Ekt,
        /// The caller's plaintext.
        plaintext: Zeroizing<Vec<u8>>,
        /// Canonical encryption context (see [`crate::context`]).
        context: Vec<u8>,
    },
    /// Decrypt a ciphertext blob; `ekt` is the version its header names.
    Decrypt {
        /// The EKT of the key version the blob's header names.
        ekt: Ekt,
        /// The ciphertext blob, as Encrypt answered it.
        ciphertext: Vec<u8>,
        /// Canonical encryption context; must equal the one encrypted with.
        context: Vec<u8>,
    },
    /// Decrypt under one key and encrypt under another, inside the module.
    ReEncrypt {
        /// The EKT of the key version the blob's header names.
        source_ekt: Ekt,
        /// The ciphertext blob to re-encrypt.
        ciphertext: Vec<u8>,
        /// Canonical encryption context it was encrypted with.
        source_context: Vec<u8>,
        /// The key version to encrypt under.
        destination: KeyRef,
        /// That version's EKT.
        destination_ekt: Ekt,
        /// Canonical encryption context of the new blob.
        destination_context: Vec<u8>,
    },
    /// Generate `length` random bytes as a data key, encrypted under `key`.
    GenerateDataKey {
        /// The symmetric key version to encrypt the data key under.
        key: KeyRef,
        /// That version's EKT; empty for a VOLATILE key.
        ekt: Ekt,
        /// Canonical encryption context of the encrypted data key.
        context: Vec<u8>,
        /// Data key size in bytes, 1-1024.
        length: u16,
        /// Answer the plaintext too (false for `...WithoutPlaintext`).
        with_plaintext: bool,
    },
    /// Derive a key from `key` and a context (DeriveKey, extension): the
    /// derived key and its derived-key token under `key` (`context` bound
    /// as additional data), answered as a `DataKey`. Decrypt never opens
    /// the token; only [`Request::RevealDerivedKey`] does.
    DeriveKey {
        /// The symmetric key version to derive from.
        key: KeyRef,
        /// That version's EKT; empty for a VOLATILE key.
        ekt: Ekt,
        /// Canonical context; the same context and version derive the same key.
        context: Vec<u8>,
        /// Derived key size in bytes, 16-64.
        length: u16,
    },
    /// Random bytes from the module's CSPRNG.
    GenerateRandom {
        /// How many bytes, 1-1024.
        length: u16,
    },
    /// Seal a secret access key under the domain so the store never holds it.
    SealCredential {
        /// The access key id, bound into the sealed bytes.
        access_key_id: String,
        /// The secret access key, 1-128 bytes.
        secret: Zeroizing<String>,
    },
    /// Derive a SigV4 signing key from a sealed secret access key.
    DeriveSigV4Key {
        /// The access key id the secret was sealed for.
        access_key_id: String,
        /// What SealCredential (or RewrapCredentials) answered.
        sealed: Vec<u8>,
        /// The date, region and service to derive the key for.
        scope: SigV4Scope,
    },
    /// HMAC of `message` under an HMAC key.
    GenerateMac {
        /// The HMAC key version.
        key: KeyRef,
        /// That version's EKT; empty for a VOLATILE key.
        ekt: Ekt,
        /// The caller's message.
        message: Zeroizing<Vec<u8>>,
    },
    /// Whether `mac` is the HMAC of `message` (compared in constant time).
    VerifyMac {
        /// The HMAC key version.
        key: KeyRef,
        /// That version's EKT; empty for a VOLATILE key.
        ekt: Ekt,
        /// The caller's message.
        message: Zeroizing<Vec<u8>>,
        /// The MAC to check.
        mac: Vec<u8>,
    },
    /// Sign with an asymmetric key (`algorithm` by AWS name).
    Sign {
        /// The signing key version.
        key: KeyRef,
        /// That version's EKT (the sealed private key).
        ekt: Ekt,
        /// The message, or its digest when `digest` is set.
        message: Zeroizing<Vec<u8>>,
        /// `message` is already a digest (MessageType DIGEST).
        digest: bool,
        /// AWS `SigningAlgorithm` name; must fit the key's spec.
        algorithm: String,
    },
    /// Verify a signature with an asymmetric key.
    Verify {
        /// The signing key version.
        key: KeyRef,
        /// That version's EKT.
        ekt: Ekt,
        /// The message, or its digest when `digest` is set.
        message: Zeroizing<Vec<u8>>,
        /// `message` is already a digest of the algorithm's length.
        digest: bool,
        /// AWS `SigningAlgorithm` name; must fit the key's spec.
        algorithm: String,
        /// The signature to check.
        signature: Vec<u8>,
    },
    /// The public key (DER SPKI) of an asymmetric key.
    GetPublicKey {
        /// The asymmetric key version.
        key: KeyRef,
        /// That version's EKT.
        ekt: Ekt,
    },
    /// RSA-OAEP decryption (`algorithm` `RSAES_OAEP_SHA_1` or `_256`).
    AsymmetricDecrypt {
        /// The RSA key version.
        key: KeyRef,
        /// That version's EKT.
        ekt: Ekt,
        /// RSA-OAEP ciphertext made with the key's public half.
        ciphertext: Vec<u8>,
        /// `RSAES_OAEP_SHA_1` or `RSAES_OAEP_SHA_256`.
        algorithm: String,
    },
    /// RSA-OAEP encryption to an RSA key's public half.
    AsymmetricEncrypt {
        /// The RSA key version.
        key: KeyRef,
        /// That version's EKT.
        ekt: Ekt,
        /// The caller's plaintext; at most what the key size and hash allow.
        plaintext: Zeroizing<Vec<u8>>,
        /// `RSAES_OAEP_SHA_1` or `RSAES_OAEP_SHA_256`.
        algorithm: String,
    },
    /// ECDH between a KEY_AGREEMENT key and a peer public key (DER SPKI);
    /// answers the shared secret as a `Plaintext`.
    DeriveSharedSecret {
        /// The ECC key version.
        key: KeyRef,
        /// That version's EKT.
        ekt: Ekt,
        /// The peer's public key, DER SPKI, on the same curve.
        peer_public_key: Vec<u8>,
    },
    /// Generate an asymmetric data key pair; return its private key sealed
    /// under the symmetric `key` (and in clear when asked) and its public key.
    GenerateDataKeyPair {
        /// The symmetric key version the private key is encrypted under.
        key: KeyRef,
        /// That version's EKT; empty for a VOLATILE key.
        ekt: Ekt,
        /// Canonical encryption context of the encrypted private key.
        context: Vec<u8>,
        /// The pair to generate (an RSA or ECC spec).
        pair_spec: KeySpecCode,
        /// Answer the private key in clear too (false for `...WithoutPlaintext`).
        with_plaintext: bool,
    },
    /// Make an RSA wrapping key for importing key material into `key_id`:
    /// answers its public key and an import token (the wrapping private key
    /// sealed under the domain, bound to the key, algorithm and expiry).
    PrepareImport {
        /// The KMS key the token may import into.
        key_id: Uuid,
        /// The wrapping key's size: an RSA spec.
        wrapping_spec: KeySpecCode,
        /// `RSAES_OAEP_SHA_1/256` or `RSA_AES_KEY_WRAP_SHA_1/256`.
        algorithm: String,
        /// Unix seconds the token stays valid until.
        valid_to: u64,
    },
    /// Unwrap imported material with an import token and seal it as the
    /// EKT of `key`; answers the EKT and a fingerprint of the material.
    ImportKeyMaterial {
        /// The key version the material becomes; its key id must be the token's.
        key: KeyRef,
        /// What PrepareImport answered, unexpired.
        import_token: Vec<u8>,
        /// 256-bit key material wrapped to the token's public key.
        encrypted_material: Vec<u8>,
    },
    /// Drop every cached copy of a key's backing keys.
    ForgetKey {
        /// The KMS key whose versions the module drops.
        key_id: uuid::Uuid,
    },
    /// Drop every cached copy and sign a statement saying so (ShredKey).
    ShredKey {
        /// The KMS key whose versions the module drops.
        key_id: uuid::Uuid,
    },
    /// Wrap every version of a key to its owner's RSA key and drop every
    /// cached copy (SuspendKey).
    SuspendKey {
        /// The KMS key to suspend.
        key_id: Uuid,
        /// Every version of it, with its EKT.
        versions: Vec<(KeyRef, Ekt)>,
        /// The RSA public key (DER SPKI) bound into every version as its
        /// suspension owner; any other is refused.
        owner_public_key: Vec<u8>,
    },
    /// Take suspended material back, re-wrapped to an import key, if it is
    /// what was suspended (ReinstateKey).
    ReinstateKey {
        /// The suspended KMS key.
        key_id: Uuid,
        /// What PrepareImport answered for `key_id`, unexpired.
        import_token: Vec<u8>,
        /// The suspended bundle, re-wrapped by the owner to the token's public key.
        encrypted_bundle: Vec<u8>,
        /// The fingerprint SuspendKey answered (kept by the frontend).
        expected_fingerprint: Vec<u8>,
    },
    /// Describe the module (id, mode, domains, cache use); never secrets.
    Status,
    /// An operator command; answered per command (often a domain token).
    Command(crate::admin::SignedCommand),
    /// The current token of a domain this module is a member of.
    GetDomainToken {
        /// The domain.
        domain_id: Uuid,
    },
    /// The domains this module holds.
    ListDomains,
    /// A signed attestation report echoing `nonce`.
    Attest {
        /// The asker's fresh challenge, echoed in the signed report.
        nonce: Vec<u8>,
    },
    /// The module's audit logs.
    ListLogs,
    /// One log's hash and size.
    DescribeLog {
        /// The log, as ListLogs numbers it.
        log_id: u64,
    },
    /// Bytes of one log.
    GetLog {
        /// The log, as ListLogs numbers it.
        log_id: u64,
        /// First byte to read.
        offset: u64,
        /// Bytes to read; the module answers at most 4 MiB.
        length: u64,
    },
    /// Re-seal EKTs under the newest generation of their domain.
    RewrapKeys {
        /// Key EKTs of any live generation; the answer keeps their order.
        ekts: Vec<Ekt>,
    },
    /// Re-seal sealed secret access keys (id, sealed) under the newest generation.
    RewrapCredentials {
        /// (access key id, sealed secret) pairs; the answer keeps their order.
        credentials: Vec<(String, Vec<u8>)>,
    },
    /// `request` on behalf of `domain`: how a host sends every request that
    /// acts in a domain ([`Request::acts_in_domain`]). The module checks the
    /// host is listed in `domain`, seals new material only under it, and
    /// opens only EKTs bound to it. Cannot be nested.
    InDomain {
        /// The domain the host is a frontend of (from its domain token).
        domain: Uuid,
        /// The request itself; never another `InDomain`.
        #[serde(deserialize_with = "crate::in_domain::unscoped")]
        request: Box<Request>,
    },
    /// Like GenerateBackingKey, with the key's suspension owner (RSA public
    /// key, DER SPKI) bound into the EKT: SuspendKey wraps only to it.
    GenerateOwnedBackingKey {
        /// The key version the new material becomes.
        key: KeyRef,
        /// What to generate.
        spec: KeySpecCode,
        /// The owner's RSA public key, DER SPKI (its SHA-256 is bound in).
        suspension_owner: Vec<u8>,
    },
    /// A new version of a key (rotation): same spec and suspension owner as
    /// `previous`, an earlier version's EKT of the same key.
    RotateBackingKey {
        /// The new version.
        key: KeyRef,
        /// An earlier version's EKT of the same key.
        previous: Ekt,
    },
    /// Re-bind every version of a key to a new suspension owner, with the
    /// current owner's signature over the change (docs/extensions.md).
    UpdateSuspensionOwner {
        /// The KMS key.
        key_id: Uuid,
        /// Every version of it, with its EKT.
        versions: Vec<(KeyRef, Ekt)>,
        /// The bound owner's RSA public key, DER SPKI.
        current_owner: Vec<u8>,
        /// The next owner's RSA public key, DER SPKI.
        new_owner: Vec<u8>,
        /// Unix seconds the statement expires; at most an hour ahead.
        valid_to: u64,
        /// The current owner's RSASSA-PSS-SHA-256 signature over the
        /// owner-change statement; each is carried out once.
        signature: Vec<u8>,
    },
    /// Open a derived-key token made by DeriveKey under `key` (the version
    /// its header names) with `context`: the derived key, answered as a
    /// `DataKey` (the token as its ciphertext). The frontend sends it only
    /// for callers allowed kms:RevealDerivedKey.
    RevealDerivedKey {
        /// The key version the token's header names.
        key: KeyRef,
        /// That version's EKT; empty for a VOLATILE key.
        ekt: Ekt,
        /// The derived-key token DeriveKey answered.
        token: Vec<u8>,
        /// The canonical context the key was derived with.
        context: Vec<u8>,
    },

    // ---- Audit seal (docs/audit.md, "The seal key"). Kept together at the
    // end of the enum: postcard numbers variants by position.
    /// Sign an audit footer or receipt with the domain's audit seal key
    /// (Ed25519, derived from the newest domain-key generation). The module
    /// signs [`crate::AUDIT_SEAL_CONTEXT`] ‖ `message`, never `message` alone, so
    /// this is no signing oracle for anything but audit seals. At most
    /// [`crate::MAX_AUDIT_SEAL_MESSAGE`] bytes.
    SignAuditSeal {
        /// The audit footer or receipt bytes.
        message: Vec<u8>,
    },
    /// The domain's audit seal public keys, one per domain-key generation
    /// the module holds.
    AuditSealKeys,
    // XKS proxy API (crate::xks, docs/xks.md).
    /// AES-256-GCM under a message key derived from `key`, with the
    /// caller's additional data as the XKS specification builds it; with
    /// `with_cdiv`, also the ciphertext data integrity value, computed
    /// before the module checks that the result opens.
    XksEncrypt {
        /// The symmetric key version to seal under.
        key: KeyRef,
        /// That version's EKT; empty for a VOLATILE key.
        ekt: Ekt,
        /// At most [`crate::xks::MAX_PLAINTEXT`] bytes.
        plaintext: Zeroizing<Vec<u8>>,
        /// The caller's additional data, at most [`crate::xks::MAX_AAD`] bytes.
        aad: Vec<u8>,
        /// Also answer the ciphertext data integrity value.
        with_cdiv: bool,
    },
    /// Opens what XksEncrypt sealed under `key` (the version its metadata
    /// names), answered as a `Plaintext`.
    XksDecrypt {
        /// The key version the metadata names.
        key: KeyRef,
        /// That version's EKT; empty for a VOLATILE key.
        ekt: Ekt,
        /// The sealed message as XksEncrypt answered it.
        sealed: crate::xks::XksSealed,
        /// The additional data it was sealed with.
        aad: Vec<u8>,
    },
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Only the operation name: fields may carry customer data.
        if let Request::InDomain { domain, request } = self {
            return write!(f, "InDomain({domain}, {request:?})");
        }
        f.write_str(match self {
            Request::GenerateBackingKey { .. } => "GenerateBackingKey",
            Request::GenerateExposedKey { .. } => "GenerateExposedKey",
            Request::GenerateVolatileKey { .. } => "GenerateVolatileKey",
            Request::InstallVolatileKey { .. } => "InstallVolatileKey",
            Request::Encrypt { .. } => "Encrypt",
            Request::Decrypt { .. } => "Decrypt",
            Request::ReEncrypt { .. } => "ReEncrypt",
            Request::GenerateDataKey { .. } => "GenerateDataKey",
            Request::GenerateRandom { .. } => "GenerateRandom",
            Request::DeriveKey { .. } => "DeriveKey",
            Request::SealCredential { .. } => "SealCredential",
            Request::DeriveSigV4Key { .. } => "DeriveSigV4Key",
            Request::ForgetKey { .. } => "ForgetKey",
            Request::ShredKey { .. } => "ShredKey",
            Request::SuspendKey { .. } => "SuspendKey",
            Request::ReinstateKey { .. } => "ReinstateKey",
            Request::GenerateMac { .. } => "GenerateMac",
            Request::VerifyMac { .. } => "VerifyMac",
            Request::Sign { .. } => "Sign",
            Request::DeriveSharedSecret { .. } => "DeriveSharedSecret",
            Request::PrepareImport { .. } => "PrepareImport",
            Request::ImportKeyMaterial { .. } => "ImportKeyMaterial",
            Request::GenerateDataKeyPair { .. } => "GenerateDataKeyPair",
            Request::Verify { .. } => "Verify",
            Request::GetPublicKey { .. } => "GetPublicKey",
            Request::AsymmetricDecrypt { .. } => "AsymmetricDecrypt",
            Request::AsymmetricEncrypt { .. } => "AsymmetricEncrypt",
            Request::Status => "Status",
            Request::Command(_) => "Command",
            Request::GetDomainToken { .. } => "GetDomainToken",
            Request::ListDomains => "ListDomains",
            Request::Attest { .. } => "Attest",
            Request::ListLogs => "ListLogs",
            Request::DescribeLog { .. } => "DescribeLog",
            Request::GetLog { .. } => "GetLog",
            Request::RewrapKeys { .. } => "RewrapKeys",
            Request::RewrapCredentials { .. } => "RewrapCredentials",
            Request::InDomain { .. } => "InDomain",
            Request::GenerateOwnedBackingKey { .. } => "GenerateOwnedBackingKey",
            Request::RotateBackingKey { .. } => "RotateBackingKey",
            Request::UpdateSuspensionOwner { .. } => "UpdateSuspensionOwner",
            Request::RevealDerivedKey { .. } => "RevealDerivedKey",
            Request::SignAuditSeal { .. } => "SignAuditSeal",
            Request::AuditSealKeys => "AuditSealKeys",
            Request::XksEncrypt { .. } => "XksEncrypt",
            Request::XksDecrypt { .. } => "XksDecrypt",
        })
    }
}

/// A module's answer. `Debug` shows only the shape: never plaintexts,
/// data keys or random bytes.
#[derive(Serialize, Deserialize)]
pub enum Response {
    /// The EKT of a new key version (GenerateBackingKey,
    /// GenerateOwnedBackingKey, RotateBackingKey), for the store.
    Ekt(Ekt),
    /// A ciphertext blob (Encrypt, ReEncrypt), or RSA-OAEP ciphertext
    /// (AsymmetricEncrypt).
    Ciphertext(Vec<u8>),
    /// A decrypted plaintext and the key version that opened it.
    Plaintext {
        /// The key version that opened it (for Decrypt, the one the
        /// blob's header names).
        key: KeyRef,
        /// The plaintext (or ECDH shared secret), for the authorised caller.
        plaintext: Zeroizing<Vec<u8>>,
    },
    /// A data key (GenerateDataKey), or a derived key and its token
    /// (DeriveKey, RevealDerivedKey).
    DataKey(DataKey),
    /// GenerateRandom's bytes, from the module's CSPRNG.
    Random(Vec<u8>),
    /// A secret access key sealed under the domain (SealCredential), for
    /// the store.
    SealedCredential(Vec<u8>),
    /// A day-scoped SigV4 signing key (DeriveSigV4Key).
    SigningKey(SigningKey),
    /// The request was carried out; nothing to return.
    Done,
    /// What Status reports: identity, mode, domains, cache use.
    Status(Box<crate::admin::ModuleStatus>),
    /// A domain's signed token: GetDomainToken's, or the new one a domain
    /// command produced (members take it in with IngestDomain).
    DomainToken(crate::admin::DomainToken),
    /// ListDomains: one summary per domain the module holds.
    Domains(Vec<crate::admin::DomainSummary>),
    /// A signed attestation report echoing Attest's nonce.
    Attestation(crate::admin::AttestationReport),
    /// Log descriptions (ListLogs; DescribeLog answers one).
    Logs(Vec<crate::admin::LogInfo>),
    /// GetLog's bytes of one log, at most 4 MiB.
    LogBytes(Vec<u8>),
    /// Re-sealed EKTs, in request order.
    Ekts(Vec<Ekt>),
    /// Re-sealed credentials, in request order.
    SealedCredentials(Vec<Vec<u8>>),
    /// GenerateMac's HMAC of the message.
    Mac(Vec<u8>),
    /// Whether VerifyMac's MAC or Verify's signature is valid.
    Valid(bool),
    /// Sign's signature over the message or digest.
    Signature(Vec<u8>),
    /// GetPublicKey's answer, DER SPKI.
    PublicKey(Vec<u8>),
    /// An exposed key: its EKT and its material in clear.
    ExposedKey {
        /// The new version's EKT, for the store.
        ekt: Ekt,
        /// The AES key, the HMAC key, or the private key as PKCS#8.
        material: Zeroizing<Vec<u8>>,
    },
    /// ShredKey's statement, signed by the module, that it dropped every
    /// cached copy.
    Shredded(crate::admin::ShredStatement),
    /// A suspended key: the owner's blob, and its MAC for ReinstateKey.
    Suspended {
        /// Every version's material, wrapped to the owner's RSA key.
        blob: Vec<u8>,
        /// MAC of the bundle under the domain; the frontend keeps it and
        /// passes it back as ReinstateKey's `expected_fingerprint`.
        fingerprint: Vec<u8>,
    },
    /// Every version sealed again, for the store (ReinstateKey,
    /// UpdateSuspensionOwner).
    Reinstated(Vec<(KeyRef, Ekt)>),
    /// PrepareImport's answer.
    ImportParameters {
        /// The wrapping public key, DER SPKI.
        public_key: Vec<u8>,
        /// The wrapping private key sealed under the domain, bound to the
        /// key, algorithm and expiry; ImportKeyMaterial takes it back.
        import_token: Vec<u8>,
    },
    /// ImportKeyMaterial's answer: the material sealed as a key version.
    Imported {
        /// The version's EKT, for the store.
        ekt: Ekt,
        /// HMAC of the material under the domain: equal material, equal value.
        fingerprint: Vec<u8>,
    },
    /// GenerateDataKeyPair's answer.
    DataKeyPair {
        /// The private key as PKCS#8, when asked for.
        private_plaintext: Option<Zeroizing<Vec<u8>>>,
        /// The private key as a ciphertext blob under the symmetric key.
        private_ciphertext: Vec<u8>,
        /// The public key, DER SPKI.
        public_key: Vec<u8>,
    },
    /// A VOLATILE key's transient token, for the other members only.
    TransientEkt(TransientEkt),

    // ---- Audit seal (see the requests of the same name).
    /// An audit seal: the key that made it and its signature over
    /// [`crate::AUDIT_SEAL_CONTEXT`] ‖ message.
    AuditSeal {
        /// The key (its generation and public key).
        key: AuditSealKey,
        /// The 64-byte Ed25519 signature.
        signature: Vec<u8>,
    },
    /// The domain's audit seal public keys, oldest generation first.
    AuditSealKeys(Vec<AuditSealKey>),
    // XKS proxy API (crate::xks).
    /// An XKS-sealed message and, when asked for, its SHA-256 ciphertext
    /// data integrity value.
    XksSealed {
        /// The sealed message in the API's pieces.
        sealed: crate::xks::XksSealed,
        /// The ciphertext data integrity value, when XksEncrypt asked for it.
        cdiv: Option<[u8; 32]>,
    },
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Response::Ekt(e) => write!(f, "Ekt({} bytes)", e.0.len()),
            Response::TransientEkt(e) => write!(f, "TransientEkt({} bytes)", e.0.len()),
            Response::AuditSeal { key, .. } => write!(f, "AuditSeal({key:?})"),
            Response::AuditSealKeys(k) => write!(f, "AuditSealKeys({k:?})"),
            Response::Ciphertext(c) => write!(f, "Ciphertext({} bytes)", c.len()),
            Response::Plaintext { key, plaintext } => {
                write!(
                    f,
                    "Plaintext {{ key: {key:?}, plaintext: <{} bytes redacted> }}",
                    plaintext.len()
                )
            }
            Response::DataKey(d) => write!(f, "DataKey({d:?})"),
            Response::Random(r) => write!(f, "Random(<{} bytes redacted>)", r.len()),
            Response::SealedCredential(s) => write!(f, "SealedCredential({} bytes)", s.len()),
            Response::SigningKey(k) => write!(f, "SigningKey({k:?})"),
            Response::Done => f.write_str("Done"),
            Response::Status(s) => write!(f, "{s:?}"),
            Response::DomainToken(t) => write!(f, "DomainToken({} bytes)", t.body.len()),
            Response::Domains(d) => write!(f, "{d:?}"),
            Response::Attestation(a) => write!(f, "Attestation({} bytes)", a.body.len()),
            Response::Logs(l) => write!(f, "{l:?}"),
            Response::LogBytes(b) => write!(f, "LogBytes({} bytes)", b.len()),
            Response::Ekts(e) => write!(f, "Ekts({})", e.len()),
            Response::SealedCredentials(c) => write!(f, "SealedCredentials({})", c.len()),
            Response::Mac(m) => write!(f, "Mac({} bytes)", m.len()),
            Response::Valid(v) => write!(f, "Valid({v})"),
            Response::Signature(s) => write!(f, "Signature({} bytes)", s.len()),
            Response::PublicKey(k) => write!(f, "PublicKey({} bytes)", k.len()),
            Response::ImportParameters { .. } => f.write_str("ImportParameters"),
            Response::Imported { .. } => f.write_str("Imported"),
            Response::Shredded(_) => f.write_str("Shredded"),
            Response::ExposedKey { ekt, .. } => {
                write!(f, "ExposedKey({} bytes, material <redacted>)", ekt.0.len())
            }
            Response::Suspended { blob, .. } => write!(f, "Suspended({} bytes)", blob.len()),
            Response::Reinstated(v) => write!(f, "Reinstated({} versions)", v.len()),
            Response::XksSealed { sealed, .. } => {
                write!(f, "XksSealed({} bytes)", sealed.ciphertext.len())
            }
            Response::DataKeyPair {
                private_ciphertext, ..
            } => write!(
                f,
                "DataKeyPair {{ private: <redacted>, private_ciphertext: {} bytes }}",
                private_ciphertext.len()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ml_dsa_spec_codes_round_trip_and_are_asymmetric() {
        use strongroom_crypto::AsymmetricSpec as A;
        for (name, byte, asym) in [
            ("ML_DSA_44", 48, A::MlDsa44),
            ("ML_DSA_65", 49, A::MlDsa65),
            ("ML_DSA_87", 50, A::MlDsa87),
        ] {
            let code = KeySpecCode::from_aws(name).unwrap();
            assert_eq!(code as u8, byte);
            assert_eq!(KeySpecCode::from_u8(byte), Some(code));
            assert_eq!(code.asymmetric(), Some(asym));
            assert_eq!(code.hmac(), None);
        }
        assert_eq!(KeySpecCode::from_u8(51), None);
        assert_eq!(KeySpecCode::from_aws("ML_DSA_128"), None);
    }

    #[test]
    fn debug_never_shows_secret_bytes() {
        let key = KeyRef {
            key_id: uuid::Uuid::nil(),
            version: 1,
        };
        let secret = vec![0xAB; 4];
        let shown = [
            format!(
                "{:?}",
                Response::Plaintext {
                    key,
                    plaintext: Zeroizing::new(secret.clone())
                }
            ),
            format!("{:?}", Response::Random(secret.clone())),
            format!(
                "{:?}",
                Response::DataKey(DataKey {
                    plaintext: Some(Zeroizing::new(secret.clone())),
                    ciphertext: vec![]
                })
            ),
            format!(
                "{:?}",
                Response::SigningKey(SigningKey(Zeroizing::new([0xAB; 32])))
            ),
            format!(
                "{:?}",
                Request::Encrypt {
                    key,
                    ekt: Ekt(vec![]),
                    plaintext: Zeroizing::new(secret),
                    context: vec![]
                }
            ),
        ];
        for s in shown {
            assert!(
                !s.contains("171") && !s.to_lowercase().contains("ab, "),
                "{s}"
            );
        }
    }
}
