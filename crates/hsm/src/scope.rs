//! Who asks a module for something, and in which of its domains.

use strongroom_hsm_proto::{Caller, HsmError};
use uuid::Uuid;

/// A request's authority inside the module: the caller, and the domain the
/// request names (`Request::InDomain`). A host always names one, and the
/// module then seals new material only under that domain and opens only
/// EKTs bound to it. Only the in-process caller of the embedded module may
/// leave the domain out, meaning the module's only domain.
#[derive(Debug, Clone)]
pub(crate) struct Requester {
    /// Who is asking.
    pub(crate) caller: Caller,
    /// The domain the request is for.
    pub(crate) domain: Option<Uuid>,
}

impl Requester {
    /// Refuses a host's request that names no domain.
    pub(crate) fn require_named_domain(&self) -> Result<(), HsmError> {
        match (&self.caller, self.domain) {
            (Caller::Host(_), None) => Err(unnamed_domain()),
            _ => Ok(()),
        }
    }

    /// Refuses material of `domain` when the request names another one.
    pub(crate) fn check_domain(&self, domain: Uuid) -> Result<(), HsmError> {
        self.require_named_domain()?;
        match self.domain {
            // The EKT (or token) is bound to another domain than the one
            // the request is for: never open it on this request's behalf.
            Some(named) if named != domain => Err(HsmError::InvalidKeyToken),
            _ => Ok(()),
        }
    }
}

/// A host's request that acts in a domain without naming it.
pub(crate) fn unnamed_domain() -> HsmError {
    HsmError::InvalidRequest("a host's request must name its domain (send it as InDomain)".into())
}
