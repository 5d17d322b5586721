//! Request-body parsing without a processor, for the fuzz targets in
//! /fuzz: each operation's body is parsed exactly as the dispatcher does,
//! into the same request type, and nothing else happens.
//!
//! The table below mirrors `dispatch::route`; once operations come from one
//! declarative table, this should be generated from it.

use serde::de::DeserializeOwned;

use super::asymmetric::{DeriveSharedSecretRequest, SignatureRequest};
use super::data_key_pair::GenerateDataKeyPairRequest;
use super::dispatch::parse;
use super::extensions::{DeriveKeyRequest, ReinstateKeyRequest, SuspendKeyRequest};
use super::grants::{CreateGrantRequest, GrantQuery};
use super::import::{GetParametersForImportRequest, ImportKeyMaterialRequest};
use super::key_policy::KeyPolicyRequest;
use super::mac::MacRequest;
use super::rotation::{EnableKeyRotationRequest, ListKeyRotationsRequest};
use super::tags::{ListResourceTagsRequest, TagResourceRequest, UntagResourceRequest};
use crate::error::KmsError;
use crate::protocol::{
    AliasRequest, CreateKeyRequest, DecryptRequest, EncryptRequest, GenerateDataKeyRequest,
    GenerateRandomRequest, KeyIdRequest, ListRequest, ReEncryptRequest, ScheduleKeyDeletionRequest,
    UpdateKeyDescriptionRequest,
};

/// Every operation whose body [`parse_request`] knows how to parse.
pub const OPERATIONS: &[&str] = &[
    "CreateKey",
    "DescribeKey",
    "ListKeys",
    "UpdateKeyDescription",
    "EnableKey",
    "DisableKey",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "CreateAlias",
    "UpdateAlias",
    "DeleteAlias",
    "ListAliases",
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "GetKeyRotationStatus",
    "RotateKeyOnDemand",
    "ListKeyRotations",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GetParametersForImport",
    "ImportKeyMaterial",
    "DeleteImportedKeyMaterial",
    "DeriveSharedSecret",
    "ShredKey",
    "RevokeKey",
    "SuspendKey",
    "DeriveKey",
    "ReinstateKey",
    "Sign",
    "Verify",
    "GetPublicKey",
    "GenerateMac",
    "VerifyMac",
    "PutKeyPolicy",
    "GetKeyPolicy",
    "ListKeyPolicies",
    "CreateGrant",
    "ListGrants",
    "ListRetirableGrants",
    "RetireGrant",
    "RevokeGrant",
    "TagResource",
    "UntagResource",
    "ListResourceTags",
    "CreateAuthenticationProof",
];

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
        for op in OPERATIONS {
            assert!(parse_request(op, b"{}").is_ok(), "{op}");
            // http.rs parses CreateAuthenticationProof with plain serde,
            // which takes a JSON array positionally (harmless: every field
            // is still validated).
            if *op != "CreateAuthenticationProof" {
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
