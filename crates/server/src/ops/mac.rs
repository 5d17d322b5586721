//! HMAC keys: GenerateMac and VerifyMac. The MAC is computed and compared
//! (in constant time) inside the security module.

use serde::{Deserialize, Serialize};
use strongroom_store::{KeyRecord, MacAlgorithm};

use crate::authz::RequestCtx;
use crate::error::KmsError;
use crate::processor::{Processor, required};
use crate::protocol::{Blob, SecretBlob};
use crate::validate::{self, Presence::*, Validate, Validator, shapes};

/// GenerateMac and VerifyMac input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct MacRequest {
    pub key_id: Option<String>,
    pub message: Option<SecretBlob>,
    pub mac_algorithm: Option<String>,
    pub mac: Option<Blob>,
    pub grant_tokens: Option<Vec<String>>,
    pub dry_run: Option<bool>,
}

/// GenerateMac output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateMacResponse {
    pub mac: Blob,
    pub mac_algorithm: MacAlgorithm,
    pub key_id: String,
}

/// VerifyMac output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VerifyMacResponse {
    pub key_id: String,
    pub mac_valid: bool,
    pub mac_algorithm: MacAlgorithm,
}

impl Validate for MacRequest {
    fn validate(&self, v: &mut Validator) {
        v.blob(
            "message",
            self.message.as_ref().map(|m| &m.0[..]),
            &shapes::PLAINTEXT,
            Required,
        );
        v.key_id(self.key_id.as_deref());
        v.enumeration(
            "macAlgorithm",
            self.mac_algorithm.as_deref(),
            shapes::MAC_ALGORITHM,
            Required,
        );
        let mac = v.required_in(&["VerifyMac"]);
        v.blob(
            "mac",
            self.mac.as_ref().map(|m| &m.0[..]),
            &shapes::CIPHERTEXT,
            mac,
        );
        v.grant_tokens(self.grant_tokens.as_deref());
    }
}

impl Processor {
    /// Checks the request against the key; returns the algorithm.
    fn check_mac_request(
        &self,
        key: &KeyRecord,
        req: &MacRequest,
    ) -> Result<MacAlgorithm, KmsError> {
        let requested = required(&req.mac_algorithm, "macAlgorithm")?;
        let parsed: Option<MacAlgorithm> =
            validate::enum_member(Some(requested), "macAlgorithm", shapes::MAC_ALGORITHM)?;
        match key.key_spec.mac_algorithm() {
            Some(alg) if Some(alg) == parsed => Ok(alg),
            _ => Err(KmsError::InvalidKeyUsage(format!(
                "{} key usage is {} and cannot compute {requested}.",
                self.key_arn(key),
                key.key_usage
            ))),
        }
    }

    fn message<'a>(&self, req: &'a MacRequest) -> Result<&'a SecretBlob, KmsError> {
        req.message
            .as_ref()
            .ok_or_else(|| validate::null("message"))
    }

    pub(crate) async fn generate_mac(
        &self,
        rq: &mut RequestCtx<'_>,
        req: MacRequest,
    ) -> Result<GenerateMacResponse, KmsError> {
        let message = self.message(&req)?;
        let key = self.resolve(rq, &req.key_id, true).await?;
        let alg = self.check_mac_request(&key, &req)?;
        self.require_usable(rq.operation().name, &key)?;
        if req.dry_run == Some(true) {
            return Err(KmsError::DryRun);
        }
        let (version, ekt) = self.current_ekt(&key).await?;
        let mac = self
            .with_ekt(&key, version, ekt, |ekt| {
                self.module(&key)
                    .generate_mac(version, ekt, message.0.clone())
            })
            .await?;
        Ok(GenerateMacResponse {
            mac: Blob(mac),
            mac_algorithm: alg,
            key_id: self.key_arn(&key),
        })
    }

    pub(crate) async fn verify_mac(
        &self,
        rq: &mut RequestCtx<'_>,
        req: MacRequest,
    ) -> Result<VerifyMacResponse, KmsError> {
        let message = self.message(&req)?;
        // VerifyMac needs the MAC; GenerateMac shares the request type.
        let mac = req.mac.as_ref().ok_or_else(|| validate::null("mac"))?;
        let key = self.resolve(rq, &req.key_id, true).await?;
        let alg = self.check_mac_request(&key, &req)?;
        self.require_usable(rq.operation().name, &key)?;
        if req.dry_run == Some(true) {
            return Err(KmsError::DryRun);
        }
        let (version, ekt) = self.current_ekt(&key).await?;
        let valid = self
            .with_ekt(&key, version, ekt, |ekt| {
                self.module(&key)
                    .verify_mac(version, ekt, message.0.clone(), mac.0.clone())
            })
            .await?;
        if !valid {
            return Err(KmsError::InvalidMac(
                "The MAC does not match the message and key.".into(),
            ));
        }
        Ok(VerifyMacResponse {
            key_id: self.key_arn(&key),
            mac_valid: true,
            mac_algorithm: alg,
        })
    }
}
