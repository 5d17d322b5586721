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
            _ => return None,
        })
    }

    /// The asymmetric spec, for RSA and ECC keys.
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

/// A request from the frontend to a module. `Clone` so a router can retry
/// on another member; clones of plaintexts are zeroized too.
#[derive(Clone, Serialize, Deserialize)]
pub enum Request {
    /// Generate a fresh backing key for `key` and return its EKT.
    GenerateBackingKey { key: KeyRef, spec: KeySpecCode },
    /// Generate a VOLATILE key (extension): kept only in module memory. The
    /// answered EKT is transient, only to install it in the other members.
    GenerateVolatileKey { key: KeyRef, spec: KeySpecCode },
    /// Keep a volatile key (from another member's transient EKT) in memory.
    InstallVolatileKey { key: KeyRef, ekt: TransientEkt },
    /// Like GenerateBackingKey, but also return the key material in clear
    /// (an exposed key, extension): AES key, HMAC key, or PKCS#8.
    GenerateExposedKey { key: KeyRef, spec: KeySpecCode },
    /// Encrypt customer data under `key`.
    Encrypt {
        key: KeyRef,
        ekt: Ekt,
        plaintext: Zeroizing<Vec<u8>>,
        /// Canonical encryption context (see [`crate::context`]).
        context: Vec<u8>,
    },
    /// Decrypt a ciphertext blob; `ekt` is the version its header names.
    Decrypt {
        ekt: Ekt,
        ciphertext: Vec<u8>,
        context: Vec<u8>,
    },
    /// Decrypt under one key and encrypt under another, inside the module.
    ReEncrypt {
        source_ekt: Ekt,
        ciphertext: Vec<u8>,
        source_context: Vec<u8>,
        destination: KeyRef,
        destination_ekt: Ekt,
        destination_context: Vec<u8>,
    },
    /// Generate `length` random bytes as a data key, encrypted under `key`.
    GenerateDataKey {
        key: KeyRef,
        ekt: Ekt,
        context: Vec<u8>,
        length: u16,
        with_plaintext: bool,
    },
    /// Derive a key from `key` and a context (DeriveKey, extension): the
    /// derived key and its derived-key token under `key` (`context` bound
    /// as additional data), answered as a `DataKey`. Decrypt never opens
    /// the token; only [`Request::RevealDerivedKey`] does.
    DeriveKey {
        key: KeyRef,
        ekt: Ekt,
        context: Vec<u8>,
        length: u16,
    },
    /// Random bytes from the module's CSPRNG.
    GenerateRandom { length: u16 },
    /// Seal a secret access key under the domain so the store never holds it.
    SealCredential {
        access_key_id: String,
        secret: Zeroizing<String>,
    },
    /// Derive a SigV4 signing key from a sealed secret access key.
    DeriveSigV4Key {
        access_key_id: String,
        sealed: Vec<u8>,
        scope: SigV4Scope,
    },
    /// HMAC of `message` under an HMAC key.
    GenerateMac {
        key: KeyRef,
        ekt: Ekt,
        message: Zeroizing<Vec<u8>>,
    },
    /// Whether `mac` is the HMAC of `message` (compared in constant time).
    VerifyMac {
        key: KeyRef,
        ekt: Ekt,
        message: Zeroizing<Vec<u8>>,
        mac: Vec<u8>,
    },
    /// Sign with an asymmetric key (`algorithm` by AWS name).
    Sign {
        key: KeyRef,
        ekt: Ekt,
        message: Zeroizing<Vec<u8>>,
        /// `message` is already a digest (MessageType DIGEST).
        digest: bool,
        algorithm: String,
    },
    /// Verify a signature with an asymmetric key.
    Verify {
        key: KeyRef,
        ekt: Ekt,
        message: Zeroizing<Vec<u8>>,
        digest: bool,
        algorithm: String,
        signature: Vec<u8>,
    },
    /// The public key (DER SPKI) of an asymmetric key.
    GetPublicKey { key: KeyRef, ekt: Ekt },
    /// RSA-OAEP decryption (`algorithm` `RSAES_OAEP_SHA_1` or `_256`).
    AsymmetricDecrypt {
        key: KeyRef,
        ekt: Ekt,
        ciphertext: Vec<u8>,
        algorithm: String,
    },
    /// RSA-OAEP encryption to an RSA key's public half.
    AsymmetricEncrypt {
        key: KeyRef,
        ekt: Ekt,
        plaintext: Zeroizing<Vec<u8>>,
        algorithm: String,
    },
    /// ECDH between a KEY_AGREEMENT key and a peer public key (DER SPKI);
    /// answers the shared secret as a `Plaintext`.
    DeriveSharedSecret {
        key: KeyRef,
        ekt: Ekt,
        peer_public_key: Vec<u8>,
    },
    /// Generate an asymmetric data key pair; return its private key sealed
    /// under the symmetric `key` (and in clear when asked) and its public key.
    GenerateDataKeyPair {
        key: KeyRef,
        ekt: Ekt,
        context: Vec<u8>,
        pair_spec: KeySpecCode,
        with_plaintext: bool,
    },
    /// Make an RSA wrapping key for importing key material into `key_id`:
    /// answers its public key and an import token (the wrapping private key
    /// sealed under the domain, bound to the key, algorithm and expiry).
    PrepareImport {
        key_id: Uuid,
        wrapping_spec: KeySpecCode,
        /// `RSAES_OAEP_SHA_1/256` or `RSA_AES_KEY_WRAP_SHA_1/256`.
        algorithm: String,
        /// Unix seconds the token stays valid until.
        valid_to: u64,
    },
    /// Unwrap imported material with an import token and seal it as the
    /// EKT of `key`; answers the EKT and a fingerprint of the material.
    ImportKeyMaterial {
        key: KeyRef,
        import_token: Vec<u8>,
        encrypted_material: Vec<u8>,
    },
    /// Drop every cached copy of a key's backing keys.
    ForgetKey { key_id: uuid::Uuid },
    /// Drop every cached copy and sign a statement saying so (ShredKey).
    ShredKey { key_id: uuid::Uuid },
    /// Wrap every version of a key to its owner's RSA key and drop every
    /// cached copy (SuspendKey).
    SuspendKey {
        key_id: Uuid,
        versions: Vec<(KeyRef, Ekt)>,
        owner_public_key: Vec<u8>,
    },
    /// Take suspended material back, re-wrapped to an import key, if it is
    /// what was suspended (ReinstateKey).
    ReinstateKey {
        key_id: Uuid,
        import_token: Vec<u8>,
        encrypted_bundle: Vec<u8>,
        expected_fingerprint: Vec<u8>,
    },
    /// Describe the module (id, mode, domains, cache use); never secrets.
    Status,
    /// An operator command; answered per command (often a domain token).
    Command(crate::admin::SignedCommand),
    /// The current token of a domain this module is a member of.
    GetDomainToken { domain_id: Uuid },
    /// The domains this module holds.
    ListDomains,
    /// A signed attestation report echoing `nonce`.
    Attest { nonce: Vec<u8> },
    /// The module's audit logs.
    ListLogs,
    /// One log's hash and size.
    DescribeLog { log_id: u64 },
    /// Bytes of one log.
    GetLog {
        log_id: u64,
        offset: u64,
        length: u64,
    },
    /// Re-seal EKTs under the newest generation of their domain.
    RewrapKeys { ekts: Vec<Ekt> },
    /// Re-seal sealed secret access keys (id, sealed) under the newest generation.
    RewrapCredentials { credentials: Vec<(String, Vec<u8>)> },
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
        key: KeyRef,
        spec: KeySpecCode,
        suspension_owner: Vec<u8>,
    },
    /// A new version of a key (rotation): same spec and suspension owner as
    /// `previous`, an earlier version's EKT of the same key.
    RotateBackingKey { key: KeyRef, previous: Ekt },
    /// Re-bind every version of a key to a new suspension owner, with the
    /// current owner's signature over the change (docs/extensions.md).
    UpdateSuspensionOwner {
        key_id: Uuid,
        versions: Vec<(KeyRef, Ekt)>,
        current_owner: Vec<u8>,
        new_owner: Vec<u8>,
        valid_to: u64,
        signature: Vec<u8>,
    },
    /// Open a derived-key token made by DeriveKey under `key` (the version
    /// its header names) with `context`: the derived key, answered as a
    /// `DataKey` (the token as its ciphertext). The frontend sends it only
    /// for callers allowed kms:RevealDerivedKey.
    RevealDerivedKey {
        key: KeyRef,
        ekt: Ekt,
        token: Vec<u8>,
        context: Vec<u8>,
    },

    // ---- Audit seal (docs/audit.md, "The seal key"). Kept together at the
    // end of the enum: postcard numbers variants by position.
    /// Sign an audit footer or receipt with the domain's audit seal key
    /// (Ed25519, derived from the newest domain-key generation). The module
    /// signs [`crate::AUDIT_SEAL_CONTEXT`] ‖ `message`, never `message` alone, so
    /// this is no signing oracle for anything but audit seals. At most
    /// [`crate::MAX_AUDIT_SEAL_MESSAGE`] bytes.
    SignAuditSeal { message: Vec<u8> },
    /// The domain's audit seal public keys, one per domain-key generation
    /// the module holds.
    AuditSealKeys,
    // XKS proxy API (crate::xks, docs/xks.md).
    /// AES-256-GCM under a message key derived from `key`, with the
    /// caller's additional data as the XKS specification builds it; with
    /// `with_cdiv`, also the ciphertext data integrity value, computed
    /// before the module checks that the result opens.
    XksEncrypt {
        key: KeyRef,
        ekt: Ekt,
        plaintext: Zeroizing<Vec<u8>>,
        aad: Vec<u8>,
        with_cdiv: bool,
    },
    /// Opens what XksEncrypt sealed under `key` (the version its metadata
    /// names), answered as a `Plaintext`.
    XksDecrypt {
        key: KeyRef,
        ekt: Ekt,
        sealed: crate::xks::XksSealed,
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
    /// The EKT of a newly generated backing key.
    Ekt(Ekt),
    /// A ciphertext blob.
    Ciphertext(Vec<u8>),
    /// A decrypted plaintext and the key version that opened it.
    Plaintext {
        key: KeyRef,
        plaintext: Zeroizing<Vec<u8>>,
    },
    /// A data key.
    DataKey(DataKey),
    /// Random bytes.
    Random(Vec<u8>),
    /// A sealed credential.
    SealedCredential(Vec<u8>),
    /// A derived SigV4 signing key.
    SigningKey(SigningKey),
    /// Done, nothing to return.
    Done,
    /// Module status.
    Status(Box<crate::admin::ModuleStatus>),
    /// A domain token.
    DomainToken(crate::admin::DomainToken),
    /// Domains held.
    Domains(Vec<crate::admin::DomainSummary>),
    /// An attestation report.
    Attestation(crate::admin::AttestationReport),
    /// Log descriptions.
    Logs(Vec<crate::admin::LogInfo>),
    /// Log bytes.
    LogBytes(Vec<u8>),
    /// Re-sealed EKTs, in request order.
    Ekts(Vec<Ekt>),
    /// Re-sealed credentials, in request order.
    SealedCredentials(Vec<Vec<u8>>),
    /// A MAC.
    Mac(Vec<u8>),
    /// Whether a MAC or signature verified.
    Valid(bool),
    /// A signature.
    Signature(Vec<u8>),
    /// A public key, DER SPKI.
    PublicKey(Vec<u8>),
    /// An exposed key: its EKT and its material in clear.
    ExposedKey {
        ekt: Ekt,
        material: Zeroizing<Vec<u8>>,
    },
    /// A signed shred statement.
    Shredded(crate::admin::ShredStatement),
    /// A suspended key: the owner's blob, and its MAC for ReinstateKey.
    Suspended { blob: Vec<u8>, fingerprint: Vec<u8> },
    /// Reinstated versions, sealed again.
    Reinstated(Vec<(KeyRef, Ekt)>),
    /// Import parameters.
    ImportParameters {
        /// The wrapping public key, DER SPKI.
        public_key: Vec<u8>,
        /// The import token.
        import_token: Vec<u8>,
    },
    /// Imported material, sealed.
    Imported {
        /// Its EKT.
        ekt: Ekt,
        /// HMAC of the material under the domain: equal material, equal value.
        fingerprint: Vec<u8>,
    },
    /// A data key pair.
    DataKeyPair {
        /// PKCS#8, when asked for.
        private_plaintext: Option<Zeroizing<Vec<u8>>>,
        /// The private key as a ciphertext blob under the symmetric key.
        private_ciphertext: Vec<u8>,
        /// DER SPKI.
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
        sealed: crate::xks::XksSealed,
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
