//! GenerateDataKeyPair and GenerateDataKeyPairWithoutPlaintext: an
//! asymmetric pair made in the module, its private key returned sealed
//! under a symmetric KMS key (and in clear when asked).

use serde::{Deserialize, Serialize};
use strongroom_hsm_proto::{GeneratedKeyPair, KeySpecCode};

use crate::authz::RequestCtx;
use crate::error::KmsError;
use crate::ops::crypto::{dry_run, require_encryption_key};
use crate::processor::{Processor, context_bytes};
use crate::protocol::{Blob, EncryptionContext, SecretBlob};
use crate::validate::{self, Presence::*, Validate, Validator, shapes};

/// The module's code for a KeyPairSpec Strongroom serves (AWS makes no
/// ML-DSA data key pairs).
fn served_pair_spec(name: &str) -> Option<KeySpecCode> {
    KeySpecCode::from_aws(name).filter(|c| c.asymmetric().is_some_and(|a| !a.is_ml_dsa()))
}

/// GenerateDataKeyPair input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct GenerateDataKeyPairRequest {
    pub key_id: Option<String>,
    pub key_pair_spec: Option<String>,
    pub encryption_context: Option<EncryptionContext>,
    pub grant_tokens: Option<Vec<String>>,
    pub recipient: Option<serde_json::Value>,
    pub dry_run: Option<bool>,
}

/// GenerateDataKeyPair output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyPairResponse {
    pub private_key_ciphertext_blob: Blob,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key_plaintext: Option<SecretBlob>,
    pub public_key: Blob,
    pub key_id: String,
    pub key_pair_spec: String,
}

impl Validate for GenerateDataKeyPairRequest {
    fn validate(&self, v: &mut Validator) {
        v.key_id(self.key_id.as_deref());
        v.enumeration(
            "keyPairSpec",
            self.key_pair_spec.as_deref(),
            shapes::DATA_KEY_PAIR_SPEC,
            Required,
        );
        v.grant_tokens(self.grant_tokens.as_deref());
    }
}

impl Processor {
    pub(crate) async fn generate_data_key_pair(
        &self,
        rq: &mut RequestCtx<'_>,
        req: GenerateDataKeyPairRequest,
        with_plaintext: bool,
    ) -> Result<GenerateDataKeyPairResponse, KmsError> {
        let spec_name = validate::required(&req.key_pair_spec, "keyPairSpec")?;
        let pair_spec = served_pair_spec(spec_name).ok_or_else(|| {
            let served: Vec<&str> = shapes::DATA_KEY_PAIR_SPEC
                .iter()
                .copied()
                .filter(|s| served_pair_spec(s).is_some())
                .collect();
            KmsError::UnsupportedOperation(format!(
                "KeyPairSpec {spec_name} is not supported; supported: {}.",
                served.join(", ")
            ))
        })?;
        if req.recipient.as_ref().is_some_and(|r| !r.is_null()) {
            return Err(KmsError::UnsupportedOperation(
                "Recipient (attested enclaves) is not supported.".into(),
            ));
        }
        let context = context_bytes(&req.encryption_context)?;
        rq.note_context(&req.encryption_context)?;
        let key = self.resolve(rq, &req.key_id, true).await?;
        require_encryption_key(self, &key)?;
        if crate::ops::asymmetric::is_asymmetric(&key) {
            return Err(KmsError::InvalidKeyUsage(format!(
                "{} is asymmetric: data key pairs are sealed under a symmetric key.",
                self.key_arn(&key)
            )));
        }
        self.require_usable(rq.operation().name, &key)?;
        dry_run(req.dry_run)?;
        let (version, ekt) = self.current_ekt(&key).await?;
        let GeneratedKeyPair {
            private_plaintext,
            private_ciphertext,
            public_key,
        } = self
            .with_ekt(&key, version, ekt, |ekt| {
                self.module(&key).generate_data_key_pair(
                    version,
                    ekt,
                    context.clone(),
                    pair_spec,
                    with_plaintext,
                )
            })
            .await?;
        Ok(GenerateDataKeyPairResponse {
            private_key_ciphertext_blob: Blob(private_ciphertext),
            private_key_plaintext: private_plaintext.map(SecretBlob),
            public_key: Blob(public_key),
            key_id: self.key_arn(&key),
            key_pair_spec: spec_name.to_string(),
        })
    }
}
