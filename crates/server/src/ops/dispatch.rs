//! Maps `X-Amz-Target` operation names to handlers.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::auth::Caller;
use crate::error::KmsError;
use crate::processor::Processor;

/// AWS KMS operations Strongroom knows but does not serve yet: they answer
/// UnsupportedOperationException rather than UnknownOperationException.
pub(crate) const KNOWN_UNSUPPORTED: &[&str] = &[
    "ConnectCustomKeyStore",
    "CreateCustomKeyStore",
    "DeleteCustomKeyStore",
    "DescribeCustomKeyStores",
    "DisconnectCustomKeyStore",
    "ReplicateKey",
    "UpdateCustomKeyStore",
    "UpdatePrimaryRegion",
];

/// Operations that name no key: only identity policies govern them.
const KEYLESS: &[&str] = &[
    "CreateKey",
    "ListKeys",
    "ListAliases",
    "GenerateRandom",
    "ListRetirableGrants",
];

pub(crate) fn parse<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, KmsError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Ok(T::default()),
        // serde would also accept a JSON array as a struct, positionally.
        Some(b'{') => {}
        Some(_) => {
            return Err(KmsError::Serialization(
                "The request body must be a JSON object.".into(),
            ));
        }
    }
    serde_json::from_slice(body).map_err(|e| {
        // serde's message names the field and problem without echoing data.
        KmsError::Serialization(format!("Could not parse the request body: {e}"))
    })
}

fn json<T: Serialize>(value: T) -> Result<Vec<u8>, KmsError> {
    serde_json::to_vec(&value)
        .map_err(|e| KmsError::Internal(format!("response encoding failed: {e}")))
}

impl Processor {
    /// Runs operation `op` for `caller` with JSON `body`; also returns
    /// what the audit trail should record.
    pub async fn dispatch(
        &self,
        caller: &Caller,
        meta: crate::authz::RequestMeta,
        op: &str,
        body: &[u8],
    ) -> (Result<Vec<u8>, KmsError>, crate::authz::AuditFacts) {
        crate::authz::scope(
            format!("kms:{op}"),
            caller,
            meta,
            strongroom_hsm_proto::routing::with_pins(self.route(caller, op, body)),
        )
        .await
    }

    async fn route(&self, caller: &Caller, op: &str, body: &[u8]) -> Result<Vec<u8>, KmsError> {
        if KEYLESS.contains(&op) {
            crate::authz::authorize_keyless(caller)?;
        }
        match op {
            "CreateKey" => json(self.create_key(caller, parse(body)?).await?),
            "DescribeKey" => json(self.describe_key(caller, parse(body)?).await?),
            "ListKeys" => json(self.list_keys(caller, parse(body)?).await?),
            "UpdateKeyDescription" => {
                json(self.update_key_description(caller, parse(body)?).await?)
            }
            "EnableKey" => json(self.set_enabled(caller, parse(body)?, true).await?),
            "DisableKey" => json(self.set_enabled(caller, parse(body)?, false).await?),
            "ScheduleKeyDeletion" => json(self.schedule_key_deletion(caller, parse(body)?).await?),
            "CancelKeyDeletion" => json(self.cancel_key_deletion(caller, parse(body)?).await?),
            "CreateAlias" => json(self.create_alias(caller, parse(body)?).await?),
            "UpdateAlias" => json(self.update_alias(caller, parse(body)?).await?),
            "DeleteAlias" => json(self.delete_alias(caller, parse(body)?).await?),
            "ListAliases" => json(self.list_aliases(caller, parse(body)?).await?),
            "Encrypt" => json(self.encrypt(caller, parse(body)?).await?),
            "Decrypt" => json(self.decrypt(caller, parse(body)?).await?),
            "ReEncrypt" => json(self.re_encrypt(caller, parse(body)?).await?),
            "GenerateDataKey" => json(self.generate_data_key(caller, parse(body)?, true).await?),
            "GenerateDataKeyWithoutPlaintext" => {
                json(self.generate_data_key(caller, parse(body)?, false).await?)
            }
            "GenerateRandom" => json(self.generate_random(caller, parse(body)?).await?),
            "EnableKeyRotation" => json(self.enable_key_rotation(caller, parse(body)?).await?),
            "DisableKeyRotation" => json(self.disable_key_rotation(caller, parse(body)?).await?),
            "GetKeyRotationStatus" => {
                json(self.get_key_rotation_status(caller, parse(body)?).await?)
            }
            "RotateKeyOnDemand" => json(self.rotate_key_on_demand(caller, parse(body)?).await?),
            "ListKeyRotations" => json(self.list_key_rotations(caller, parse(body)?).await?),
            "GenerateDataKeyPair" => json(
                self.generate_data_key_pair(caller, parse(body)?, true)
                    .await?,
            ),
            "GenerateDataKeyPairWithoutPlaintext" => json(
                self.generate_data_key_pair(caller, parse(body)?, false)
                    .await?,
            ),
            "GetParametersForImport" => {
                json(self.get_parameters_for_import(caller, parse(body)?).await?)
            }
            "ImportKeyMaterial" => json(self.import_key_material(caller, parse(body)?).await?),
            "DeleteImportedKeyMaterial" => json(
                self.delete_imported_key_material(caller, parse(body)?)
                    .await?,
            ),
            "DeriveSharedSecret" => json(self.derive_shared_secret(caller, parse(body)?).await?),
            // Extensions (docs/extensions.md).
            "ShredKey" => json(self.shred_key(caller, parse(body)?).await?),
            "RevokeKey" => json(self.revoke_key(caller, parse(body)?).await?),
            "SuspendKey" => json(self.suspend_key(caller, parse(body)?).await?),
            "DeriveKey" => json(self.derive_key(caller, parse(body)?).await?),
            "ReinstateKey" => json(self.reinstate_key(caller, parse(body)?).await?),
            "Sign" => json(self.sign(caller, parse(body)?).await?),
            "Verify" => json(self.verify(caller, parse(body)?).await?),
            "GetPublicKey" => json(self.get_public_key(caller, parse(body)?).await?),
            "GenerateMac" => json(self.generate_mac(caller, parse(body)?).await?),
            "VerifyMac" => json(self.verify_mac(caller, parse(body)?).await?),
            "PutKeyPolicy" => json(self.put_key_policy(caller, parse(body)?).await?),
            "GetKeyPolicy" => json(self.get_key_policy(caller, parse(body)?).await?),
            "ListKeyPolicies" => json(self.list_key_policies(caller, parse(body)?).await?),
            "CreateGrant" => json(self.create_grant(caller, parse(body)?).await?),
            "ListGrants" => json(self.list_grants(caller, parse(body)?).await?),
            "ListRetirableGrants" => json(self.list_retirable_grants(caller, parse(body)?).await?),
            "RetireGrant" => json(self.retire_grant(caller, parse(body)?).await?),
            "RevokeGrant" => json(self.revoke_grant(caller, parse(body)?).await?),
            "TagResource" => json(self.tag_resource(caller, parse(body)?).await?),
            "UntagResource" => json(self.untag_resource(caller, parse(body)?).await?),
            "ListResourceTags" => json(self.list_resource_tags(caller, parse(body)?).await?),
            other if KNOWN_UNSUPPORTED.contains(&other) => Err(KmsError::UnsupportedOperation(
                format!("{other} is not supported by this Strongroom version."),
            )),
            other => Err(KmsError::UnknownOperation(format!(
                "Unknown operation {other}"
            ))),
        }
    }
}
