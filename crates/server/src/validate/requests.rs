//! The model's constraints on the request types of `protocol`, member by
//! member in the model's order. Request types private to an operation
//! module carry their own `Validate` next to their definition.

use super::Presence::{Optional, Required};
use super::{Validate, Validator, shapes};
use crate::protocol::*;

impl Validator {
    /// A `TagList` (CreateKey, TagResource): each tag's key and value.
    pub fn tags(&mut self, value: Option<&[strongroom_store::Tag]>, presence: super::Presence) {
        let Some(tags) = self.present("tags", value, presence) else {
            return;
        };
        for (i, t) in tags.iter().enumerate() {
            let at = format!("tags.{}.member", i + 1);
            self.string(
                &format!("{at}.tagKey"),
                Some(&t.key),
                &shapes::TAG_KEY,
                Required,
            );
            self.string(
                &format!("{at}.tagValue"),
                Some(&t.value),
                &shapes::TAG_VALUE,
                Required,
            );
        }
    }
}

impl Validate for CreateKeyRequest {
    fn validate(&self, v: &mut Validator) {
        v.string("policy", self.policy.as_deref(), &shapes::POLICY, Optional);
        v.string(
            "description",
            self.description.as_deref(),
            &shapes::DESCRIPTION,
            Optional,
        );
        v.enumeration(
            "keyUsage",
            self.key_usage.as_deref(),
            shapes::KEY_USAGE,
            Optional,
        );
        v.enumeration(
            "customerMasterKeySpec",
            self.customer_master_key_spec.as_deref(),
            shapes::CUSTOMER_MASTER_KEY_SPEC,
            Optional,
        );
        v.enumeration(
            "keySpec",
            self.key_spec.as_deref(),
            shapes::KEY_SPEC,
            Optional,
        );
        v.enumeration("origin", self.origin.as_deref(), shapes::ORIGIN, Optional);
        v.string(
            "customKeyStoreId",
            self.custom_key_store_id.as_deref(),
            &shapes::CUSTOM_KEY_STORE_ID,
            Optional,
        );
        v.tags(self.tags.as_deref(), Optional);
        v.string(
            "xksKeyId",
            self.xks_key_id.as_deref(),
            &shapes::XKS_KEY_ID,
            Optional,
        );
    }
}

impl Validate for KeyIdRequest {
    fn validate(&self, v: &mut Validator) {
        v.key_id(self.key_id.as_deref());
        v.grant_tokens(self.grant_tokens.as_deref());
    }
}

impl Validate for ListRequest {
    fn validate(&self, v: &mut Validator) {
        v.string("keyId", self.key_id.as_deref(), &shapes::KEY_ID, Optional);
        v.integer("limit", self.limit, &shapes::LIMIT, Optional);
        v.string("marker", self.marker.as_deref(), &shapes::MARKER, Optional);
    }
}

impl Validate for UpdateKeyDescriptionRequest {
    fn validate(&self, v: &mut Validator) {
        v.key_id(self.key_id.as_deref());
        v.string(
            "description",
            self.description.as_deref(),
            &shapes::DESCRIPTION,
            Required,
        );
    }
}

impl Validate for ScheduleKeyDeletionRequest {
    fn validate(&self, v: &mut Validator) {
        v.key_id(self.key_id.as_deref());
        v.integer(
            "pendingWindowInDays",
            self.pending_window_in_days,
            &shapes::PENDING_WINDOW_IN_DAYS,
            Optional,
        );
    }
}

/// CreateAlias and UpdateAlias need `TargetKeyId` too; DeleteAlias has none.
impl Validate for AliasRequest {
    fn validate(&self, v: &mut Validator) {
        v.string(
            "aliasName",
            self.alias_name.as_deref(),
            &shapes::ALIAS_NAME,
            Required,
        );
        let target = v.required_in(&["CreateAlias", "UpdateAlias"]);
        v.string(
            "targetKeyId",
            self.target_key_id.as_deref(),
            &shapes::KEY_ID,
            target,
        );
    }
}

impl Validate for EncryptRequest {
    fn validate(&self, v: &mut Validator) {
        v.key_id(self.key_id.as_deref());
        v.blob(
            "plaintext",
            self.plaintext.as_ref().map(|p| &p.0[..]),
            &shapes::PLAINTEXT,
            Required,
        );
        v.grant_tokens(self.grant_tokens.as_deref());
        v.enumeration(
            "encryptionAlgorithm",
            self.encryption_algorithm.as_deref(),
            shapes::ENCRYPTION_ALGORITHM,
            Optional,
        );
    }
}

impl Validate for DecryptRequest {
    fn validate(&self, v: &mut Validator) {
        v.blob(
            "ciphertextBlob",
            self.ciphertext_blob.as_ref().map(|b| &b.0[..]),
            &shapes::CIPHERTEXT,
            Required,
        );
        v.grant_tokens(self.grant_tokens.as_deref());
        v.string("keyId", self.key_id.as_deref(), &shapes::KEY_ID, Optional);
        v.enumeration(
            "encryptionAlgorithm",
            self.encryption_algorithm.as_deref(),
            shapes::ENCRYPTION_ALGORITHM,
            Optional,
        );
    }
}

impl Validate for ReEncryptRequest {
    fn validate(&self, v: &mut Validator) {
        v.blob(
            "ciphertextBlob",
            self.ciphertext_blob.as_ref().map(|b| &b.0[..]),
            &shapes::CIPHERTEXT,
            Required,
        );
        v.string(
            "sourceKeyId",
            self.source_key_id.as_deref(),
            &shapes::KEY_ID,
            Optional,
        );
        v.string(
            "destinationKeyId",
            self.destination_key_id.as_deref(),
            &shapes::KEY_ID,
            Required,
        );
        v.enumeration(
            "sourceEncryptionAlgorithm",
            self.source_encryption_algorithm.as_deref(),
            shapes::ENCRYPTION_ALGORITHM,
            Optional,
        );
        v.enumeration(
            "destinationEncryptionAlgorithm",
            self.destination_encryption_algorithm.as_deref(),
            shapes::ENCRYPTION_ALGORITHM,
            Optional,
        );
        v.grant_tokens(self.grant_tokens.as_deref());
    }
}

impl Validate for GenerateDataKeyRequest {
    fn validate(&self, v: &mut Validator) {
        v.key_id(self.key_id.as_deref());
        v.integer(
            "numberOfBytes",
            self.number_of_bytes,
            &shapes::NUMBER_OF_BYTES,
            Optional,
        );
        v.enumeration(
            "keySpec",
            self.key_spec.as_deref(),
            shapes::DATA_KEY_SPEC,
            Optional,
        );
        v.grant_tokens(self.grant_tokens.as_deref());
    }
}

impl Validate for GenerateRandomRequest {
    fn validate(&self, v: &mut Validator) {
        v.integer(
            "numberOfBytes",
            self.number_of_bytes,
            &shapes::NUMBER_OF_BYTES,
            Optional,
        );
        v.string(
            "customKeyStoreId",
            self.custom_key_store_id.as_deref(),
            &shapes::CUSTOM_KEY_STORE_ID,
            Optional,
        );
    }
}
