//! Key rotation: EnableKeyRotation, DisableKeyRotation,
//! GetKeyRotationStatus, RotateKeyOnDemand, ListKeyRotations; the scheduler
//! (`processor::background`) adds versions through `add_version` too. A rotation adds a key version (a new backing key);
//! new ciphertexts use it, and every older version still decrypts, because
//! each ciphertext names its version.

use serde::{Deserialize, Serialize};
use strongroom_hsm_proto::KeyRef;
use strongroom_store::{KeyRecord, KeySpec, KeyVersionRecord, Origin, StoreError};

use crate::authz::RequestCtx;
use crate::error::KmsError;
use crate::ops::keys::page_limit;
use crate::processor::Processor;
use crate::processor::key_repository::WriteError;
use crate::protocol::{Empty, KeyIdRequest};
use crate::validate::{Presence::*, Validate, Validator, shapes};

/// AWS's limit of on-demand rotations per key.
const MAX_ON_DEMAND: u32 = 10;
const DEFAULT_PERIOD_DAYS: i64 = 365;

/// EnableKeyRotation input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct EnableKeyRotationRequest {
    pub key_id: Option<String>,
    pub rotation_period_in_days: Option<i64>,
}

/// GetKeyRotationStatus output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyRotationStatusResponse {
    pub key_rotation_enabled: bool,
    pub key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_period_in_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_rotation_date: Option<f64>,
}

/// RotateKeyOnDemand output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotateKeyOnDemandResponse {
    pub key_id: String,
}

/// ListKeyRotations input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListKeyRotationsRequest {
    pub key_id: Option<String>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

/// One rotation.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationsListEntry {
    pub key_id: String,
    pub rotation_date: f64,
    pub rotation_type: String,
}

/// ListKeyRotations output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyRotationsResponse {
    pub rotations: Vec<RotationsListEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub truncated: bool,
}

/// The key's material can be rotated here: symmetric keys of our making.
impl Validate for EnableKeyRotationRequest {
    fn validate(&self, v: &mut Validator) {
        v.key_id(self.key_id.as_deref());
        v.integer(
            "rotationPeriodInDays",
            self.rotation_period_in_days,
            &shapes::ROTATION_PERIOD_IN_DAYS,
            Optional,
        );
    }
}

impl Validate for ListKeyRotationsRequest {
    fn validate(&self, v: &mut Validator) {
        v.key_id(self.key_id.as_deref());
        v.integer("limit", self.limit, &shapes::LIMIT, Optional);
        v.string("marker", self.marker.as_deref(), &shapes::MARKER, Optional);
    }
}

/// Fails unless `operation` may rotate `key`: the kind of key first
/// (AWS's footnote [7]), then the key-state table.
fn check_rotatable(p: &Processor, operation: &str, key: &KeyRecord) -> Result<(), KmsError> {
    if key.key_spec != KeySpec::SymmetricDefault || key.origin != Origin::AwsKms || key.volatile {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} cannot be rotated: only symmetric keys with AWS_KMS origin rotate.",
            p.key_arn(key)
        )));
    }
    p.check_key_state(operation, key)
}

/// Fails for a multi-Region replica: its rotation follows its primary's
/// (AWS: rotation is managed on the primary key only).
fn refuse_replica(p: &Processor, key: &KeyRecord) -> Result<(), KmsError> {
    if key.multi_region_id.is_some() && !key.multi_region_primary {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} is a multi-Region replica key: manage its rotation on the primary key.",
            p.key_arn(key)
        )));
    }
    Ok(())
}

impl Processor {
    /// When a rotation period started `now` ends.
    pub(crate) fn rotation_due(&self, now: i64, period_days: u32) -> i64 {
        self.clock().days_after(now, period_days)
    }

    pub(crate) async fn enable_key_rotation(
        &self,
        rq: &mut RequestCtx<'_>,
        req: EnableKeyRotationRequest,
    ) -> Result<Empty, KmsError> {
        // In 90..=2560 (`validate`).
        let days = req.rotation_period_in_days.unwrap_or(DEFAULT_PERIOD_DAYS);
        let days = days as u32;
        let next = self.rotation_due(self.now(), days);
        let operation = rq.operation().name;
        self.modify_key(rq, &req.key_id, |p, k| {
            refuse_replica(p, k)?;
            check_rotatable(p, operation, k)?;
            k.rotation_period_days = Some(days);
            k.next_rotation_at = Some(next);
            Ok(())
        })
        .await?;
        Ok(Empty {})
    }

    pub(crate) async fn disable_key_rotation(
        &self,
        rq: &mut RequestCtx<'_>,
        req: KeyIdRequest,
    ) -> Result<Empty, KmsError> {
        let operation = rq.operation().name;
        self.modify_key(rq, &req.key_id, |p, k| {
            refuse_replica(p, k)?;
            check_rotatable(p, operation, k)?;
            k.rotation_period_days = None;
            k.next_rotation_at = None;
            Ok(())
        })
        .await?;
        Ok(Empty {})
    }

    pub(crate) async fn get_key_rotation_status(
        &self,
        rq: &mut RequestCtx<'_>,
        req: KeyIdRequest,
    ) -> Result<KeyRotationStatusResponse, KmsError> {
        let key = self.resolve(rq, &req.key_id, false).await?;
        self.check_key_state(rq.operation().name, &key)?;
        // A replica's rotation is its primary's (shared, as in AWS).
        let primary = self.multi_region_primary(&key).await?;
        let rotation = primary.as_ref().map_or(&*key, |p| p);
        Ok(KeyRotationStatusResponse {
            key_rotation_enabled: rotation.rotation_period_days.is_some(),
            key_id: crate::multi_region::key_id(&key),
            rotation_period_in_days: rotation.rotation_period_days,
            next_rotation_date: rotation.next_rotation_at.map(|t| t as f64),
        })
    }

    pub(crate) async fn rotate_key_on_demand(
        &self,
        rq: &mut RequestCtx<'_>,
        req: KeyIdRequest,
    ) -> Result<RotateKeyOnDemandResponse, KmsError> {
        let guard = self.lock_named(rq, &[&req.key_id], &[]).await?;
        let key = self.resolve(rq, &req.key_id, false).await?;
        crate::processor::locked(&guard, &key)?;
        // The record, then the current EKT, as stored now (not cached): the
        // new version inherits the current one's owner binding, which
        // another frontend may have changed (processor::stored_material).
        let stored = self.stored_key(&key).await?;
        refuse_replica(self, &stored)?;
        check_rotatable(self, rq.operation().name, &stored)?;
        if stored.on_demand_rotations >= MAX_ON_DEMAND {
            return Err(KmsError::LimitExceeded(format!(
                "{} has reached the limit of {MAX_ON_DEMAND} on-demand rotations.",
                self.key_arn(&stored)
            )));
        }
        let current = stored.current_version;
        let (_, previous) = self
            .stored_ekts(&key, current..=current)
            .await?
            .pop()
            .ok_or_else(|| KmsError::Internal(format!("version {current} is missing")))?;
        let change = self.begin_change(rq).await?;
        let mut next = stored;
        next.on_demand_rotations += 1;
        self.add_version(&change, previous, next, "ON_DEMAND")
            .await?;
        Ok(RotateKeyOnDemandResponse {
            key_id: crate::multi_region::key_id(&key),
        })
    }

    /// Adds the next version to `key` (metadata already updated apart from
    /// the version), derived in the module from `previous`, the current
    /// version's EKT, and caches it. Hold the key's lock. `key` and then
    /// `previous` must have been read from the store, in that order: the
    /// new version is committed only with a compare-and-swap on `key`'s
    /// revision, which every EKT re-binding bumps after its swaps.
    pub(crate) async fn add_version(
        &self,
        change: &crate::processor::Change,
        previous: strongroom_hsm_proto::Ekt,
        mut key: KeyRecord,
        rotation_type: &str,
    ) -> Result<(), KmsError> {
        change.covers(key.id)?;
        let version = KeyRef {
            key_id: key.material_id(),
            version: key.current_version + 1,
        };
        // The new version inherits the spec and suspension owner the
        // module bound into the current one.
        let ekt = self
            .module_for_change(change)
            .rotate_backing_key(version, previous)
            .await?;
        key.current_version = version.version;
        // A multi-Region primary's replicas get the same version in the
        // same transaction: a copy of the EKT, bound to the shared id.
        let mut rotations = self.replica_rotations(&key, version.version).await?;
        let record = KeyVersionRecord {
            key_id: key.id,
            version: version.version,
            ekt: ekt.0.clone(),
            created_at: self.now(),
        };
        rotations.insert(0, (key.clone(), record));
        let rotations: Vec<_> = rotations
            .into_iter()
            .map(|(k, mut v)| {
                v.ekt.clone_from(&ekt.0);
                (k, v)
            })
            .collect();
        let arn = self.key_arn(&key);
        let key_id = key.id;
        match self
            .repo
            .rotate(change, rotations, rotation_type, ekt)
            .await
        {
            Ok(_) => {}
            // Another frontend rotated first; ours was never stored.
            Err(WriteError::Store(StoreError::AlreadyExists(_))) => {
                return Err(KmsError::InvalidState(format!(
                    "{arn} was rotated concurrently; retry."
                )));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(%key_id, version = version.version, rotation_type, "key rotated");
        Ok(())
    }

    /// For a multi-Region primary: each replica as stored now, moved to
    /// `version`, with its version record (EKT filled in by the caller).
    async fn replica_rotations(
        &self,
        key: &KeyRecord,
        version: u32,
    ) -> Result<Vec<(KeyRecord, KeyVersionRecord)>, KmsError> {
        let Some(shared) = key.multi_region_id else {
            return Ok(Vec::new());
        };
        let family = self
            .reads()
            .multi_region_keys(&key.account_id, shared)
            .await?;
        Ok(family
            .into_iter()
            .filter(|k| k.id != key.id)
            .map(|mut k| {
                k.current_version = version;
                let v = KeyVersionRecord {
                    key_id: k.id,
                    version,
                    ekt: Vec::new(),
                    created_at: self.now(),
                };
                (k, v)
            })
            .collect())
    }

    pub(crate) async fn list_key_rotations(
        &self,
        rq: &mut RequestCtx<'_>,
        req: ListKeyRotationsRequest,
    ) -> Result<ListKeyRotationsResponse, KmsError> {
        let limit = page_limit(req.limit, 1000, 100);
        let key = self.resolve(rq, &req.key_id, false).await?;
        check_rotatable(self, rq.operation().name, &key)?;
        let after = match req.marker.as_deref() {
            None => 0,
            Some(m) => m
                .parse::<u32>()
                .map_err(|_| KmsError::InvalidMarker("Invalid marker".into()))?,
        };
        let mut rows = self
            .reads()
            .list_rotations(key.id, after, limit + 1)
            .await?;
        let truncated = rows.len() > limit;
        rows.truncate(limit);
        Ok(ListKeyRotationsResponse {
            next_marker: truncated
                .then(|| rows.last().map(|r| r.version.to_string()))
                .flatten(),
            rotations: rows
                .into_iter()
                .map(|r| RotationsListEntry {
                    key_id: crate::multi_region::key_id(&key),
                    rotation_date: r.rotated_at as f64,
                    rotation_type: r.rotation_type,
                })
                .collect(),
            truncated,
        })
    }
}
