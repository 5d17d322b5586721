//! Request-body parsing without a processor, for the fuzz targets in
//! /fuzz: each operation's body is parsed exactly as the dispatcher does,
//! into the same request type, and nothing else happens.
//!
//! Which request type each operation parses into is listed here once more
//! than in the handlers' signatures; a test fails for any served row of the
//! operation table this file does not know.

use serde::de::DeserializeOwned;

use super::asymmetric::{DeriveSharedSecretRequest, SignatureRequest};
use super::data_key_pair::GenerateDataKeyPairRequest;
use super::derived_keys::DeriveKeyRequest;
use super::dispatch::parse;
use super::extensions::{ReinstateKeyRequest, SuspendKeyRequest, UpdateSuspensionOwnerRequest};
use super::grants::{CreateGrantRequest, GrantQuery};
use super::import::{GetParametersForImportRequest, ImportKeyMaterialRequest};
use super::key_policy::KeyPolicyRequest;
use super::mac::MacRequest;
use super::multi_region::{ReplicateKeyRequest, UpdatePrimaryRegionRequest};
use super::rotation::{EnableKeyRotationRequest, ListKeyRotationsRequest};
use super::tags::{ListResourceTagsRequest, TagResourceRequest, UntagResourceRequest};
use crate::error::KmsError;
use crate::protocol::{
    AliasRequest, CreateKeyRequest, DecryptRequest, EncryptRequest, GenerateDataKeyRequest,
    GenerateRandomRequest, KeyIdRequest, ListRequest, ReEncryptRequest, ScheduleKeyDeletionRequest,
    UpdateKeyDescriptionRequest,
};

/// Every operation whose body [`parse_request`] parses: the served rows of
/// the operation table, and CreateAuthenticationProof (served by http.rs).
pub fn operations() -> Vec<&'static str> {
    super::OPERATIONS
        .iter()
        .filter(|o| o.route == crate::authz::operations::Route::Served)
        .map(|o| o.name)
        .chain(["CreateAuthenticationProof"])
        .collect()
}

fn as_type<T: DeserializeOwned + Default>(body: &[u8]) -> Result<(), KmsError> {
    parse::<T>(body).map(drop)
}

/// Parses `body` as operation `op`'s request, as the dispatcher would,
/// and drops it. Unknown operations answer `UnknownOperation`.
pub fn parse_request(op: &str, body: &[u8]) -> Result<(), KmsError> {
    match op {
        "CreateKey" => as_type::<CreateKeyRequest>(body),
        "DescribeKey"
        | "EnableKey"
        | "DisableKey"
        | "CancelKeyDeletion"
        | "DisableKeyRotation"
        | "GetKeyRotationStatus"
        | "RotateKeyOnDemand"
        | "DeleteImportedKeyMaterial"
        | "ShredKey"
        | "RevokeKey"
        | "GetPublicKey" => as_type::<KeyIdRequest>(body),
        "ListKeys" | "ListAliases" => as_type::<ListRequest>(body),
        "UpdateKeyDescription" => as_type::<UpdateKeyDescriptionRequest>(body),
        "ScheduleKeyDeletion" => as_type::<ScheduleKeyDeletionRequest>(body),
        "CreateAlias" | "UpdateAlias" | "DeleteAlias" => as_type::<AliasRequest>(body),
        "Encrypt" => as_type::<EncryptRequest>(body),
        "Decrypt" => as_type::<DecryptRequest>(body),
        "ReEncrypt" => as_type::<ReEncryptRequest>(body),
        "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
            as_type::<GenerateDataKeyRequest>(body)
        }
        "GenerateRandom" => as_type::<GenerateRandomRequest>(body),
        "EnableKeyRotation" => as_type::<EnableKeyRotationRequest>(body),
        "ListKeyRotations" => as_type::<ListKeyRotationsRequest>(body),
        "GenerateDataKeyPair" | "GenerateDataKeyPairWithoutPlaintext" => {
            as_type::<GenerateDataKeyPairRequest>(body)
        }
        "GetParametersForImport" => as_type::<GetParametersForImportRequest>(body),
        "ImportKeyMaterial" => as_type::<ImportKeyMaterialRequest>(body),
        "DeriveSharedSecret" => as_type::<DeriveSharedSecretRequest>(body),
        "SuspendKey" => as_type::<SuspendKeyRequest>(body),
        "UpdateSuspensionOwner" => as_type::<UpdateSuspensionOwnerRequest>(body),
        "DeriveKey" => as_type::<DeriveKeyRequest>(body),
        "ReinstateKey" => as_type::<ReinstateKeyRequest>(body),
        "Sign" | "Verify" => as_type::<SignatureRequest>(body),
        "GenerateMac" | "VerifyMac" => as_type::<MacRequest>(body),
        "PutKeyPolicy" | "GetKeyPolicy" | "ListKeyPolicies" => as_type::<KeyPolicyRequest>(body),
        "CreateGrant" => as_type::<CreateGrantRequest>(body),
        "ListGrants" | "ListRetirableGrants" | "RetireGrant" | "RevokeGrant" => {
            as_type::<GrantQuery>(body)
        }
        "TagResource" => as_type::<TagResourceRequest>(body),
        "UntagResource" => as_type::<UntagResourceRequest>(body),
        "ListResourceTags" => as_type::<ListResourceTagsRequest>(body),
        "ReplicateKey" => as_type::<ReplicateKeyRequest>(body),
        "UpdatePrimaryRegion" => as_type::<UpdatePrimaryRegionRequest>(body),
        // http.rs parses this one with serde_json directly.
        "CreateAuthenticationProof" => {
            serde_json::from_slice::<crate::proof::CreateProofRequest>(body)
                .map(drop)
                .map_err(|e| {
                    KmsError::Serialization(format!("Could not parse the request body: {e}"))
                })
        }
        other => Err(KmsError::UnknownOperation(format!(
            "Unknown operation {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_operation_parses_an_empty_object_and_refuses_an_array() {
        for op in operations() {
            assert!(parse_request(op, b"{}").is_ok(), "{op}");
            // http.rs parses CreateAuthenticationProof with plain serde,
            // which takes a JSON array positionally (harmless: every field
            // is still validated).
            if op != "CreateAuthenticationProof" {
                assert!(
                    matches!(parse_request(op, b"[]"), Err(KmsError::Serialization(_))),
                    "{op}"
                );
            }
        }
        assert!(matches!(
            parse_request("NoSuchOperation", b"{}"),
            Err(KmsError::UnknownOperation(_))
        ));
    }
}
