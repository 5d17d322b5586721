//! The module as a state-changing handler sees it: only the requests that
//! create, change, drop or release the material of the keys its `Change`
//! covers (the key being created, for CreateKey; the keys the request was
//! authorized on, otherwise). A request naming any other key, or one that
//! is not a change at all, is refused before it is sent.

use strongroom_hsm_proto::{Ekt, HsmClient, HsmError, KeyRef, KeySpecCode, Request, Response};
use uuid::Uuid;

use super::module_scope::{Scope, refused, scope};

mod changes;

/// The module client, narrowed to changing the keys of one `Change`. Its
/// calls take it by value, so a call's future owns it.
#[derive(Clone, Copy)]
pub struct ChangeModule<'a> {
    client: &'a HsmClient,
    keys: &'a [Uuid],
}

impl<'a> ChangeModule<'a> {
    /// `client`, narrowed to changing `keys`.
    pub(super) fn narrowed_to(client: &'a HsmClient, keys: &'a [Uuid]) -> Self {
        Self { client, keys }
    }
}

impl ChangeModule<'_> {
    /// Fails unless `request` is a change of keys this client covers.
    fn check(&self, request: &Request) -> Result<(), HsmError> {
        match scope(request) {
            Scope::ChangeOf(named) if named.iter().all(|k| self.keys.contains(k)) => Ok(()),
            Scope::ChangeOf(_) | Scope::UseOf(_) | Scope::Never => {
                Err(refused(request, "change's", self.keys))
            }
        }
    }

    /// Sends a change of a covered key to one module (with failover).
    pub async fn call(self, request: Request) -> Result<Response, HsmError> {
        self.check(&request)?;
        self.client.call(request).await
    }

    /// Sends a change of a covered key to every module (installing,
    /// dropping or shredding every copy); answers per module, by name.
    pub async fn call_all(
        self,
        request: Request,
    ) -> Result<Vec<(String, Result<Response, HsmError>)>, HsmError> {
        self.check(&request)?;
        Ok(self.client.call_all(request).await)
    }

    /// Generates a covered key's backing key, returning its EKT.
    pub async fn generate_backing_key(
        self,
        key: KeyRef,
        spec: KeySpecCode,
    ) -> Result<Ekt, HsmError> {
        self.check(&Request::GenerateBackingKey { key, spec })?;
        self.client.generate_backing_key(key, spec).await
    }

    /// Drops a covered key's cached backing keys from the module.
    pub async fn forget_key(self, key_id: Uuid) -> Result<(), HsmError> {
        self.check(&Request::ForgetKey { key_id })?;
        self.client.forget_key(key_id).await
    }
}
