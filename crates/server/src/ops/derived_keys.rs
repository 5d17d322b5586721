//! DeriveKey (a Strongroom extension, docs/extensions.md): a key derived
//! (HKDF) in the module from a KMS key version and a context, returned as a
//! derived-key token, and revealed in clear only with kms:RevealDerivedKey,
//! which marks the KMS key exposed for ever.

use serde::{Deserialize, Serialize};
use strongroom_hsm_proto::KeyRef;
use strongroom_hsm_proto::ciphertext::CiphertextHeader;

use crate::authz::RequestCtx;
use crate::error::KmsError;
use crate::processor::{AuthorizedKey, Processor};
use crate::protocol::Blob;

/// DeriveKey input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeriveKeyRequest {
    pub key_id: Option<String>,
    /// The context the key is derived for (like an encryption context).
    pub derivation_context: Option<crate::protocol::EncryptionContext>,
    /// `AES_256` (default) or `AES_128`.
    pub key_spec: Option<String>,
    /// Also return the derived key in clear (marks the KMS key exposed).
    pub return_derived_key: Option<bool>,
    /// A token from an earlier DeriveKey: reveal the key it holds (with
    /// `ReturnDerivedKey: true`), from the version it was derived from.
    pub derived_key_token: Option<Blob>,
}

/// DeriveKey output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeriveKeyResponse {
    pub key_id: String,
    /// The derived key sealed under the KMS key version, bound to the
    /// derivation context. Decrypt refuses it; DeriveKey with it and
    /// `ReturnDerivedKey` (kms:RevealDerivedKey) reveals it.
    pub derived_key_token: Blob,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derived_key: Option<crate::protocol::SecretBlob>,
}

impl Processor {
    /// DeriveKey: a key derived (HKDF) from the KMS key's current version
    /// and a context, deterministic for both, returned as a derived-key
    /// token that only a reveal opens; in clear only with
    /// kms:RevealDerivedKey, which marks the key exposed.
    pub(crate) async fn derive_key(
        &self,
        rq: &mut RequestCtx<'_>,
        req: DeriveKeyRequest,
    ) -> Result<DeriveKeyResponse, KmsError> {
        let length = derived_key_length(req.key_spec.as_deref())?;
        let reveal = req.return_derived_key == Some(true);
        let context = crate::processor::context_bytes(&req.derivation_context)?;
        rq.note_context(&req.derivation_context)?;
        let token = presented_token(&req, reveal)?;
        let key = match &token {
            Some((version, _)) => self.derived_token_key(rq, &req.key_id, *version).await?,
            None => self.resolve(rq, &req.key_id, true).await?,
        };
        // Every copy shares the material: one copy marked exposed would
        // leave its twins unmarked.
        crate::ops::multi_region::refuse_extension(self, &key)?;
        if reveal {
            // Material in clear needs a policy naming kms:RevealDerivedKey.
            self.authorize_also(rq, "kms:RevealDerivedKey", &req.derivation_context, &key)
                .await?;
        }
        crate::ops::crypto::require_encryption_key(self, &key)?;
        if crate::ops::asymmetric::is_asymmetric(&key) {
            return Err(KmsError::InvalidKeyUsage(format!(
                "{} is asymmetric: keys derive from symmetric keys.",
                self.key_arn(&key)
            )));
        }
        self.require_usable(rq.operation().name, &key)?;
        // Writes: with ReturnDerivedKey the key is marked exposed below.
        let change = self.begin_change(rq).await?;
        let dk = match token {
            Some((version, token)) => {
                let ekt = self.version_ekt(&key, version).await?;
                self.with_ekt(&key, version, ekt, |ekt| {
                    self.module_for_change(&change).reveal_derived_key(
                        version,
                        ekt,
                        token.clone(),
                        context.clone(),
                    )
                })
                .await?
            }
            None => {
                let (version, ekt) = self.current_ekt(&key).await?;
                self.with_ekt(&key, version, ekt, |ekt| {
                    self.module_for_change(&change).derive_key(
                        version,
                        ekt,
                        context.clone(),
                        length,
                    )
                })
                .await?
            }
        };
        if reveal && !key.exposed {
            // Material derived from this key now exists in clear: say so for
            // ever, before the caller sees it.
            self.mark_exposed(&change, &key).await?;
        }
        Ok(DeriveKeyResponse {
            key_id: self.key_arn(&key),
            derived_key_token: Blob(dk.ciphertext),
            derived_key: if reveal {
                dk.plaintext.map(crate::protocol::SecretBlob)
            } else {
                None
            },
        })
    }

    /// Marks `key` exposed, under its lock only (not across the module
    /// call that derived the material).
    async fn mark_exposed(
        &self,
        change: &crate::processor::Change,
        key: &crate::processor::AuthorizedKey,
    ) -> Result<(), KmsError> {
        let _guard = self.repo.lock_keys(&[key.material_id()]).await;
        if let Some(current) = self.load_key(key.id).await? {
            let mut next = (*current).clone();
            next.exposed = true;
            self.repo.save(change, next).await?;
        }
        Ok(())
    }

    /// The key a derived-key token names (checked against a KeyId, if
    /// given, as Decrypt does), authorized for this request.
    async fn derived_token_key(
        &self,
        rq: &mut RequestCtx<'_>,
        named: &Option<String>,
        version: KeyRef,
    ) -> Result<AuthorizedKey, KmsError> {
        if let Some(name) = named.as_deref().filter(|s| !s.is_empty()) {
            let wanted = self.resolve(rq, &Some(name.to_owned()), true).await?;
            if wanted.material_id() != version.key_id {
                return Err(KmsError::IncorrectKey(
                    "The key ID in the request does not identify the key of the DerivedKeyToken."
                        .into(),
                ));
            }
            return Ok(wanted);
        }
        self.resolve_ciphertext_key(rq, version.key_id).await
    }
}

/// DeriveKey's length in bytes for its KeySpec (AES_256 by default).
fn derived_key_length(spec: Option<&str>) -> Result<u16, KmsError> {
    match spec {
        None | Some("AES_256") => Ok(32),
        Some("AES_128") => Ok(16),
        Some(other) => Err(KmsError::Validation(format!(
            "KeySpec {other} is not AES_256 or AES_128."
        ))),
    }
}

/// The derived-key token a reveal presents, with the key version its
/// header names (accepted only with ReturnDerivedKey).
fn presented_token(
    req: &DeriveKeyRequest,
    reveal: bool,
) -> Result<Option<(KeyRef, Vec<u8>)>, KmsError> {
    match &req.derived_key_token {
        Some(_) if !reveal => Err(KmsError::Validation(
            "DerivedKeyToken is only accepted with ReturnDerivedKey: true.".into(),
        )),
        Some(t) => CiphertextHeader::parse_derived_key_token(&t.0)
            .map(|h| Some((h.key, t.0.clone())))
            .map_err(|_| KmsError::InvalidCiphertext(String::new())),
        None => Ok(None),
    }
}
