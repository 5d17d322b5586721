//! The frontend's audit sealer: footers and receipts sealed by the
//! security module with its domain's audit seal key (docs/audit.md, "The
//! seal key"). Nothing the frontend keeps can make a seal: forging a
//! footer needs a module that lists this host.
//!
//! The audit writer is a thread of its own and seals rarely (a segment
//! roll, a receipt), so [`ModuleSealer::seal`] hands the request to the
//! async module client and waits, with a bound. If the module cannot be
//! reached the seal fails; the writer keeps the segment open and retries
//! (`strongroom_audit`), so no record waits for a module.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use strongroom_audit::{AuditError, FooterSealer, Seal, SealCheck, TrustedKeys, list_seal_key};
use strongroom_hsm_proto::{AuditSealKey, HsmClient};

use crate::error::KmsError;

/// How long a seal may wait for the module before it counts as failed.
const SEAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Seals with the security module's audit seal key.
pub struct ModuleSealer {
    hsm: HsmClient,
    runtime: tokio::runtime::Handle,
    /// Where the convenience listing of keys used is kept.
    dir: PathBuf,
    trusted: RwLock<TrustedKeys>,
}

impl std::fmt::Debug for ModuleSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ModuleSealer({:?})", self.trusted())
    }
}

/// Trusts each of `keys` (from the module) in `trusted`; lists them in `dir`.
fn trust(trusted: &mut TrustedKeys, keys: &[AuditSealKey]) -> Result<Vec<String>, AuditError> {
    keys.iter()
        .map(|k| trusted.add_ed25519_bytes(&k.public_key))
        .collect()
}

/// The domain's audit seal keys, as the module gives them: the keys every
/// verifier that can reach the module trusts.
pub async fn module_seal_keys(hsm: &HsmClient) -> Result<TrustedKeys, KmsError> {
    let keys = hsm.audit_seal_keys().await?;
    let mut trusted = TrustedKeys::default();
    trust(&mut trusted, &keys).map_err(|e| KmsError::Internal(e.to_string()))?;
    Ok(trusted)
}

impl ModuleSealer {
    /// Asks the module for the domain's seal keys (so that recovery and
    /// retention can check what was sealed before) and returns a sealer
    /// that also trusts `legacy` (the HMAC key of earlier versions, if
    /// any). Call it on the runtime the module client runs on.
    pub async fn connect(
        hsm: HsmClient,
        dir: PathBuf,
        legacy: TrustedKeys,
    ) -> Result<Arc<Self>, KmsError> {
        let mut trusted = module_seal_keys(&hsm).await.map_err(|e| {
            KmsError::Internal(format!(
                "cannot get the audit seal keys from the security module: {e}"
            ))
        })?;
        for (_, key) in trusted.ed25519_keys() {
            if let Err(e) = list_seal_key(&dir, key) {
                tracing::warn!(error = %e, "cannot list the audit seal key in the audit directory");
            }
        }
        trusted.extend(&legacy);
        Ok(Arc::new(Self {
            hsm,
            runtime: tokio::runtime::Handle::current(),
            dir,
            trusted: RwLock::new(trusted),
        }))
    }

    /// Asks the module to sign, waiting at most [`SEAL_TIMEOUT`].
    fn ask(&self, message: &[u8]) -> Result<(AuditSealKey, Vec<u8>), AuditError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let hsm = self.hsm.clone();
        let message = message.to_vec();
        self.runtime.spawn(async move {
            let _ = tx.send(hsm.sign_audit_seal(message).await);
        });
        match rx.recv_timeout(SEAL_TIMEOUT) {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(AuditError::Seal(format!("the security module: {e}"))),
            Err(_) => Err(AuditError::Seal(
                "the security module did not answer in time".into(),
            )),
        }
    }
}

impl FooterSealer for ModuleSealer {
    fn seal(&self, message: &[u8]) -> Result<Seal, AuditError> {
        let (key, signature) = self.ask(message)?;
        // The module answered over its authenticated channel: its key is
        // the domain's (a new one after a domain-key rotation). Checked
        // before use, so a bad answer never becomes a footer.
        let mut answered = TrustedKeys::default();
        let sealer = trust(&mut answered, std::slice::from_ref(&key))?.remove(0);
        if answered.check(&sealer, message, &signature) != SealCheck::Ed25519 {
            return Err(AuditError::Seal(
                "the security module's seal does not verify".into(),
            ));
        }
        let new = {
            let mut t = self.trusted.write().unwrap_or_else(|p| p.into_inner());
            let known = t.ed25519_keys().any(|(id, _)| id == sealer);
            t.extend(&answered);
            !known
        };
        if new && let Some((_, k)) = answered.ed25519_keys().next() {
            tracing::info!(key = %sealer, generation = key.generation, "audit footers are sealed with a new domain seal key");
            if let Err(e) = list_seal_key(&self.dir, k) {
                tracing::warn!(error = %e, "cannot list the audit seal key in the audit directory");
            }
        }
        Ok(Seal {
            sealer,
            seal: signature,
        })
    }

    fn trusted(&self) -> TrustedKeys {
        self.trusted
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_audit_crate_prefixes_what_the_module_signs() {
        assert_eq!(
            strongroom_audit::ED25519_SEAL_CONTEXT,
            strongroom_hsm_proto::AUDIT_SEAL_CONTEXT
        );
    }
}
