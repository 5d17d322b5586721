//! The seed's operations beyond AWS KMS, on the same endpoint
//! (docs/extensions.md): ShredKey, RevokeKey, SuspendKey, ReinstateKey,
//! UpdateSuspensionOwner and DeriveKey.

use serde::{Deserialize, Serialize};
use strongroom_hsm_proto::{Ekt, KeyRef, Request, Response};
use strongroom_store::KeyState;

use crate::authz::RequestCtx;
use crate::error::KmsError;
use crate::processor::{AuthorizedKey, Processor};
use crate::protocol::{Blob, Empty, KeyIdRequest};
use crate::validate::{Validate, Validator, null};

/// SuspendKey input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct SuspendKeyRequest {
    pub key_id: Option<String>,
    /// The owner's RSA public key (DER SubjectPublicKeyInfo, base64).
    pub public_key: Option<Blob>,
}

/// SuspendKey output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SuspendKeyResponse {
    pub key_id: String,
    /// Every version, wrapped to the owner's key (docs/extensions.md).
    pub suspended_key_material: Blob,
    pub versions: u32,
}

/// ReinstateKey input: the suspended bundle, unwrapped by the owner and
/// re-wrapped to parameters from GetParametersForImport.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReinstateKeyRequest {
    pub key_id: Option<String>,
    pub import_token: Option<Blob>,
    pub encrypted_key_material: Option<Blob>,
}

/// UpdateSuspensionOwner input: the current owner hands the key to a new
/// owner, signing the change (docs/extensions.md).
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateSuspensionOwnerRequest {
    pub key_id: Option<String>,
    /// The current owner's RSA public key (DER SPKI, base64).
    pub current_owner_public_key: Option<Blob>,
    /// The new owner's RSA public key (DER SPKI, base64).
    pub new_owner_public_key: Option<Blob>,
    /// Unix seconds the signed statement is valid until (at most an hour on).
    pub valid_to: Option<u64>,
    /// RSASSA-PSS-SHA-256 by the current owner over the statement.
    pub signature: Option<Blob>,
}

/// UpdateSuspensionOwner output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateSuspensionOwnerResponse {
    pub key_id: String,
    /// Versions now bound to the new owner.
    pub versions: u32,
}

/// One module's signed statement in a shred certificate.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignedStatement {
    /// Module address or name, as the frontend knows it.
    pub module: String,
    /// The encoded statement (docs/formats.md).
    pub statement: Blob,
    /// The module's signature over it.
    pub signature: Blob,
}

/// ShredKey output: the shred certificate.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ShredKeyResponse {
    pub key_id: String,
    pub shredded_at: f64,
    /// Key versions whose EKTs were destroyed in the store.
    pub versions_destroyed: u32,
    /// Statements of the modules that confirmed they hold no copy.
    pub statements: Vec<SignedStatement>,
    /// Modules that could not be reached (a restart empties them).
    pub unconfirmed_modules: Vec<String>,
}

fn terminal(p: &Processor, k: &strongroom_store::KeyRecord) -> Result<(), KmsError> {
    match k.state {
        KeyState::Shredded | KeyState::Revoked => Err(KmsError::InvalidState(format!(
            "{} is {}: nothing more can be done with it.",
            p.key_arn(k),
            k.state.as_str()
        ))),
        _ => Ok(()),
    }
}

/// The extensions' members follow the model's shapes where AWS has the
/// same member (docs/extensions.md); the operations check the rest.
macro_rules! key_id_only {
    ($($request:ty),*) => {$(
        impl Validate for $request {
            fn validate(&self, v: &mut Validator) {
                v.key_id(self.key_id.as_deref());
            }
        }
    )*};
}

key_id_only!(
    SuspendKeyRequest,
    ReinstateKeyRequest,
    UpdateSuspensionOwnerRequest,
    super::derived_keys::DeriveKeyRequest
);

impl Processor {
    /// SuspendKey: hand every version to the owner, wrapped to their RSA
    /// key, and destroy it here (EKTs emptied and purged, module copies
    /// dropped). Until ReinstateKey every use fails.
    ///
    /// The versions are read from the store, not the cache (another
    /// frontend may have re-bound them to a new owner), and the material
    /// leaves only once every EKT was swapped out by compare-and-swap on
    /// what was read and the Suspended state is saved: if anything changed
    /// meanwhile the swaps are undone and nothing is handed out.
    pub(crate) async fn suspend_key(
        &self,
        rq: &mut RequestCtx<'_>,
        req: SuspendKeyRequest,
    ) -> Result<SuspendKeyResponse, KmsError> {
        let owner = req.public_key.as_ref().ok_or_else(|| null("publicKey"))?;
        let guard = self.lock_named(rq, &[&req.key_id], &[]).await?;
        let key = self.resolve(rq, &req.key_id, false).await?;
        crate::processor::locked(&guard, &key)?;
        crate::ops::multi_region::refuse_extension(self, &key)?;
        let stored = self.stored_key(&key).await?;
        if stored.volatile {
            return Err(KmsError::UnsupportedOperation(format!(
                "{} is VOLATILE: it has no stored material to hand over.",
                self.key_arn(&stored)
            )));
        }
        if stored.state != KeyState::Enabled {
            return Err(KmsError::InvalidState(format!(
                "{} is {}: only an enabled key can be suspended.",
                self.key_arn(&stored),
                stored.state.as_str()
            )));
        }
        let versions = self.stored_ekts(&key, 1..=stored.current_version).await?;
        let change = self.begin_change(rq).await?;
        let (blob, fingerprint) = self
            .module_for_change(&change)
            .suspend_key(key.id, versions.clone(), owner.0.clone())
            .await?;
        // Swap first, answer after: the blob stays here until the store no
        // longer holds the material and says so; on any failure the swaps
        // are undone and the store keeps the only copy.
        let swaps = self
            .swap_ekts(
                &change,
                key.id,
                versions
                    .iter()
                    .map(|(r, ekt)| (r.version, ekt.0.clone(), Vec::new()))
                    .collect(),
            )
            .await?;
        let mut next = stored.clone();
        next.state = KeyState::Suspended;
        next.suspension_fingerprint = Some(fingerprint);
        next.rotation_period_days = None;
        next.next_rotation_at = None;
        self.save_key_after_swaps(&change, next, &swaps).await?;
        // From here the blob is the only copy of the material: nothing may
        // fail the request any more (the store's next purge catches up; a
        // module that keeps a copy cached loses it on restart or eviction).
        if let Err(e) = self.repo.purge_freed(&change, key.id).await {
            tracing::warn!(key_id = %key.id, error = %e, "freed EKTs not purged yet");
        }
        self.repo.forget_key_ekts(key.id);
        match self
            .call_all_for_key(&change, Request::ForgetKey { key_id: key.id })
            .await
        {
            Ok(answers) => {
                for (module, answer) in answers {
                    if let Err(e) = answer {
                        tracing::warn!(%module, error = %e, "a module did not drop a suspended key");
                    }
                }
            }
            Err(e) => {
                tracing::warn!(key_id = %key.id, error = %e, "modules not asked to drop a suspended key")
            }
        }
        tracing::info!(key_id = %key.id, "key suspended");
        Ok(SuspendKeyResponse {
            key_id: self.key_arn(&stored),
            suspended_key_material: Blob(blob),
            versions: stored.current_version,
        })
    }

    /// UpdateSuspensionOwner: re-bind every version to a new owner. The
    /// module re-seals them only with the current owner's signature.
    pub(crate) async fn update_suspension_owner(
        &self,
        rq: &mut RequestCtx<'_>,
        req: UpdateSuspensionOwnerRequest,
    ) -> Result<UpdateSuspensionOwnerResponse, KmsError> {
        let current = req
            .current_owner_public_key
            .as_ref()
            .ok_or_else(|| null("currentOwnerPublicKey"))?;
        let new = req
            .new_owner_public_key
            .as_ref()
            .ok_or_else(|| null("newOwnerPublicKey"))?;
        let valid_to = req.valid_to.ok_or_else(|| null("validTo"))?;
        let signature = req.signature.as_ref().ok_or_else(|| null("signature"))?;
        let guard = self.lock_named(rq, &[&req.key_id], &[]).await?;
        let key = self.resolve(rq, &req.key_id, false).await?;
        crate::processor::locked(&guard, &key)?;
        crate::ops::multi_region::refuse_extension(self, &key)?;
        // As stored now: the binding to change is the one in the store.
        let stored = self.stored_key(&key).await?;
        if stored.volatile || !matches!(stored.state, KeyState::Enabled | KeyState::Disabled) {
            return Err(KmsError::InvalidState(format!(
                "{} is {}: only an enabled or disabled key with stored material has an owner to change.",
                self.key_arn(&stored),
                stored.state.as_str()
            )));
        }
        let versions = self.stored_ekts(&key, 1..=stored.current_version).await?;
        let change = self.begin_change(rq).await?;
        let rebound = self
            .module_for_change(&change)
            .update_suspension_owner(
                key.id,
                versions.clone(),
                current.0.clone(),
                new.0.clone(),
                valid_to,
                signature.0.clone(),
            )
            .await?;
        if rebound.len() != versions.len()
            || versions
                .iter()
                .zip(&rebound)
                .any(|((r, _), (r2, _))| r != r2)
        {
            return Err(KmsError::Internal(
                "the module rebound other versions than it was given".into(),
            ));
        }
        let swaps = self
            .swap_ekts(
                &change,
                key.id,
                versions
                    .iter()
                    .zip(&rebound)
                    .map(|((r, old), (_, new))| (r.version, old.0.clone(), new.0.clone()))
                    .collect(),
            )
            .await?;
        // A new revision: other frontends' cached EKTs (tied to the old
        // one) stop counting, and a rotation that derived its version from
        // a pre-change EKT fails its revision check, or makes this one fail
        // and undo the swaps.
        self.save_key_after_swaps(&change, stored, &swaps).await?;
        tracing::info!(key_id = %key.id, versions = rebound.len(), "suspension owner changed");
        Ok(UpdateSuspensionOwnerResponse {
            key_id: self.key_arn(&key),
            versions: rebound.len() as u32,
        })
    }

    /// ReinstateKey: take the material back (only the same material).
    pub(crate) async fn reinstate_key(
        &self,
        rq: &mut RequestCtx<'_>,
        req: ReinstateKeyRequest,
    ) -> Result<Empty, KmsError> {
        let token = req
            .import_token
            .as_ref()
            .ok_or_else(|| null("importToken"))?;
        let material = req
            .encrypted_key_material
            .as_ref()
            .ok_or_else(|| null("encryptedKeyMaterial"))?;
        let guard = self.lock_named(rq, &[&req.key_id], &[]).await?;
        let key = self.resolve(rq, &req.key_id, false).await?;
        crate::processor::locked(&guard, &key)?;
        crate::ops::multi_region::refuse_extension(self, &key)?;
        let stored = self.stored_key(&key).await?;
        let (KeyState::Suspended, Some(expected)) =
            (stored.state, stored.suspension_fingerprint.clone())
        else {
            return Err(KmsError::InvalidState(format!(
                "{} is not suspended.",
                self.key_arn(&stored)
            )));
        };
        let change = self.begin_change(rq).await?;
        let versions = self
            .module_for_change(&change)
            .reinstate_key(key.id, token.0.clone(), material.0.clone(), expected)
            .await?;
        let swaps = self
            .swap_ekts(
                &change,
                key.id,
                versions
                    .iter()
                    .map(|(r, ekt)| (r.version, Vec::new(), ekt.0.clone()))
                    .collect(),
            )
            .await?;
        let mut next = stored;
        next.state = KeyState::Enabled;
        next.suspension_fingerprint = None;
        self.save_key_after_swaps(&change, next, &swaps).await?;
        tracing::info!(key_id = %key.id, versions = versions.len(), "key reinstated");
        Ok(Empty {})
    }

    /// The EKT of `version` (empty for a VOLATILE key, which has none).
    pub(super) async fn version_ekt(
        &self,
        key: &AuthorizedKey,
        version: KeyRef,
    ) -> Result<Ekt, KmsError> {
        if key.volatile {
            return Ok(Ekt(Vec::new()));
        }
        self.ekt(key, version)
            .await?
            .ok_or_else(|| KmsError::InvalidCiphertext(String::new()))
    }

    /// ShredKey: destroy a key's material now, everywhere, with proof.
    pub(crate) async fn shred_key(
        &self,
        rq: &mut RequestCtx<'_>,
        req: KeyIdRequest,
    ) -> Result<ShredKeyResponse, KmsError> {
        let guard = self.lock_named(rq, &[&req.key_id], &[]).await?;
        let key = self.resolve(rq, &req.key_id, false).await?;
        crate::processor::locked(&guard, &key)?;
        crate::ops::multi_region::refuse_extension(self, &key)?;
        terminal(self, &key)?;
        let change = self.begin_change(rq).await?;
        // Store first: once the EKTs are gone no module can ever reopen the
        // key, whatever happens next; then every module drops its copies.
        let mut next = (*key).clone();
        let versions = next.current_version;
        next.state = KeyState::Shredded;
        next.current_version = 0;
        next.rotation_period_days = None;
        next.next_rotation_at = None;
        next.import_valid_to = None;
        self.repo.drop_versions(&change, next).await?;
        let mut statements = Vec::new();
        let mut unconfirmed = Vec::new();
        for (module, answer) in self
            .call_all_for_key(&change, Request::ShredKey { key_id: key.id })
            .await?
        {
            match answer {
                Ok(Response::Shredded(s)) => statements.push(SignedStatement {
                    module,
                    statement: Blob(s.body),
                    signature: Blob(s.signature),
                }),
                other => {
                    tracing::warn!(%module, answer = ?other.err(), "a module did not confirm the shred");
                    unconfirmed.push(module);
                }
            }
        }
        tracing::info!(key_id = %key.id, confirmed = statements.len(), "key shredded");
        Ok(ShredKeyResponse {
            key_id: self.key_arn(&key),
            shredded_at: self.now() as f64,
            versions_destroyed: versions,
            statements,
            unconfirmed_modules: unconfirmed,
        })
    }

    /// RevokeKey: unusable for ever; its EKTs stay (sealed) until their
    /// domain-key generation is retired, when they die with it.
    pub(crate) async fn revoke_key(
        &self,
        rq: &mut RequestCtx<'_>,
        req: KeyIdRequest,
    ) -> Result<Empty, KmsError> {
        let key = self
            .modify_key(rq, &req.key_id, |p, k| {
                crate::ops::multi_region::refuse_extension(p, k)?;
                terminal(p, k)?;
                if k.state == KeyState::PendingDeletion {
                    return Err(KmsError::InvalidState(format!(
                        "{} is pending deletion.",
                        p.key_arn(k)
                    )));
                }
                k.state = KeyState::Revoked;
                k.rotation_period_days = None;
                k.next_rotation_at = None;
                Ok(())
            })
            .await?;
        // Cached copies in the modules go now; the EKTs stay. (modify_key
        // authorized the request on this key and recorded its intent.)
        let change = self.begin_change(rq).await?;
        for (module, answer) in self
            .call_all_for_key(&change, Request::ForgetKey { key_id: key.id })
            .await?
        {
            if let Err(e) = answer {
                tracing::warn!(%module, error = %e, "a module did not drop a revoked key");
            }
        }
        self.repo.forget_key_ekts(key.id);
        Ok(Empty {})
    }
}
