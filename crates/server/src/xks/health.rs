//! GetHealthStatus from the real module fleet: a deep check of every
//! module (an XKS encrypt with integrity value, and a decrypt, under a
//! test key of this frontend's own that backs no KMS key), cached for at
//! most [`CACHE_TTL`] (the specification allows a minute).

use std::time::{Duration, Instant};

use strongroom_hsm_proto::xks::XksSealed;
use strongroom_hsm_proto::{Ekt, HsmClient, KeyRef, KeySpecCode, Request, Response};
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use super::error::XksError;
use super::wire::{FleetMember, HealthResponse};

/// How long a health answer is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(10);
/// A module whose deep check takes longer serves, but is DEGRADED.
const DEGRADED_AFTER: Duration = Duration::from_millis(100);
/// Most modules the answer lists (the specification's limit).
const MAX_FLEET_DETAILS: usize = 10;

struct Cached {
    at: Instant,
    answer: Result<HealthResponse, XksError>,
}

/// The fleet's health, checked and cached.
pub struct Health {
    hsm: HsmClient,
    /// This frontend's test key: a random id, never stored, never a KMS key.
    test_key: KeyRef,
    /// Its EKT, made by the first module that could.
    test_ekt: Mutex<Option<Ekt>>,
    cached: Mutex<Option<Cached>>,
}

fn model() -> String {
    format!("Strongroom {}", env!("CARGO_PKG_VERSION"))
}

impl Health {
    /// Health of the modules `hsm` reaches.
    pub fn new(hsm: HsmClient) -> Self {
        Self {
            hsm,
            test_key: KeyRef {
                key_id: uuid::Uuid::new_v4(),
                version: 1,
            },
            test_ekt: Mutex::new(None),
            cached: Mutex::new(None),
        }
    }

    /// The current answer (cached, or checked now).
    pub async fn status(&self) -> Result<HealthResponse, XksError> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref()
            && c.at.elapsed() < CACHE_TTL
        {
            return c.answer.clone();
        }
        let answer = self.check().await;
        *cached = Some(Cached {
            at: Instant::now(),
            answer: answer.clone(),
        });
        answer
    }

    async fn test_ekt(&self, i: usize) -> Option<Ekt> {
        let mut ekt = self.test_ekt.lock().await;
        if ekt.is_none() {
            let made = self
                .hsm
                .call_module(
                    i,
                    Request::GenerateBackingKey {
                        key: self.test_key,
                        spec: KeySpecCode::SymmetricDefault,
                    },
                )
                .await;
            if let Ok(e) = made.and_then(Response::into_ekt) {
                *ekt = Some(e);
            }
        }
        ekt.clone()
    }

    /// One module's deep check: seal with an integrity value (the module
    /// checks that it opens) and open again.
    async fn deep_check(&self, i: usize) -> bool {
        let Some(ekt) = self.test_ekt(i).await else {
            return false;
        };
        let probe = b"strongroom xks health".to_vec();
        let sealed = self
            .hsm
            .call_module(
                i,
                Request::XksEncrypt {
                    key: self.test_key,
                    ekt: ekt.clone(),
                    plaintext: Zeroizing::new(probe.clone()),
                    aad: b"health".to_vec(),
                    with_cdiv: true,
                },
            )
            .await;
        let sealed: XksSealed = match sealed {
            Ok(Response::XksSealed {
                sealed,
                cdiv: Some(_),
            }) => sealed,
            _ => return false,
        };
        let opened = self
            .hsm
            .call_module(
                i,
                Request::XksDecrypt {
                    key: self.test_key,
                    ekt,
                    sealed,
                    aad: b"health".to_vec(),
                },
            )
            .await;
        matches!(opened, Ok(Response::Plaintext { plaintext, .. }) if plaintext[..] == probe[..])
    }

    async fn check(&self) -> Result<HealthResponse, XksError> {
        let names = self.hsm.module_names();
        let mut members = Vec::with_capacity(names.len().min(MAX_FLEET_DETAILS));
        for (i, name) in names.into_iter().enumerate().take(MAX_FLEET_DETAILS) {
            let started = Instant::now();
            let health_status = match self.deep_check(i).await {
                true if started.elapsed() <= DEGRADED_AFTER => "ACTIVE",
                true => "DEGRADED",
                false => "UNAVAILABLE",
            };
            members.push(FleetMember {
                id: name,
                model: format!("Strongroom security module {}", env!("CARGO_PKG_VERSION")),
                health_status,
            });
        }
        // A healthy answer must promise that a request right after it can
        // succeed: with no module serving, the proxy is not healthy.
        if members.iter().all(|m| m.health_status == "UNAVAILABLE") {
            tracing::error!("XKS health check: no security module can serve");
            return Err(XksError::Internal(
                "No security module can serve requests now.".into(),
            ));
        }
        Ok(HealthResponse {
            xks_proxy_fleet_size: 1,
            xks_proxy_vendor: "Strongroom",
            xks_proxy_model: model(),
            ekm_vendor: "Strongroom",
            ekm_fleet_details: members,
        })
    }
}
