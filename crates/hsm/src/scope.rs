//! Who asks a module for something, and in which of its domains.

use std::collections::BTreeMap;

use strongroom_hsm_proto::{Caller, HsmError, Request};
use uuid::Uuid;

use crate::DomainKey;
use crate::module::{Domain, Module};

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

impl Module {
    pub(crate) fn may_use(caller: &Caller, domain: &Domain) -> bool {
        match caller {
            Caller::InProcess => true,
            Caller::Host(key) => domain
                .body
                .as_ref()
                .is_some_and(|b| b.hosts.iter().any(|h| h[..] == key[..])),
        }
    }

    /// The domain a request is for: the one it names, or, for the embedded
    /// module's in-process caller, the module's only domain.
    fn requested_domain(&self, requester: &Requester) -> Result<Uuid, HsmError> {
        requester.require_named_domain()?;
        if let Some(named) = requester.domain {
            return Ok(named);
        }
        let mut ids = self.domains.keys();
        match (ids.next(), ids.next()) {
            (Some(only), None) => Ok(*only),
            (None, _) => Err(HsmError::NoDomainKey(
                "any domain (the module belongs to none)".into(),
            )),
            _ => Err(HsmError::InvalidRequest(
                "the module holds several domains: the request must name one".into(),
            )),
        }
    }

    /// The domain (and its newest key) new material is sealed under: the
    /// domain the request names, if the caller may use it.
    pub(crate) fn current_domain(&self, requester: &Requester) -> Result<&DomainKey, HsmError> {
        self.usable_domain(requester)?
            .keys
            .values()
            .next_back()
            .ok_or_else(|| HsmError::NoDomainKey("the domain (keys not loaded)".into()))
    }

    /// The domain the request names (every generation of its key), if
    /// the module is in use mode and the caller may use it.
    pub(crate) fn usable_domain(&self, requester: &Requester) -> Result<&Domain, HsmError> {
        self.require_use()?;
        let id = self.requested_domain(requester)?;
        let d = self
            .domains
            .get(&id)
            .ok_or_else(|| HsmError::NoDomainKey(format!("domain {id}")))?;
        if !Self::may_use(&requester.caller, d) {
            return Err(HsmError::HostNotAuthorized(format!(
                "domain {id} does not list the host's key"
            )));
        }
        Ok(d)
    }

    pub(crate) fn domain_key(
        &self,
        requester: &Requester,
        domain: Uuid,
        generation: u32,
    ) -> Result<&DomainKey, HsmError> {
        self.require_use()?;
        Self::lookup(&self.domains, requester, domain, generation)
    }

    /// The key of `generation` of `domain`, for material bound to that
    /// domain: only if the request is for that very domain and the caller
    /// may use it.
    pub(crate) fn lookup<'a>(
        domains: &'a BTreeMap<Uuid, Domain>,
        requester: &Requester,
        domain: Uuid,
        generation: u32,
    ) -> Result<&'a DomainKey, HsmError> {
        requester.check_domain(domain)?;
        let d = domains
            .get(&domain)
            .ok_or_else(|| HsmError::NoDomainKey(format!("domain {domain}")))?;
        if !Self::may_use(&requester.caller, d) {
            return Err(HsmError::HostNotAuthorized(format!(
                "domain {domain} does not list the host's key"
            )));
        }
        d.keys.get(&generation).ok_or_else(|| {
            HsmError::NoDomainKey(format!("generation {generation} of domain {domain}"))
        })
    }

    /// Checks, before anything else, that the domain a request names is
    /// held here and lists the caller; a host must name one.
    pub(crate) fn check_scope(&self, requester: &Requester) -> Result<(), HsmError> {
        self.require_use()?;
        requester.require_named_domain()?;
        if let Some(id) = requester.domain {
            let d = self
                .domains
                .get(&id)
                .ok_or_else(|| HsmError::NoDomainKey(format!("domain {id}")))?;
            if !Self::may_use(&requester.caller, d) {
                return Err(HsmError::HostNotAuthorized(format!(
                    "domain {id} does not list the host's key"
                )));
            }
        }
        Ok(())
    }

    /// Drops every cached copy of `key_id` in the request's domain (every
    /// domain only for the embedded module's own process).
    pub(crate) fn forget_key(&mut self, requester: &Requester, key_id: Uuid) -> usize {
        let domain = requester.domain;
        self.vault.forget(key_id, domain)
            + self.asymmetric.forget(key_id, domain)
            + self.volatile.forget(key_id, domain)
    }

    /// Counts a request and checks the domain it acts in, if any.
    pub(crate) fn admit(
        &mut self,
        caller: &Caller,
        request: Request,
    ) -> Result<(Requester, Request), HsmError> {
        self.served += 1;
        let (domain, request) = match request {
            Request::InDomain { domain, request } => (Some(domain), *request),
            other => (None, other),
        };
        let requester = Requester {
            caller: caller.clone(),
            domain,
        };
        if request.acts_in_domain() {
            self.check_scope(&requester)?;
        }
        Ok((requester, request))
    }
}
