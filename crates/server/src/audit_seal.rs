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

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Whether the module's keys have been fetched (else `trusted` asks).
    has_module_keys: AtomicBool,
}

impl std::fmt::Debug for ModuleSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ModuleSealer")
    }
}

/// Trusts each of `keys` (from the module) in `trusted`.
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
    /// A sealer through `hsm` that also trusts `legacy` (the HMAC key of
    /// earlier versions, if any). It asks the module for the domain's seal
    /// keys now, so that recovery and retention can check what was sealed
    /// before; a module that does not answer yet (down, or not listing
    /// this host yet) is asked again when the keys are next needed. Call it
    /// on the runtime the module client runs on.
    pub async fn connect(hsm: HsmClient, dir: PathBuf, legacy: TrustedKeys) -> Arc<Self> {
        let sealer = Self {
            hsm: hsm.clone(),
            runtime: tokio::runtime::Handle::current(),
            dir,
            trusted: RwLock::new(legacy),
            has_module_keys: AtomicBool::new(false),
        };
        match module_seal_keys(&hsm).await {
            Ok(keys) => sealer.adopt(&keys, true),
            Err(e) => {
                tracing::warn!(error = %e, "the security module gave no audit seal keys yet; footers are sealed once it does")
            }
        }
        Arc::new(sealer)
    }

    /// The keys trusted so far (without asking the module).
    fn known(&self) -> TrustedKeys {
        self.trusted
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Trusts the module's `keys` and lists them in the audit directory;
    /// `complete` when they are all the domain's keys (not only the one a
    /// seal was made with).
    fn adopt(&self, keys: &TrustedKeys, complete: bool) {
        for (id, key) in keys.ed25519_keys() {
            let known = self.known().ed25519_keys().any(|(i, _)| i == id);
            if !known && let Err(e) = list_seal_key(&self.dir, key) {
                tracing::warn!(error = %e, "cannot list the audit seal key in the audit directory");
            }
        }
        self.trusted
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .extend(keys);
        if complete {
            self.has_module_keys.store(true, Ordering::SeqCst);
        }
    }

    /// Runs `call` on the module client's runtime and waits for it, at
    /// most [`SEAL_TIMEOUT`]. Blocks: never call it from an async task.
    fn wait_for<T: Send + 'static>(
        &self,
        call: impl Future<Output = Result<T, KmsError>> + Send + 'static,
    ) -> Result<T, AuditError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let _ = tx.send(call.await);
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
        let hsm = self.hsm.clone();
        let m = message.to_vec();
        let (key, signature) = self.wait_for(async move { Ok(hsm.sign_audit_seal(m).await?) })?;
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
        if !self.known().ed25519_keys().any(|(id, _)| id == sealer) {
            tracing::info!(key = %sealer, generation = key.generation, "audit footers are sealed with a new domain seal key");
        }
        self.adopt(&answered, false);
        Ok(Seal {
            sealer,
            seal: signature,
        })
    }

    fn trusted(&self) -> TrustedKeys {
        if !self.has_module_keys.load(Ordering::SeqCst) {
            let hsm = self.hsm.clone();
            match self.wait_for(async move { module_seal_keys(&hsm).await }) {
                Ok(keys) => self.adopt(&keys, true),
                Err(e) => tracing::warn!(error = %e, "the security module gave no audit seal keys"),
            }
        }
        self.known()
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
