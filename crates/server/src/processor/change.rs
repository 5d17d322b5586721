//! The one door to changing state. A request handler gets a [`Change`]
//! only from [`Processor::begin_change`], which refuses unless the request
//! has made every authorization decision its row of the operation table
//! names, and which first makes the request's intent record durable, naming
//! the keys it resolved. Writing key metadata (`save_key`), sending a
//! module request that changes a key (`call_for_key`, `call_all_for_key`,
//! `forget_everywhere`) and reaching the module to make a new key
//! (`module_for_change`) all take a `Change`, so a handler that forgot an
//! authorization fails before anything changed, not after.
//!
//! Background work (deletion sweep, scheduled rotation, expiry of imported
//! material) earns a `Change` for one key only in `background`, after
//! writing its service event: handlers cannot construct one.

use strongroom_hsm_proto::{HsmClient, Request};
use uuid::Uuid;

use super::Processor;
use crate::authz::RequestCtx;
use crate::authz::operations::Effect;
use crate::error::KmsError;

/// Permission to change the keys it names: earned by a request that
/// satisfied its row and recorded its intent, or by a background task that
/// recorded its service event. Its fields are private to the processor.
pub struct Change {
    keys: Vec<Uuid>,
    store: super::store_access::SharedStore,
}

impl std::fmt::Debug for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Change").field("keys", &self.keys).finish()
    }
}

impl Change {
    /// A background task's permission to change `key` (its service event
    /// is already durable).
    pub(super) fn system(processor: &Processor, key: Uuid) -> Self {
        Self {
            keys: vec![key],
            store: processor.store.clone(),
        }
    }

    /// The store, for the writes this change permits.
    pub(crate) fn store(&self) -> &dyn strongroom_store::Store {
        &*self.store
    }

    /// Fails unless this permission covers key `id`.
    pub(crate) fn covers(&self, id: Uuid) -> Result<(), KmsError> {
        if self.keys.contains(&id) {
            Ok(())
        } else {
            Err(KmsError::Internal(format!(
                "a change to key {id} was attempted under another key's authorization"
            )))
        }
    }
}

impl Processor {
    /// The module, for a keyless row (GenerateRandom) whose identity-policy
    /// decision was made.
    pub(crate) fn keyless_module(&self, rq: &RequestCtx<'_>) -> Result<&HsmClient, KmsError> {
        if !rq.operation().is_keyless() || !rq.satisfied() {
            return Err(unsatisfied(rq));
        }
        Ok(&self.module)
    }

    /// The module, for making the key a change is about (CreateKey).
    pub(crate) fn module_for_change(&self, _change: &Change) -> &HsmClient {
        &self.module
    }

    /// Checks that the request made every authorization decision its row
    /// names and records its intent (once, naming the keys it resolved)
    /// before the handler changes anything.
    pub(crate) async fn begin_change(&self, rq: &mut RequestCtx<'_>) -> Result<Change, KmsError> {
        if rq.operation().effect != Effect::Writes || !rq.satisfied() {
            return Err(unsatisfied(rq));
        }
        if let Some(intent) = rq.pending_intent() {
            if let Some(audit) = &self.audit {
                audit.record(intent).await?;
            }
            rq.intent_written();
        }
        Ok(Change {
            keys: rq.authorized_keys().to_vec(),
            store: self.store.clone(),
        })
    }

    /// Drops every module's copy of a key the change covers.
    pub(crate) async fn forget_everywhere(
        &self,
        change: &Change,
        id: Uuid,
    ) -> Result<(), KmsError> {
        change.covers(id)?;
        Ok(self.module.forget_key(id).await?)
    }

    /// Sends a module request that names a key the change covers by id,
    /// without its EKT (suspend, reinstate, import, owner change).
    pub(crate) async fn call_for_key(
        &self,
        change: &Change,
        request: Request,
    ) -> Result<strongroom_hsm_proto::Response, KmsError> {
        change.covers(named_key(&request)?)?;
        Ok(self.module.call(request).await?)
    }

    /// As [`Processor::call_for_key`], on every module (dropping or
    /// shredding cached copies).
    pub(crate) async fn call_all_for_key(
        &self,
        change: &Change,
        request: Request,
    ) -> Result<
        Vec<(
            String,
            Result<strongroom_hsm_proto::Response, strongroom_hsm_proto::HsmError>,
        )>,
        KmsError,
    > {
        change.covers(named_key(&request)?)?;
        Ok(self.module.call_all(request).await)
    }
}

/// The refusal of a state change (or module access) the request's
/// authorization decisions do not cover: a bug in the handler.
fn unsatisfied(rq: &RequestCtx<'_>) -> KmsError {
    let name = rq.operation().name;
    tracing::error!(
        operation = name,
        "state change attempted before the request authorized every resource its row names"
    );
    KmsError::Internal(format!(
        "{name} tried to change state before authorizing its resources"
    ))
}

/// The key a key-naming module request is about.
fn named_key(request: &Request) -> Result<Uuid, KmsError> {
    match request {
        Request::SuspendKey { key_id, .. }
        | Request::ReinstateKey { key_id, .. }
        | Request::PrepareImport { key_id, .. }
        | Request::UpdateSuspensionOwner { key_id, .. }
        | Request::ForgetKey { key_id }
        | Request::ShredKey { key_id } => Ok(*key_id),
        Request::ImportKeyMaterial { key: r, .. } => Ok(r.key_id),
        _ => Err(KmsError::Internal(
            "only requests that name one key go through call_for_key".into(),
        )),
    }
}
