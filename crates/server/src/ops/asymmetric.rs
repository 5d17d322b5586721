//! Asymmetric keys: Sign, Verify, GetPublicKey, and Encrypt/Decrypt with
//! RSA-OAEP. Private-key work happens in the security module; Verify and
//! GetPublicKey use the public key kept parsed here (`public_keys`).

use serde::{Deserialize, Serialize};
use strongroom_crypto::{AsymmetricSpec, SignInput, SigningAlgorithm};

use strongroom_store::{EncryptionAlgorithm, KeyRecord, KeySpec, KeyUsage, Origin};

use crate::authz::RequestCtx;
use crate::error::KmsError;
use crate::ops::crypto::dry_run;
use crate::processor::{AuthorizedKey, Processor};
use crate::protocol::{Blob, DecryptResponse, EncryptResponse, EncryptionContext, SecretBlob};
use crate::validate::{self, Presence::*, Validate, Validator, shapes};

/// The asymmetric spec of a key, if it has one.
pub(crate) fn spec_of(key: &KeyRecord) -> Option<AsymmetricSpec> {
    crate::ops::key_specs::asymmetric_spec(key.key_spec)
}

/// Whether the key is a key pair (RSA, ECC, ML-DSA).
pub(crate) fn is_asymmetric(key: &KeyRecord) -> bool {
    key.key_spec.is_asymmetric()
}

/// The `SigningAlgorithms` / `EncryptionAlgorithms` an asymmetric key
/// offers (none for symmetric and HMAC keys).
pub(crate) fn algorithms(key: &KeyRecord) -> (Vec<&'static str>, Vec<EncryptionAlgorithm>) {
    match (spec_of(key), key.key_usage) {
        (Some(spec), KeyUsage::SignVerify) => (
            spec.signing_algorithms()
                .iter()
                .map(|a| a.aws_name())
                .collect(),
            vec![],
        ),
        (Some(_), usage) => (vec![], key.key_spec.encryption_algorithms(usage).to_vec()),
        (None, _) => (vec![], vec![]),
    }
}

/// `KeyAgreementAlgorithms` of a key.
pub(crate) fn key_agreement_algorithms(key: &KeyRecord) -> Vec<&'static str> {
    if key.key_usage == KeyUsage::KeyAgreement {
        vec!["ECDH"]
    } else {
        vec![]
    }
}

/// DeriveSharedSecret input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeriveSharedSecretRequest {
    pub key_id: Option<String>,
    pub key_agreement_algorithm: Option<String>,
    pub public_key: Option<Blob>,
    pub grant_tokens: Option<Vec<String>>,
    pub recipient: Option<serde_json::Value>,
    pub dry_run: Option<bool>,
}

/// DeriveSharedSecret output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeriveSharedSecretResponse {
    pub key_id: String,
    pub shared_secret: SecretBlob,
    pub key_agreement_algorithm: &'static str,
    pub key_origin: Origin,
}

/// Sign and Verify input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct SignatureRequest {
    pub key_id: Option<String>,
    pub message: Option<SecretBlob>,
    pub message_type: Option<String>,
    pub signing_algorithm: Option<String>,
    pub signature: Option<Blob>,
    pub grant_tokens: Option<Vec<String>>,
    pub dry_run: Option<bool>,
}

/// Sign output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignResponse {
    pub key_id: String,
    pub signature: Blob,
    pub signing_algorithm: &'static str,
}

/// Verify output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VerifyResponse {
    pub key_id: String,
    pub signature_valid: bool,
    pub signing_algorithm: &'static str,
}

/// GetPublicKey output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetPublicKeyResponse {
    pub key_id: String,
    pub public_key: Blob,
    pub customer_master_key_spec: KeySpec,
    pub key_spec: KeySpec,
    pub key_usage: KeyUsage,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub encryption_algorithms: Vec<EncryptionAlgorithm>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signing_algorithms: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub key_agreement_algorithms: Vec<&'static str>,
}

impl Validate for SignatureRequest {
    fn validate(&self, v: &mut Validator) {
        v.key_id(self.key_id.as_deref());
        v.blob(
            "message",
            self.message.as_ref().map(|m| &m.0[..]),
            &shapes::PLAINTEXT,
            Required,
        );
        v.enumeration(
            "messageType",
            self.message_type.as_deref(),
            shapes::MESSAGE_TYPE,
            Optional,
        );
        let signature = v.required_in(&["Verify"]);
        v.blob(
            "signature",
            self.signature.as_ref().map(|s| &s.0[..]),
            &shapes::CIPHERTEXT,
            signature,
        );
        v.enumeration(
            "signingAlgorithm",
            self.signing_algorithm.as_deref(),
            shapes::SIGNING_ALGORITHM,
            Required,
        );
        v.grant_tokens(self.grant_tokens.as_deref());
    }
}

impl Validate for DeriveSharedSecretRequest {
    fn validate(&self, v: &mut Validator) {
        v.key_id(self.key_id.as_deref());
        v.enumeration(
            "keyAgreementAlgorithm",
            self.key_agreement_algorithm.as_deref(),
            shapes::KEY_AGREEMENT_ALGORITHM,
            Required,
        );
        v.blob(
            "publicKey",
            self.public_key.as_ref().map(|p| &p.0[..]),
            &shapes::PUBLIC_KEY,
            Required,
        );
        v.grant_tokens(self.grant_tokens.as_deref());
    }
}

/// Every signing algorithm Strongroom serves, for refusals naming them.
fn served_signing_algorithms() -> String {
    shapes::SIGNING_ALGORITHM
        .iter()
        .filter(|a| SigningAlgorithm::from_aws(a).is_some())
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

fn no_context(ctx: &Option<EncryptionContext>) -> Result<(), KmsError> {
    if ctx.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(KmsError::Validation(
            "EncryptionContext is not supported with asymmetric KMS keys.".into(),
        ));
    }
    Ok(())
}

impl Processor {
    /// The key named by `key_id`, when it is asymmetric (Decrypt branches on it).
    pub(crate) async fn named_asymmetric_key(
        &self,
        rq: &mut RequestCtx<'_>,
        key_id: &Option<String>,
    ) -> Result<Option<AuthorizedKey>, KmsError> {
        if key_id.as_deref().is_none_or(str::is_empty) {
            return Ok(None);
        }
        let key = self.resolve(rq, key_id, true).await?;
        Ok(is_asymmetric(&key).then_some(key))
    }

    fn check_oaep(&self, key: &KeyRecord, algorithm: EncryptionAlgorithm) -> Result<(), KmsError> {
        if !key
            .key_spec
            .encryption_algorithms(key.key_usage)
            .contains(&algorithm)
        {
            return Err(KmsError::InvalidKeyUsage(format!(
                "The encryption algorithm {algorithm} is not compatible with {} ({}, {}).",
                self.key_arn(key),
                key.key_spec,
                key.key_usage
            )));
        }
        Ok(())
    }

    pub(crate) async fn asymmetric_encrypt(
        &self,
        key: &AuthorizedKey,
        plaintext: SecretBlob,
        algorithm: EncryptionAlgorithm,
        context: &Option<EncryptionContext>,
        dry: Option<bool>,
    ) -> Result<EncryptResponse, KmsError> {
        self.check_oaep(key, algorithm)?;
        no_context(context)?;
        self.require_usable("Encrypt", key)?;
        dry_run(dry)?;
        let (version, ekt) = self.current_ekt(key).await?;
        let c = self
            .with_ekt(key, version, ekt, |ekt| {
                self.module(key).asymmetric_encrypt(
                    version,
                    ekt,
                    plaintext.0.clone(),
                    algorithm.as_str().into(),
                )
            })
            .await?;
        Ok(EncryptResponse {
            ciphertext_blob: Blob(c),
            key_id: self.key_arn(key),
            encryption_algorithm: algorithm,
        })
    }

    pub(crate) async fn asymmetric_decrypt(
        &self,
        key: &AuthorizedKey,
        blob: &[u8],
        algorithm: EncryptionAlgorithm,
        context: &Option<EncryptionContext>,
        dry: Option<bool>,
    ) -> Result<DecryptResponse, KmsError> {
        self.check_oaep(key, algorithm)?;
        no_context(context)?;
        self.require_usable("Decrypt", key)?;
        dry_run(dry)?;
        let (version, ekt) = self.current_ekt(key).await?;
        let (_, plaintext) = self
            .with_ekt(key, version, ekt, |ekt| {
                self.module(key).asymmetric_decrypt(
                    version,
                    ekt,
                    blob.to_vec(),
                    algorithm.as_str().into(),
                )
            })
            .await?;
        Ok(DecryptResponse {
            key_id: self.key_arn(key),
            plaintext: SecretBlob(plaintext),
            encryption_algorithm: algorithm,
        })
    }

    /// Checks a Sign/Verify request against its key; returns the algorithm
    /// and whether the message is a digest.
    async fn signing_request(
        &self,
        rq: &mut RequestCtx<'_>,
        req: &SignatureRequest,
    ) -> Result<(AuthorizedKey, SigningAlgorithm, bool), KmsError> {
        let message = req
            .message
            .as_ref()
            .ok_or_else(|| validate::null("message"))?;
        let digest = match req.message_type.as_deref() {
            None | Some("RAW") => false,
            Some("DIGEST") => true,
            Some(other) => {
                // EXTERNAL_MU (an ML-DSA mu computed by the caller): the
                // crypto library signs and verifies ML-DSA over the message
                // only, so it cannot be served.
                return Err(KmsError::UnsupportedOperation(format!(
                    "MessageType {other} is not supported; supported: RAW, DIGEST (RAW only for ED25519_SHA_512 and ML_DSA_SHAKE_256)."
                )));
            }
        };
        let name = validate::required(&req.signing_algorithm, "signingAlgorithm")?;
        let alg = SigningAlgorithm::from_aws(name).ok_or_else(|| {
            KmsError::UnsupportedOperation(format!(
                "SigningAlgorithm {name} is not supported; supported: {}.",
                served_signing_algorithms()
            ))
        })?;
        let key = self.resolve(rq, &req.key_id, true).await?;
        let fits = key.key_usage == KeyUsage::SignVerify
            && spec_of(&key).is_some_and(|s| s.signing_algorithms().contains(&alg));
        if !fits {
            return Err(KmsError::InvalidKeyUsage(format!(
                "{} ({}, {}) cannot use {name}.",
                self.key_arn(&key),
                key.key_spec,
                key.key_usage
            )));
        }
        if digest && !alg.takes_digest() {
            return Err(KmsError::Validation(format!(
                "{name} signs the message itself: use MessageType RAW."
            )));
        }
        if digest && alg.digest_len() != Some(message.0.len()) {
            return Err(KmsError::Validation(format!(
                "Digest is invalid length for algorithm {name}."
            )));
        }
        self.require_usable(rq.operation().name, &key)?;
        dry_run(req.dry_run)?;
        Ok((key, alg, digest))
    }

    pub(crate) async fn sign(
        &self,
        rq: &mut RequestCtx<'_>,
        req: SignatureRequest,
    ) -> Result<SignResponse, KmsError> {
        let (key, alg, digest) = self.signing_request(rq, &req).await?;
        let message = &req.message.as_ref().expect("checked").0;
        let (version, ekt) = self.current_ekt(&key).await?;
        let signature = self
            .with_ekt(&key, version, ekt, |ekt| {
                self.module(&key)
                    .sign(version, ekt, message.clone(), digest, alg.aws_name().into())
            })
            .await?;
        Ok(SignResponse {
            key_id: self.key_arn(&key),
            signature: Blob(signature),
            signing_algorithm: alg.aws_name(),
        })
    }

    pub(crate) async fn verify(
        &self,
        rq: &mut RequestCtx<'_>,
        req: SignatureRequest,
    ) -> Result<VerifyResponse, KmsError> {
        // Verify needs the signature; Sign shares the request type.
        let signature = req
            .signature
            .as_ref()
            .ok_or_else(|| validate::null("signature"))?;
        let (key, alg, digest) = self.signing_request(rq, &req).await?;
        let message = &req.message.as_ref().expect("checked").0;
        // Here, with the public key parsed once, rather than in a module:
        // verifying needs no secret. The checks above are the same.
        let public = self.verifying_key(&key).await?;
        let input = if digest {
            SignInput::Digest(message)
        } else {
            SignInput::Raw(message)
        };
        if !public.verify(alg, input, &signature.0) {
            return Err(KmsError::KmsInvalidSignature(
                "The signature does not verify with this key and message.".into(),
            ));
        }
        Ok(VerifyResponse {
            key_id: self.key_arn(&key),
            signature_valid: true,
            signing_algorithm: alg.aws_name(),
        })
    }

    pub(crate) async fn get_public_key(
        &self,
        rq: &mut RequestCtx<'_>,
        req: crate::protocol::KeyIdRequest,
    ) -> Result<GetPublicKeyResponse, KmsError> {
        let key = self.resolve(rq, &req.key_id, true).await?;
        if !is_asymmetric(&key) {
            return Err(KmsError::UnsupportedOperation(format!(
                "{} is not asymmetric: it has no public key.",
                self.key_arn(&key)
            )));
        }
        self.require_usable(rq.operation().name, &key)?;
        let public = self.verifying_key(&key).await?.public_key().to_vec();
        let (signing_algorithms, encryption_algorithms) = algorithms(&key);
        Ok(GetPublicKeyResponse {
            key_id: self.key_arn(&key),
            public_key: Blob(public),
            customer_master_key_spec: key.key_spec,
            key_spec: key.key_spec,
            key_usage: key.key_usage,
            encryption_algorithms,
            signing_algorithms,
            key_agreement_algorithms: key_agreement_algorithms(&key),
        })
    }

    pub(crate) async fn derive_shared_secret(
        &self,
        rq: &mut RequestCtx<'_>,
        req: DeriveSharedSecretRequest,
    ) -> Result<DeriveSharedSecretResponse, KmsError> {
        let peer = req
            .public_key
            .as_ref()
            .ok_or_else(|| validate::null("publicKey"))?;
        if req.recipient.as_ref().is_some_and(|r| !r.is_null()) {
            return Err(KmsError::UnsupportedOperation(
                "Recipient (attested enclaves) is not supported.".into(),
            ));
        }
        let key = self.resolve(rq, &req.key_id, true).await?;
        if key.key_usage != KeyUsage::KeyAgreement {
            return Err(KmsError::InvalidKeyUsage(format!(
                "{} key usage is {}, not KEY_AGREEMENT.",
                self.key_arn(&key),
                key.key_usage
            )));
        }
        self.require_usable(rq.operation().name, &key)?;
        dry_run(req.dry_run)?;
        let (version, ekt) = self.current_ekt(&key).await?;
        let (_, plaintext) = self
            .with_ekt(&key, version, ekt, |ekt| {
                self.module(&key)
                    .derive_shared_secret(version, ekt, peer.0.clone())
            })
            .await?;
        Ok(DeriveSharedSecretResponse {
            key_id: self.key_arn(&key),
            shared_secret: SecretBlob(plaintext),
            key_agreement_algorithm: "ECDH",
            key_origin: key.origin,
        })
    }
}
