//! Which of the narrowed module clients may send each module request, and
//! the keys it names. One exhaustive match with no wildcard arm: a new
//! [`Request`] variant does not compile until someone decides who may send
//! it. Both narrowed clients ([`super::KeyModule`], [`super::ChangeModule`])
//! check a request here before it leaves the frontend.

use strongroom_hsm_proto::{HsmError, KeyRef, Request};
use uuid::Uuid;

/// Who may send a module request from a request handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Scope {
    /// A cryptographic use of this key for the caller's data that changes
    /// no key and releases no key material: [`super::KeyModule`], for a key
    /// the request was authorized on (Reads and Writes rows alike).
    UseOf(Uuid),
    /// Creates, changes, drops or releases the material of these keys
    /// (every key the request names, repeats included):
    /// [`super::ChangeModule`] only, under a `Change` that covers them all
    /// (a `Writes` row that made all its decisions and recorded its intent).
    ChangeOf(Vec<Uuid>),
    /// Not sent through `call` by a handler: Decrypt names its key only in
    /// the ciphertext (the typed `KeyModule::decrypt` sends it with the
    /// authorized key's EKT), GenerateRandom goes through the keyless
    /// client's typed call, and administration, credentials and the domain
    /// wrapper are the operator's, the authenticator's and the client's;
    /// audit seals are the audit writer's.
    Never,
}

/// The scope of `request`.
pub(super) fn scope(request: &Request) -> Scope {
    let change = |ids: &[Uuid]| Scope::ChangeOf(ids.to_vec());
    let versions = |key_id: &Uuid, versions: &[(KeyRef, strongroom_hsm_proto::Ekt)]| {
        Scope::ChangeOf(
            std::iter::once(*key_id)
                .chain(versions.iter().map(|(v, _)| v.key_id))
                .collect(),
        )
    };
    match request {
        Request::Encrypt { key, .. }
        | Request::GenerateDataKey { key, .. }
        | Request::GenerateMac { key, .. }
        | Request::VerifyMac { key, .. }
        | Request::Sign { key, .. }
        | Request::Verify { key, .. }
        | Request::GetPublicKey { key, .. }
        | Request::AsymmetricDecrypt { key, .. }
        | Request::AsymmetricEncrypt { key, .. }
        | Request::DeriveSharedSecret { key, .. }
        | Request::GenerateDataKeyPair { key, .. }
        | Request::XksEncrypt { key, .. }
        | Request::XksDecrypt { key, .. } => Scope::UseOf(key.key_id),
        // The source is opened by its EKT, which only the source key's own
        // authorization hands out; the destination is the key used.
        Request::ReEncrypt { destination, .. } => Scope::UseOf(destination.key_id),

        // New material: only under the Change that is creating or rotating
        // the key.
        Request::GenerateBackingKey { key, .. }
        | Request::GenerateOwnedBackingKey { key, .. }
        | Request::GenerateVolatileKey { key, .. }
        | Request::InstallVolatileKey { key, .. }
        | Request::GenerateExposedKey { key, .. }
        | Request::RotateBackingKey { key, .. }
        | Request::ImportKeyMaterial { key, .. } => change(&[key.key_id]),
        // Material in clear: the module answers the derived key even when
        // the handler drops it, so DeriveKey is as much a release as the
        // reveal (both only on DeriveKey's Writes row).
        Request::DeriveKey { key, .. } | Request::RevealDerivedKey { key, .. } => {
            change(&[key.key_id])
        }
        Request::PrepareImport { key_id, .. }
        | Request::ReinstateKey { key_id, .. }
        | Request::ForgetKey { key_id }
        | Request::ShredKey { key_id } => change(&[*key_id]),
        Request::SuspendKey {
            key_id,
            versions: v,
            ..
        }
        | Request::UpdateSuspensionOwner {
            key_id,
            versions: v,
            ..
        } => versions(key_id, v),

        Request::Decrypt { .. }
        | Request::GenerateRandom { .. }
        | Request::SealCredential { .. }
        | Request::DeriveSigV4Key { .. }
        | Request::Status
        | Request::Command(_)
        | Request::GetDomainToken { .. }
        | Request::ListDomains
        | Request::Attest { .. }
        | Request::ListLogs
        | Request::DescribeLog { .. }
        | Request::GetLog { .. }
        | Request::RewrapKeys { .. }
        | Request::RewrapCredentials { .. }
        | Request::InDomain { .. }
        | Request::SignAuditSeal { .. }
        | Request::AuditSealKeys => Scope::Never,
    }
}

/// The refusal of a request a narrowed client may not send: a bug in the
/// handler, refused before anything reaches a module.
pub(super) fn refused(request: &Request, client: &str, keys: &[Uuid]) -> HsmError {
    tracing::error!(
        request = ?request,
        client,
        "a handler sent a module request its narrowed client does not allow"
    );
    HsmError::Internal(format!(
        "{request:?} is not a request the {client} client for {keys:?} may send"
    ))
}

#[cfg(test)]
mod tests;
