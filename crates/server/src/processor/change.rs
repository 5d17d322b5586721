//! The one door to changing state. A request handler gets a [`Change`]
//! only from [`Processor::begin_change`], which refuses unless the request
//! has made every authorization decision its row of the operation table
//! names, and which first makes the request's intent record durable, naming
//! the keys it resolved. Writing key records (the key repository) and every
//! module request that creates, changes, drops or releases the material of
//! a key (`module_for_change`, a client narrowed to the change's keys, and
//! `call_all_for_key`, `forget_everywhere` on top of it)
//! take a `Change`, so a handler that forgot an authorization fails before
//! anything changed, not after, and one holding a `Change` for one key
//! cannot reach another.
//!
//! Background work (deletion sweep, scheduled rotation, expiry of imported
//! material) earns a `Change` for one key only in `background`, after
//! writing its service event: handlers cannot construct one.

use strongroom_hsm_proto::Request;
use uuid::Uuid;

use super::Processor;
use super::change_module::ChangeModule;
use crate::authz::RequestCtx;
use crate::authz::operations::Effect;
use crate::error::KmsError;

/// Permission to change the keys it names: earned by a request that
/// satisfied its row and recorded its intent, or by a background task that
/// recorded its service event. Its fields are private to the processor.
pub struct Change {
    keys: Vec<Uuid>,
}

impl std::fmt::Debug for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Change").field("keys", &self.keys).finish()
    }
}

impl Change {
    /// A background task's permission to change `key` (its service event
    /// is already durable).
    pub(super) fn system(key: &strongroom_store::KeyRecord) -> Self {
        let mut keys = vec![key.id];
        if key.material_id() != key.id {
            keys.push(key.material_id());
        }
        Self { keys }
    }

    /// A permission to change `keys` (unit tests of the repository).
    #[cfg(test)]
    pub(super) fn for_test(keys: &[Uuid]) -> Self {
        Self {
            keys: keys.to_vec(),
        }
    }

    /// Whether this permission covers key `id`.
    pub(crate) fn includes(&self, id: Uuid) -> bool {
        self.keys.contains(&id)
    }

    /// Fails unless this permission covers key `id`.
    pub(crate) fn covers(&self, id: Uuid) -> Result<(), KmsError> {
        if self.includes(id) {
            Ok(())
        } else {
            Err(KmsError::Internal(format!(
                "a change to key {id} was attempted under another key's authorization"
            )))
        }
    }
}

impl Processor {
    /// The module, narrowed to the keys a change covers: creating, changing,
    /// dropping or releasing the material of those keys (`ChangeModule`),
    /// never a request that names another key.
    pub(crate) fn module_for_change<'a>(&'a self, change: &'a Change) -> ChangeModule<'a> {
        ChangeModule::narrowed_to(&self.module, &change.keys)
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
        })
    }

    /// Drops every module's copy of a key the change covers.
    pub(crate) async fn forget_everywhere(
        &self,
        change: &Change,
        id: Uuid,
    ) -> Result<(), KmsError> {
        Ok(self.module_for_change(change).forget_key(id).await?)
    }

    /// Sends a module request that changes a key the change covers to
    /// every module (dropping or shredding cached copies); one naming any
    /// other key is refused before it is sent.
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
        Ok(self.module_for_change(change).call_all(request).await?)
    }
}

/// The refusal of a state change (or module access) the request's
/// authorization decisions do not cover: a bug in the handler.
pub(super) fn unsatisfied(rq: &RequestCtx<'_>) -> KmsError {
    let name = rq.operation().name;
    tracing::error!(
        operation = name,
        "state change attempted before the request authorized every resource its row names"
    );
    KmsError::Internal(format!(
        "{name} tried to change state before authorizing its resources"
    ))
}
