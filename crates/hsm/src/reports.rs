//! What a module says about itself: status, domains, attestation, logs.

use strongroom_hsm_proto::admin::{
    ATTESTATION_SIGNING_PREFIX, AttestationBody, AttestationReport, DomainSummary, ModuleStatus,
    encode, prefixed,
};
use strongroom_hsm_proto::{HsmError, Request, Response};

use crate::module::{Module, now_secs};

impl Module {
    /// The module's status.
    pub fn status(&self) -> ModuleStatus {
        ModuleStatus {
            module_id: self.identity.id,
            friendly_name: self.friendly_name.clone(),
            mode: self.mode.name().into(),
            signing_key: self.identity.signing.public_key().to_vec(),
            agreement_key: self.identity.agreement.public_key().to_vec(),
            domains: self.domain_summaries(),
            cached_keys: self.vault.len() + self.asymmetric.len(),
            cache_capacity: self.vault.capacity(),
            locked_bytes: self.vault.locked_bytes(),
            memory_locked: self.vault.is_locked(),
            uptime_secs: self.started.elapsed().as_secs(),
            requests_served: self.served,
            last_erasure: self.last_erasure.clone(),
            tags: self.config.tags.clone(),
        }
    }

    pub(crate) fn domain_summaries(&self) -> Vec<DomainSummary> {
        self.domains
            .iter()
            .map(|(id, d)| DomainSummary {
                domain_id: *id,
                epoch: d.body.as_ref().map_or(0, |b| b.epoch),
                generations: match &d.body {
                    Some(b) => b.generations.iter().map(|g| g.number).collect(),
                    None => d.keys.keys().copied().collect(),
                },
                members: d
                    .body
                    .as_ref()
                    .map(|b| b.members.iter().map(|m| m.module_id).collect())
                    .unwrap_or_default(),
                keys_loaded: !d.keys.is_empty(),
            })
            .collect()
    }

    pub(crate) fn attest(&self, nonce: Vec<u8>) -> Result<AttestationReport, HsmError> {
        if nonce.len() > 64 {
            return Err(HsmError::InvalidRequest(
                "attestation nonce must be at most 64 bytes".into(),
            ));
        }
        let body = encode(&AttestationBody {
            module_id: self.identity.id,
            friendly_name: self.friendly_name.clone(),
            measurement: self.config.measurement.clone(),
            installed_update: self.installed_update.clone(),
            signing_key: self.identity.signing.public_key().to_vec(),
            agreement_key: self.identity.agreement.public_key().to_vec(),
            mode: self.mode.name().into(),
            domains: self
                .domains
                .iter()
                .map(|(id, d)| (*id, d.body.as_ref().map_or(0, |b| b.epoch)))
                .collect(),
            nonce,
            issued_at: now_secs(),
        });
        let signature = self
            .identity
            .signing
            .sign(&prefixed(ATTESTATION_SIGNING_PREFIX, &body))
            .map_err(|e| HsmError::Internal(e.to_string()))?;
        Ok(AttestationReport { body, signature })
    }

    pub(crate) fn log_request(&self, request: Request) -> Result<Response, HsmError> {
        let log = self
            .log
            .as_ref()
            .ok_or_else(|| HsmError::InvalidRequest("this module keeps no log".into()))?;
        let err = |e: crate::log::LogError| HsmError::InvalidRequest(e.to_string());
        match request {
            Request::ListLogs => Ok(Response::Logs(log.list())),
            Request::DescribeLog { log_id } => log
                .describe(log_id)
                .map(|i| Response::Logs(vec![i]))
                .map_err(err),
            Request::GetLog {
                log_id,
                offset,
                length,
            } => log
                .read(log_id, offset, length)
                .map(Response::LogBytes)
                .map_err(err),
            _ => Err(HsmError::InvalidRequest("not a log request".into())),
        }
    }
}
