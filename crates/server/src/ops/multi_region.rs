//! Multi-Region keys (docs/keys.md, "Multi-Region keys"): ReplicateKey,
//! UpdatePrimaryRegion, `MultiRegionConfiguration`, and the rules CreateKey
//! and ScheduleKeyDeletion apply to them.
//!
//! A replica is a row of its own in its region (`crate::multi_region`),
//! holding copies of the primary's EKTs: the same sealed bytes, bound to
//! the shared id, so the material never leaves the modules or the domain
//! key's seal on its way.

use serde::{Deserialize, Serialize};
use strongroom_store::{KeyRecord, KeyState, KeyVersionRecord, Origin, StoreError, Tag};
use uuid::Uuid;

use crate::authz::RequestCtx;
use crate::error::KmsError;
use crate::processor::Processor;
use crate::processor::key_repository::WriteError;
use crate::protocol::{
    CreateKeyRequest, Empty, KeyMetadata, MultiRegionConfiguration, MultiRegionKey,
};
use crate::region::Region;
use crate::validate::{Presence::*, Validate, Validator, shapes};

/// ReplicateKey input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct ReplicateKeyRequest {
    pub key_id: Option<String>,
    pub replica_region: Option<String>,
    pub policy: Option<String>,
    pub bypass_policy_lockout_safety_check: Option<bool>,
    pub description: Option<String>,
    pub tags: Option<Vec<Tag>>,
}

/// ReplicateKey output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReplicateKeyResponse {
    pub replica_key_metadata: KeyMetadata,
    pub replica_policy: String,
    pub replica_tags: Vec<Tag>,
}

/// UpdatePrimaryRegion input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdatePrimaryRegionRequest {
    pub key_id: Option<String>,
    pub primary_region: Option<String>,
}

impl Validate for ReplicateKeyRequest {
    fn validate(&self, v: &mut Validator) {
        v.key_id(self.key_id.as_deref());
        v.region("replicaRegion", self.replica_region.as_deref(), Required);
        v.string("policy", self.policy.as_deref(), &shapes::POLICY, Optional);
        v.string(
            "description",
            self.description.as_deref(),
            &shapes::DESCRIPTION,
            Optional,
        );
        v.tags(self.tags.as_deref(), Optional);
    }
}

impl Validate for UpdatePrimaryRegionRequest {
    fn validate(&self, v: &mut Validator) {
        v.key_id(self.key_id.as_deref());
        v.region("primaryRegion", self.primary_region.as_deref(), Required);
    }
}

/// CreateKey with MultiRegion=true: what AWS refuses (custom key stores),
/// and what Strongroom does not serve for multi-Region keys (imported
/// material, its extensions, fixed seed ids).
pub(crate) fn check_creatable(
    req: &CreateKeyRequest,
    origin: Origin,
    fixed_id: Option<Uuid>,
) -> Result<(), KmsError> {
    if req.custom_key_store_id.is_some() || req.xks_key_id.is_some() || origin.is_custom_key_store()
    {
        return Err(KmsError::UnsupportedOperation(
            "Multi-Region keys cannot be created in a custom key store.".into(),
        ));
    }
    if origin == Origin::External {
        return Err(KmsError::UnsupportedOperation(
            "Multi-Region keys with imported key material (Origin EXTERNAL) are not supported yet; use Origin AWS_KMS.".into(),
        ));
    }
    if req.expose_key_material == Some(true)
        || req.storage_class.as_deref() == Some("VOLATILE")
        || req.module_group.is_some()
        || req.suspension_owner_public_key.is_some()
    {
        return Err(KmsError::UnsupportedOperation(
            "Multi-Region keys cannot be exposed, VOLATILE, pinned to a ModuleGroup or bound to a suspension owner.".into(),
        ));
    }
    if fixed_id.is_some() {
        return Err(KmsError::UnsupportedOperation(
            "A seed file cannot create a multi-Region key.".into(),
        ));
    }
    Ok(())
}

/// ScheduleKeyDeletion: a primary with replicas stays (Strongroom refuses
/// where AWS would wait in PendingReplicaDeletion; docs/keys.md).
pub(crate) fn check_deletable(
    p: &Processor,
    key: &KeyRecord,
    replicas: usize,
) -> Result<(), KmsError> {
    if key.multi_region_primary && replicas > 0 {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} is a multi-Region primary key with {replicas} replica key(s): delete the replicas first, or make another Region the primary Region (UpdatePrimaryRegion).",
            p.key_arn(key)
        )));
    }
    Ok(())
}

/// Refuses the extensions (shred, revoke, suspend, owner change, derive)
/// for multi-Region keys: they act on one region's copy of material that
/// every copy shares.
pub(crate) fn refuse_extension(p: &Processor, key: &KeyRecord) -> Result<(), KmsError> {
    if key.multi_region_id.is_some() {
        return Err(KmsError::UnsupportedOperation(format!(
            "{} is a multi-Region key: this extension applies to single-Region keys only.",
            p.key_arn(key)
        )));
    }
    Ok(())
}

/// The shared id of `key` if it is a multi-Region primary key; AWS's
/// refusal otherwise.
fn require_primary(p: &Processor, key: &KeyRecord) -> Result<Uuid, KmsError> {
    match key.multi_region_id {
        None => Err(KmsError::UnsupportedOperation(format!(
            "{} is not a multi-Region key.",
            p.key_arn(key)
        ))),
        Some(_) if !key.multi_region_primary => Err(KmsError::UnsupportedOperation(format!(
            "{} is a multi-Region replica key: name its primary key.",
            p.key_arn(key)
        ))),
        Some(shared) => Ok(shared),
    }
}

/// A served region of the caller's partition other than its own, from a
/// ReplicaRegion/PrimaryRegion member (its length and characters were
/// checked with the request).
fn other_region(p: &Processor, rq: &RequestCtx<'_>, name: &str) -> Result<Region, KmsError> {
    let here = &rq.caller().region;
    // AWS's shape was checked with the request; a name of that shape that
    // is no region Strongroom knows (`us-iso-east-1`) is not served.
    let region = Region::parse(name).map_err(|_| {
        KmsError::UnsupportedOperation(format!(
            "Region {name} is not served by this Strongroom endpoint."
        ))
    })?;
    if region.partition() != here.partition() {
        return Err(KmsError::UnsupportedOperation(format!(
            "Region {region} is not in the {} partition of Region {here}.",
            here.partition()
        )));
    }
    if p.served_regions.serves(region.as_str()).is_none() {
        return Err(KmsError::UnsupportedOperation(format!(
            "Region {region} is not served by this Strongroom endpoint."
        )));
    }
    Ok(region)
}

fn metadata_key(p: &Processor, k: &KeyRecord) -> MultiRegionKey {
    MultiRegionKey {
        arn: p.key_arn(k),
        region: k.region.clone(),
    }
}

impl Processor {
    /// A multi-Region key's configuration: its primary and replicas, read
    /// from the store; `None` for a single-Region key.
    pub(crate) async fn multi_region_configuration(
        &self,
        key: &KeyRecord,
    ) -> Result<Option<MultiRegionConfiguration>, KmsError> {
        let Some(shared) = key.multi_region_id else {
            return Ok(None);
        };
        let family = self
            .reads()
            .multi_region_keys(&key.account_id, shared)
            .await?;
        let primary = family
            .iter()
            .find(|k| k.multi_region_primary)
            .ok_or_else(|| KmsError::Internal(format!("{} has no primary", self.key_arn(key))))?;
        Ok(Some(MultiRegionConfiguration {
            multi_region_key_type: if key.multi_region_primary {
                "PRIMARY"
            } else {
                "REPLICA"
            },
            primary_key: metadata_key(self, primary),
            replica_keys: family
                .iter()
                .filter(|k| !k.multi_region_primary)
                .map(|k| metadata_key(self, k))
                .collect(),
        }))
    }

    /// A replica's primary, as stored now; `None` for a primary or a
    /// single-Region key.
    pub(crate) async fn multi_region_primary(
        &self,
        key: &KeyRecord,
    ) -> Result<Option<KeyRecord>, KmsError> {
        let Some(shared) = key.multi_region_id.filter(|_| !key.multi_region_primary) else {
            return Ok(None);
        };
        let family = self
            .reads()
            .multi_region_keys(&key.account_id, shared)
            .await?;
        Ok(family.into_iter().find(|k| k.multi_region_primary))
    }

    /// How many replicas `key` has, if it is a multi-Region primary, as
    /// stored now.
    pub(crate) async fn replica_count(&self, key: &KeyRecord) -> Result<usize, KmsError> {
        match key.multi_region_id.filter(|_| key.multi_region_primary) {
            None => Ok(0),
            Some(shared) => Ok(self
                .reads()
                .multi_region_keys(&key.account_id, shared)
                .await?
                .len()
                .saturating_sub(1)),
        }
    }

    pub(crate) async fn replicate_key(
        &self,
        rq: &mut RequestCtx<'_>,
        req: ReplicateKeyRequest,
    ) -> Result<ReplicateKeyResponse, KmsError> {
        let name = crate::validate::required(&req.replica_region, "replicaRegion")?;
        let target = other_region(self, rq, name)?;
        rq.note("kms:replicaregion", vec![target.to_string()]);
        // The family's lock: every copy shares the material id, so the
        // replica's row is covered too.
        let guard = self.lock_named(rq, &[&req.key_id], &[]).await?;
        let primary = self.resolve(rq, &req.key_id, false).await?;
        crate::processor::locked(&guard, &primary)?;
        if primary.account_id != rq.caller().account_id {
            return Err(crate::authz::cross_account_denied(rq, primary.arn()));
        }
        let shared = require_primary(self, &primary)?;
        self.check_key_state(rq.operation().name, &primary)?;
        if target.as_str() == primary.region {
            return Err(KmsError::Validation(format!(
                "ReplicaRegion {target} is the primary key's own Region."
            )));
        }
        let row = crate::multi_region::row_id(shared, target.as_str());
        let mut replica = replica_record(&primary, (row, target.as_str()), &req, self.now());
        let arn = self.key_arn(&replica);
        crate::authz::authorize_identity_also(rq, "kms:CreateKey", &arn)?;
        if self.reads().get_key(row).await?.is_some() {
            return Err(KmsError::AlreadyExists(format!(
                "Key {arn} already exists."
            )));
        }
        if let Some(text) = &req.policy {
            let bypass = req.bypass_policy_lockout_safety_check == Some(true);
            let conditions = rq.conditions();
            replica.policy = Some(crate::ops::key_policy::validated(
                rq.caller(),
                &conditions,
                &arn,
                text,
                bypass,
            )?);
        }
        crate::ops::keys::check_tags(&replica.tags)?;
        self.create_replica(rq, &primary, replica).await
    }

    /// Writes the replica with copies of the primary's EKTs, read from the
    /// store after the primary's record (the store refuses the write if
    /// the primary changed since: a rotation cannot slip between).
    async fn create_replica(
        &self,
        rq: &mut RequestCtx<'_>,
        primary: &crate::processor::AuthorizedKey,
        mut replica: KeyRecord,
    ) -> Result<ReplicateKeyResponse, KmsError> {
        let stored = self.stored_key(primary).await?;
        // What was checked may have been a cached copy; the write is
        // against this one (another frontend may have scheduled its
        // deletion or moved the primary since).
        require_primary(self, &stored)?;
        self.check_key_state(rq.operation().name, &stored)?;
        replica.current_version = stored.current_version;
        let versions: Vec<KeyVersionRecord> = self
            .reads()
            .key_versions(stored.id)
            .await?
            .into_iter()
            .map(|v| KeyVersionRecord {
                key_id: replica.id,
                ..v
            })
            .collect();
        rq.creating_key(replica.id, &self.key_arn(&replica));
        let change = self.begin_change(rq).await?;
        let replica = match self
            .repo
            .create_replica(&change, stored, replica, &versions)
            .await
        {
            Ok(replica) => replica,
            Err(WriteError::Store(StoreError::Conflict(_))) => {
                return Err(KmsError::InvalidState(format!(
                    "{} changed while it was being replicated; retry.",
                    primary.arn()
                )));
            }
            Err(e) => return Err(e.into()),
        };
        tracing::info!(key_id = %replica.id, region = %replica.region, "multi-Region replica created");
        Ok(ReplicateKeyResponse {
            replica_key_metadata: self.full_metadata(&replica).await?,
            replica_policy: replica
                .policy
                .clone()
                .unwrap_or_else(|| strongroom_policy::default_policy(&replica.account_id)),
            replica_tags: replica.tags.clone(),
        })
    }

    pub(crate) async fn update_primary_region(
        &self,
        rq: &mut RequestCtx<'_>,
        req: UpdatePrimaryRegionRequest,
    ) -> Result<Empty, KmsError> {
        let name = crate::validate::required(&req.primary_region, "primaryRegion")?;
        let target = other_region(self, rq, name)?;
        rq.note("kms:primaryregion", vec![target.to_string()]);
        let guard = self.lock_named(rq, &[&req.key_id], &[]).await?;
        let current = self.resolve(rq, &req.key_id, false).await?;
        crate::processor::locked(&guard, &current)?;
        // As AWS: no cross-account use, whatever the key's policy allows.
        if current.account_id != rq.caller().account_id {
            return Err(crate::authz::cross_account_denied(rq, current.arn()));
        }
        let shared = require_primary(self, &current)?;
        self.check_key_state(rq.operation().name, &current)?;
        if target.as_str() == current.region {
            return Err(KmsError::UnsupportedOperation(format!(
                "{} is already the primary key, in Region {target}.",
                current.arn()
            )));
        }
        let row = crate::multi_region::row_id(shared, target.as_str());
        let not_found = || {
            KmsError::NotFound(format!(
                "{} has no replica key in Region {target}.",
                current.arn()
            ))
        };
        let next = self.reads().get_key(row).await?.ok_or_else(not_found)?;
        if next.account_id != current.account_id || next.multi_region_id != Some(shared) {
            return Err(not_found());
        }
        // kms:UpdatePrimaryRegion on the new primary too, by its own policy.
        self.authorize_also(rq, "kms:UpdatePrimaryRegion", &None, &next)
            .await?;
        self.check_key_state(rq.operation().name, &next)?;
        // `current` may be a cached copy: the swap is of the stored one,
        // which must still be the primary (another frontend may have moved
        // it), or there would be two.
        let old = self.stored_key(&current).await?;
        require_primary(self, &old)?;
        self.check_key_state(rq.operation().name, &old)?;
        let change = self.begin_change(rq).await?;
        let (old, next) = swap_primary(old, next);
        self.repo.save_all(&change, vec![old, next]).await?;
        tracing::info!(key_id = %current.id, primary_region = %target, "multi-Region primary moved");
        Ok(Empty {})
    }
}

/// A replica of `primary` in `region` (row `row`), as ReplicateKey asks
/// at `now`: the shared properties copied, the rest its own.
fn replica_record(
    primary: &KeyRecord,
    (row, region): (Uuid, &str),
    req: &ReplicateKeyRequest,
    now: i64,
) -> KeyRecord {
    KeyRecord {
        id: row,
        region: region.to_owned(),
        description: req.description.clone().unwrap_or_default(),
        state: KeyState::Enabled,
        created_at: now,
        deletion_date: None,
        pending_window_days: None,
        tags: req.tags.clone().unwrap_or_default(),
        // Rotation is the primary's (shared): replicas keep none of their own.
        rotation_period_days: None,
        next_rotation_at: None,
        on_demand_rotations: 0,
        policy: None,
        multi_region_primary: false,
        revision: 0,
        ..primary.clone()
    }
}

/// The old primary becomes a replica and `next` the primary; the shared
/// rotation settings move with the primary role.
fn swap_primary(mut old: KeyRecord, mut next: KeyRecord) -> (KeyRecord, KeyRecord) {
    next.multi_region_primary = true;
    next.rotation_period_days = old.rotation_period_days.take();
    next.next_rotation_at = old.next_rotation_at.take();
    next.on_demand_rotations = old.on_demand_rotations;
    old.multi_region_primary = false;
    (old, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn primary() -> KeyRecord {
        KeyRecord {
            id: Uuid::new_v4(),
            account_id: "111122223333".into(),
            region: "us-east-1".into(),
            description: "mine".into(),
            state: KeyState::Disabled,
            key_spec: strongroom_store::KeySpec::SymmetricDefault,
            key_usage: strongroom_store::KeyUsage::EncryptDecrypt,
            origin: Origin::AwsKms,
            created_at: 1,
            deletion_date: None,
            pending_window_days: None,
            current_version: 3,
            tags: vec![Tag {
                key: "team".into(),
                value: "a".into(),
            }],
            rotation_period_days: Some(90),
            next_rotation_at: Some(99),
            on_demand_rotations: 2,
            import_valid_to: None,
            import_fingerprint: None,
            suspension_fingerprint: None,
            exposed: false,
            volatile: false,
            policy: Some("{}".into()),
            module_group: None,
            multi_region_id: Some(crate::multi_region::new_id()),
            multi_region_primary: true,
            revision: 7,
        }
    }

    #[test]
    fn a_replica_shares_the_material_properties_and_nothing_regional() {
        let p = primary();
        let req = ReplicateKeyRequest {
            description: Some("away".into()),
            ..Default::default()
        };
        let row = crate::multi_region::row_id(p.multi_region_id.unwrap(), "eu-west-1");
        let r = replica_record(&p, (row, "eu-west-1"), &req, 7);
        assert_eq!(
            (r.id, r.region.as_str(), r.created_at),
            (row, "eu-west-1", 7)
        );
        assert_eq!(r.multi_region_id, p.multi_region_id);
        assert_eq!(r.material_id(), p.material_id());
        assert_eq!(
            (&r.key_spec, &r.key_usage, &r.origin),
            (&p.key_spec, &p.key_usage, &p.origin)
        );
        assert!(!r.multi_region_primary);
        assert_eq!(r.state, KeyState::Enabled);
        assert_eq!(r.description, "away");
        assert!(r.tags.is_empty() && r.policy.is_none());
        assert_eq!((r.rotation_period_days, r.next_rotation_at), (None, None));
        assert_eq!(r.revision, 0);
    }

    #[test]
    fn the_primary_role_and_its_rotation_settings_move_together() {
        let old = primary();
        let mut next = primary();
        next.multi_region_primary = false;
        next.rotation_period_days = None;
        next.next_rotation_at = None;
        next.on_demand_rotations = 0;
        let (old, next) = swap_primary(old, next);
        assert!(next.multi_region_primary && !old.multi_region_primary);
        assert_eq!(
            (
                next.rotation_period_days,
                next.next_rotation_at,
                next.on_demand_rotations
            ),
            (Some(90), Some(99), 2)
        );
        assert_eq!(
            (old.rotation_period_days, old.next_rotation_at),
            (None, None)
        );
    }

    #[test]
    fn region_members_follow_awss_pattern() {
        for ok in ["us-east-1", "us-gov-west-1", "ap-southeast-22", "a-b-1"] {
            assert!(shapes::region_shaped(ok), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "us-east-",
            "-us-east-1",
            "US-EAST-1",
            "us_east_1",
            "1-2-3",
            "a-b-c-d-1",
            "us--1",
            "us-east-1a",
            "us-east-1-",
        ] {
            assert!(!shapes::region_shaped(bad), "{bad:?}");
        }
    }
}
