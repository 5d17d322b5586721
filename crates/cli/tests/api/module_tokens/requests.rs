//! One request of every type a module takes, and what a peer no domain
//! lists must get for each.

use strongroom_hsm_proto::admin::SignedCommand;
use strongroom_hsm_proto::{Ekt, KeyRef, KeySpecCode, Request, SigV4Scope, TransientEkt};
use zeroize::Zeroizing;

/// What a peer that no domain lists gets for each request. No wildcard: a
/// new request type must be placed here.
#[derive(Debug, PartialEq)]
pub(super) enum Stranger {
    /// Public and read-only.
    Answered,
    /// Refused as an unlisted host, by the network side.
    NotAuthorized,
    /// An operator command without a quorum: refused by the module.
    CommandRefused,
    /// A bulk frame: the connection is cut before the body is read.
    CutOff,
}

pub(super) fn stranger_gets(r: &Request) -> Stranger {
    use Stranger::*;
    match r {
        Request::Status
        | Request::Attest { .. }
        | Request::ListDomains
        | Request::GetDomainToken { .. }
        | Request::ListLogs
        | Request::DescribeLog { .. }
        | Request::GetLog { .. } => Answered,
        Request::Command(_) => CommandRefused,
        // Wrapped or not, the network side judges the request inside.
        Request::InDomain { request, .. } => stranger_gets(request),
        Request::RewrapKeys { .. }
        | Request::RewrapCredentials { .. }
        | Request::SuspendKey { .. }
        | Request::ReinstateKey { .. } => CutOff,
        Request::GenerateBackingKey { .. }
        | Request::GenerateVolatileKey { .. }
        | Request::InstallVolatileKey { .. }
        | Request::GenerateExposedKey { .. }
        | Request::Encrypt { .. }
        | Request::Decrypt { .. }
        | Request::ReEncrypt { .. }
        | Request::GenerateDataKey { .. }
        | Request::DeriveKey { .. }
        | Request::RevealDerivedKey { .. }
        | Request::GenerateRandom { .. }
        | Request::SealCredential { .. }
        | Request::DeriveSigV4Key { .. }
        | Request::GenerateMac { .. }
        | Request::VerifyMac { .. }
        | Request::Sign { .. }
        | Request::Verify { .. }
        | Request::GetPublicKey { .. }
        | Request::AsymmetricDecrypt { .. }
        | Request::AsymmetricEncrypt { .. }
        | Request::DeriveSharedSecret { .. }
        | Request::GenerateDataKeyPair { .. }
        | Request::PrepareImport { .. }
        | Request::ImportKeyMaterial { .. }
        | Request::GenerateOwnedBackingKey { .. }
        | Request::RotateBackingKey { .. }
        | Request::UpdateSuspensionOwner { .. }
        | Request::ForgetKey { .. }
        | Request::ShredKey { .. }
        | Request::SignAuditSeal { .. }
        | Request::AuditSealKeys => NotAuthorized,
        Request::XksEncrypt { .. } | Request::XksDecrypt { .. } => NotAuthorized,
    }
}

/// One request of every type, aimed at `key` (whose EKT is `ekt`).
pub(super) fn every_request(key: KeyRef, ekt: &Ekt, domain: uuid::Uuid) -> Vec<Request> {
    [
        key_making_requests(key, ekt),
        symmetric_requests(key, ekt),
        random_credential_and_mac_requests(key, ekt),
        asymmetric_and_import_requests(key, ekt),
        module_requests(key, ekt, domain),
    ]
    .concat()
}

/// A zeroizing buffer of `n` sevens.
fn bytes(n: usize) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(vec![7u8; n])
}

/// Requests that make, rotate or expose a key.
fn key_making_requests(key: KeyRef, ekt: &Ekt) -> Vec<Request> {
    let e = || ekt.clone();
    vec![
        Request::GenerateBackingKey {
            key,
            spec: KeySpecCode::SymmetricDefault,
        },
        Request::GenerateVolatileKey {
            key,
            spec: KeySpecCode::SymmetricDefault,
        },
        Request::InstallVolatileKey {
            key,
            ekt: TransientEkt(ekt.0.clone()),
        },
        Request::GenerateOwnedBackingKey {
            key,
            spec: KeySpecCode::SymmetricDefault,
            suspension_owner: vec![0; 294],
        },
        Request::RotateBackingKey { key, previous: e() },
        Request::UpdateSuspensionOwner {
            key_id: key.key_id,
            versions: vec![(key, e())],
            current_owner: vec![0; 294],
            new_owner: vec![1; 294],
            valid_to: u64::MAX,
            signature: vec![0; 256],
        },
        Request::GenerateExposedKey {
            key,
            spec: KeySpecCode::SymmetricDefault,
        },
    ]
}

/// Requests that use a symmetric key (XKS included) or derive from one.
fn symmetric_requests(key: KeyRef, ekt: &Ekt) -> Vec<Request> {
    let e = || ekt.clone();
    vec![
        Request::XksEncrypt {
            key,
            ekt: e(),
            plaintext: bytes(16),
            aad: vec![],
            with_cdiv: true,
        },
        Request::XksDecrypt {
            key,
            ekt: e(),
            sealed: strongroom_hsm_proto::xks::XksSealed {
                metadata: vec![0x58; 20],
                iv: vec![0; 12],
                ciphertext: vec![0; 16],
                tag: vec![0; 16],
            },
            aad: vec![],
        },
        Request::Encrypt {
            key,
            ekt: e(),
            plaintext: bytes(16),
            context: vec![],
        },
        Request::Decrypt {
            ekt: e(),
            ciphertext: vec![1; 80],
            context: vec![],
        },
        Request::ReEncrypt {
            source_ekt: e(),
            ciphertext: vec![1; 80],
            source_context: vec![],
            destination: key,
            destination_ekt: e(),
            destination_context: vec![],
        },
        Request::GenerateDataKey {
            key,
            ekt: e(),
            context: vec![],
            length: 32,
            with_plaintext: true,
        },
        Request::DeriveKey {
            key,
            ekt: e(),
            context: vec![],
            length: 32,
        },
        Request::RevealDerivedKey {
            key,
            ekt: e(),
            token: vec![0xD1; 81],
            context: vec![],
        },
    ]
}

/// Randomness, access key sealing and SigV4 keys, and MACs.
fn random_credential_and_mac_requests(key: KeyRef, ekt: &Ekt) -> Vec<Request> {
    let e = || ekt.clone();
    vec![
        Request::GenerateRandom { length: 32 },
        Request::SealCredential {
            access_key_id: "AKIA".into(),
            secret: Zeroizing::new("s".into()),
        },
        Request::DeriveSigV4Key {
            access_key_id: "AKIA".into(),
            sealed: vec![1; 60],
            scope: SigV4Scope {
                date: "20260101".into(),
                region: "us-east-1".into(),
                service: "kms".into(),
            },
        },
        Request::GenerateMac {
            key,
            ekt: e(),
            message: bytes(8),
        },
        Request::VerifyMac {
            key,
            ekt: e(),
            message: bytes(8),
            mac: vec![0; 32],
        },
    ]
}

/// Requests that use an asymmetric key, and key import.
fn asymmetric_and_import_requests(key: KeyRef, ekt: &Ekt) -> Vec<Request> {
    let e = || ekt.clone();
    vec![
        Request::Sign {
            key,
            ekt: e(),
            message: bytes(8),
            digest: false,
            algorithm: "ECDSA_SHA_256".into(),
        },
        Request::Verify {
            key,
            ekt: e(),
            message: bytes(8),
            digest: false,
            algorithm: "ECDSA_SHA_256".into(),
            signature: vec![0; 64],
        },
        Request::GetPublicKey { key, ekt: e() },
        Request::AsymmetricDecrypt {
            key,
            ekt: e(),
            ciphertext: vec![0; 256],
            algorithm: "RSAES_OAEP_SHA_256".into(),
        },
        Request::AsymmetricEncrypt {
            key,
            ekt: e(),
            plaintext: bytes(8),
            algorithm: "RSAES_OAEP_SHA_256".into(),
        },
        Request::DeriveSharedSecret {
            key,
            ekt: e(),
            peer_public_key: vec![0; 91],
        },
        Request::GenerateDataKeyPair {
            key,
            ekt: e(),
            context: vec![],
            pair_spec: KeySpecCode::EccNistP256,
            with_plaintext: true,
        },
        Request::PrepareImport {
            key_id: key.key_id,
            wrapping_spec: KeySpecCode::Rsa2048,
            algorithm: "RSAES_OAEP_SHA_256".into(),
            valid_to: u64::MAX,
        },
        Request::ImportKeyMaterial {
            key,
            import_token: vec![0; 64],
            encrypted_material: vec![0; 256],
        },
    ]
}

/// Key removal, suspension, and the module's own reads and commands.
fn module_requests(key: KeyRef, ekt: &Ekt, domain: uuid::Uuid) -> Vec<Request> {
    let e = || ekt.clone();
    vec![
        Request::ForgetKey { key_id: key.key_id },
        Request::ShredKey { key_id: key.key_id },
        Request::SuspendKey {
            key_id: key.key_id,
            versions: vec![(key, e())],
            owner_public_key: vec![0; 294],
        },
        Request::ReinstateKey {
            key_id: key.key_id,
            import_token: vec![0; 64],
            encrypted_bundle: vec![0; 300],
            expected_fingerprint: vec![0; 32],
        },
        Request::Status,
        Request::Command(SignedCommand {
            body: vec![2, 0],
            signatures: vec![],
        }),
        Request::GetDomainToken { domain_id: domain },
        Request::ListDomains,
        Request::Attest { nonce: vec![1; 16] },
        Request::ListLogs,
        Request::DescribeLog { log_id: 1 },
        Request::GetLog {
            log_id: 1,
            offset: 0,
            length: 64,
        },
        Request::RewrapKeys { ekts: vec![e()] },
        Request::RewrapCredentials {
            credentials: vec![("AKIA".into(), vec![1; 60])],
        },
        // A stranger's forged audit footer, to be signed by the module.
        Request::SignAuditSeal {
            message: b"strongroom audit footer v1\0forged".to_vec(),
        },
        Request::AuditSealKeys,
    ]
}
