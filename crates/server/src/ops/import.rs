//! Imported key material (BYOK): GetParametersForImport,
//! ImportKeyMaterial, DeleteImportedKeyMaterial, and the sweep that deletes
//! expired material. The wrapping key lives only in the module (the import
//! token is it, sealed); the frontend never sees the material.

use serde::{Deserialize, Serialize};
use strongroom_hsm_proto::KeyRef;
use strongroom_store::{KeyRecord, KeySpec, KeyState, KeyVersionRecord, Origin};

use crate::authz::RequestCtx;
use crate::error::KmsError;
use crate::processor::Processor;
use crate::protocol::{Blob, Empty, KeyIdRequest};
use crate::validate::{self, Presence::*, Validate, Validator, shapes};

/// How long import parameters stay valid (AWS: 24 hours).
const PARAMETERS_LIFETIME_SECS: i64 = 24 * 3600;
/// Latest ValidTo AWS accepts: 365 days ahead.
const MAX_VALID_FOR_SECS: i64 = 365 * 24 * 3600;
/// The wrapping algorithms Strongroom serves (AWS's others:
/// RSAES_PKCS1_V1_5, SM2PKE, are refused as unsupported).
const WRAPPING_ALGORITHMS: [&str; 4] = [
    "RSAES_OAEP_SHA_1",
    "RSAES_OAEP_SHA_256",
    "RSA_AES_KEY_WRAP_SHA_1",
    "RSA_AES_KEY_WRAP_SHA_256",
];

/// GetParametersForImport input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetParametersForImportRequest {
    pub key_id: Option<String>,
    pub wrapping_algorithm: Option<String>,
    pub wrapping_key_spec: Option<String>,
}

/// GetParametersForImport output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersForImportResponse {
    pub key_id: String,
    pub import_token: Blob,
    pub public_key: Blob,
    pub parameters_valid_to: f64,
}

/// ImportKeyMaterial input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ImportKeyMaterialRequest {
    pub key_id: Option<String>,
    pub import_token: Option<Blob>,
    pub encrypted_key_material: Option<Blob>,
    pub valid_to: Option<f64>,
    pub expiration_model: Option<String>,
}

impl Validate for GetParametersForImportRequest {
    fn validate(&self, v: &mut Validator) {
        v.key_id(self.key_id.as_deref());
        v.enumeration(
            "wrappingAlgorithm",
            self.wrapping_algorithm.as_deref(),
            shapes::WRAPPING_ALGORITHM,
            Required,
        );
        v.enumeration(
            "wrappingKeySpec",
            self.wrapping_key_spec.as_deref(),
            shapes::WRAPPING_KEY_SPEC,
            Required,
        );
    }
}

impl Validate for ImportKeyMaterialRequest {
    fn validate(&self, v: &mut Validator) {
        v.key_id(self.key_id.as_deref());
        v.blob(
            "importToken",
            self.import_token.as_ref().map(|b| &b.0[..]),
            &shapes::CIPHERTEXT,
            Required,
        );
        v.blob(
            "encryptedKeyMaterial",
            self.encrypted_key_material.as_ref().map(|b| &b.0[..]),
            &shapes::CIPHERTEXT,
            Required,
        );
        v.enumeration(
            "expirationModel",
            self.expiration_model.as_deref(),
            shapes::EXPIRATION_MODEL,
            Optional,
        );
    }
}

/// Fails unless `key` takes imported material (AWS's footnote [9]) and
/// `operation` may use it in its state.
fn require_external(p: &Processor, operation: &str, key: &KeyRecord) -> Result<(), KmsError> {
    if key.origin != Origin::External {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} has origin {}: only keys created with Origin EXTERNAL take imported material.",
            p.key_arn(key),
            key.origin
        )));
    }
    p.check_key_state(operation, key)
}

/// When imported material expires: `ValidTo` as the `ExpirationModel`
/// requires it (AWS's rules), at most 365 days after `now`.
fn import_valid_to(
    expiration_model: Option<&str>,
    valid_to: Option<f64>,
    now: i64,
) -> Result<Option<i64>, KmsError> {
    Ok(match (expiration_model, valid_to) {
        (None | Some("KEY_MATERIAL_EXPIRES"), Some(t)) => {
            let t = t as i64;
            if t <= now || t > now + MAX_VALID_FOR_SECS {
                return Err(KmsError::Validation(
                    "ValidTo must be in the future and at most 365 days ahead.".into(),
                ));
            }
            Some(t)
        }
        (None | Some("KEY_MATERIAL_EXPIRES"), None) => {
            return Err(KmsError::Validation(
                "ValidTo is required when the ExpirationModel is KEY_MATERIAL_EXPIRES.".into(),
            ));
        }
        (Some("KEY_MATERIAL_DOES_NOT_EXPIRE"), None) => None,
        (Some("KEY_MATERIAL_DOES_NOT_EXPIRE"), Some(_)) => {
            return Err(KmsError::Validation(
                "ValidTo must not be set when the ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE."
                    .into(),
            ));
        }
        (Some(m), _) => {
            return Err(validate::error(
                "expirationModel",
                Some(m.to_owned()),
                validate::Constraint::Enum(shapes::EXPIRATION_MODEL),
            ));
        }
    })
}

impl Processor {
    pub(crate) async fn get_parameters_for_import(
        &self,
        rq: &mut RequestCtx<'_>,
        req: GetParametersForImportRequest,
    ) -> Result<GetParametersForImportResponse, KmsError> {
        let algorithm = validate::required(&req.wrapping_algorithm, "wrappingAlgorithm")?;
        if !WRAPPING_ALGORITHMS.contains(&algorithm) {
            return Err(KmsError::UnsupportedOperation(format!(
                "WrappingAlgorithm {algorithm} is not supported; supported: {}.",
                WRAPPING_ALGORITHMS.join(", ")
            )));
        }
        let spec_name = validate::required(&req.wrapping_key_spec, "wrappingKeySpec")?;
        let spec = KeySpec::parse(spec_name)
            .ok()
            .filter(|s| s.is_rsa())
            .and_then(crate::ops::key_specs::module_spec)
            .ok_or_else(|| {
                KmsError::UnsupportedOperation(format!(
                    "WrappingKeySpec {spec_name} is not supported; supported: RSA_2048, RSA_3072, RSA_4096."
                ))
            })?;
        let key = self.resolve(rq, &req.key_id, false).await?;
        // Suspended keys come back through an import key too (ReinstateKey).
        if key.state != KeyState::Suspended {
            require_external(self, rq.operation().name, &key)?;
        }
        let valid_to = self.now() + PARAMETERS_LIFETIME_SECS;
        let change = self.begin_change(rq).await?;
        let (public_key, import_token) = self
            .module_for_change(&change)
            .prepare_import(key.id, spec, algorithm.into(), valid_to as u64)
            .await?;
        Ok(GetParametersForImportResponse {
            key_id: self.key_arn(&key),
            import_token: Blob(import_token),
            public_key: Blob(public_key),
            parameters_valid_to: valid_to as f64,
        })
    }

    pub(crate) async fn import_key_material(
        &self,
        rq: &mut RequestCtx<'_>,
        req: ImportKeyMaterialRequest,
    ) -> Result<Empty, KmsError> {
        let token = req
            .import_token
            .as_ref()
            .ok_or_else(|| validate::null("importToken"))?;
        let material = req
            .encrypted_key_material
            .as_ref()
            .ok_or_else(|| validate::null("encryptedKeyMaterial"))?;
        let now = self.now();
        let valid_to = import_valid_to(req.expiration_model.as_deref(), req.valid_to, now)?;
        let guard = self.lock_named(rq, &[&req.key_id], &[]).await?;
        let key = self.resolve(rq, &req.key_id, false).await?;
        crate::processor::locked(&guard, &key)?;
        require_external(self, rq.operation().name, &key)?;
        if key.state != KeyState::PendingImport {
            return Err(KmsError::InvalidState(format!(
                "{} already has key material: delete it before importing again.",
                self.key_arn(&key)
            )));
        }
        let version = KeyRef {
            key_id: key.material_id(),
            version: 1,
        };
        let change = self.begin_change(rq).await?;
        let (ekt, fingerprint) = self
            .module_for_change(&change)
            .import_key_material(version, token.0.clone(), material.0.clone())
            .await?;
        if key
            .import_fingerprint
            .as_ref()
            .is_some_and(|f| *f != fingerprint)
        {
            return Err(KmsError::IncorrectKeyMaterial(
                "The key material is not the material this KMS key had before.".into(),
            ));
        }
        let mut next = (*key).clone();
        next.state = KeyState::Enabled;
        next.current_version = 1;
        next.import_valid_to = valid_to;
        next.import_fingerprint = Some(fingerprint);
        let record = KeyVersionRecord {
            key_id: key.id,
            version: 1,
            ekt: ekt.0.clone(),
            created_at: now,
        };
        self.repo
            .rotate(&change, vec![(next, record)], "IMPORT", ekt)
            .await?;
        tracing::info!(key_id = %key.id, "key material imported");
        Ok(Empty {})
    }

    pub(crate) async fn delete_imported_key_material(
        &self,
        rq: &mut RequestCtx<'_>,
        req: KeyIdRequest,
    ) -> Result<Empty, KmsError> {
        let guard = self.lock_named(rq, &[&req.key_id], &[]).await?;
        let key = self.resolve(rq, &req.key_id, false).await?;
        crate::processor::locked(&guard, &key)?;
        require_external(self, rq.operation().name, &key)?;
        let change = self.begin_change(rq).await?;
        self.remove_material(&change, &key).await?;
        Ok(Empty {})
    }

    /// Deletes a key's imported material everywhere: module caches, store,
    /// our caches; the key waits for a new import. Hold the key's lock.
    pub(crate) async fn remove_material(
        &self,
        change: &crate::processor::Change,
        key: &KeyRecord,
    ) -> Result<(), KmsError> {
        self.forget_everywhere(change, key.id).await?;
        let mut next = key.clone();
        next.state = KeyState::PendingImport;
        next.current_version = 0;
        next.import_valid_to = None;
        self.repo.drop_versions(change, next).await?;
        Ok(())
    }
}
