//! Key lifecycle: CreateKey, DescribeKey, ListKeys, UpdateKeyDescription,
//! EnableKey, DisableKey, ScheduleKeyDeletion, CancelKeyDeletion.

use strongroom_store::{KeyRecord, KeyState, Origin, Tag};
use uuid::Uuid;

use crate::authz::RequestCtx;
use crate::error::KmsError;
use crate::ops::asymmetric;
use crate::processor::Processor;
use crate::protocol::*;

/// AWS's tagging rules.
pub(crate) fn check_tags(tags: &[Tag]) -> Result<(), KmsError> {
    if tags.len() > 50 {
        return Err(KmsError::Tag("A key can have at most 50 tags.".into()));
    }
    // Lengths are the model's (`validate`); these are the service's rules.
    let mut seen = std::collections::HashSet::new();
    for t in tags {
        if t.key.starts_with("aws:") {
            return Err(KmsError::Tag(
                "Tag keys beginning with 'aws:' are reserved.".into(),
            ));
        }
        if !seen.insert(t.key.as_str()) {
            return Err(KmsError::Tag(format!("Duplicate tag key '{}'.", t.key)));
        }
    }
    Ok(())
}

fn epoch_f64(t: i64) -> f64 {
    t as f64
}

impl Processor {
    /// `KeyMetadata` for `key`.
    pub(crate) fn metadata(&self, key: &KeyRecord) -> KeyMetadata {
        KeyMetadata {
            aws_account_id: key.account_id.clone(),
            key_id: crate::multi_region::key_id(key),
            arn: self.key_arn(key),
            creation_date: epoch_f64(key.created_at),
            enabled: key.state == KeyState::Enabled,
            description: key.description.clone(),
            key_usage: key.key_usage,
            key_state: key.state.as_str().to_owned(),
            deletion_date: key.deletion_date.map(epoch_f64),
            pending_deletion_window_in_days: key.pending_window_days,
            origin: key.origin,
            key_manager: "CUSTOMER",
            customer_master_key_spec: key.key_spec,
            key_spec: key.key_spec,
            encryption_algorithms: key.key_spec.encryption_algorithms(key.key_usage).to_vec(),
            signing_algorithms: asymmetric::algorithms(key).0,
            key_agreement_algorithms: asymmetric::key_agreement_algorithms(key),
            expiration_model: (key.origin == Origin::External
                && key.state != KeyState::PendingImport)
                .then(|| {
                    if key.import_valid_to.is_some() {
                        "KEY_MATERIAL_EXPIRES"
                    } else {
                        "KEY_MATERIAL_DOES_NOT_EXPIRE"
                    }
                }),
            valid_to: key.import_valid_to.map(epoch_f64),
            exposed: key.exposed,
            storage_class: key.volatile.then_some("VOLATILE"),
            module_group: key.module_group.clone(),
            mac_algorithms: key.key_spec.mac_algorithm().into_iter().collect(),
            multi_region: key.multi_region_id.is_some(),
            multi_region_configuration: None,
        }
    }

    /// `metadata`, with a multi-Region key's `MultiRegionConfiguration`
    /// (every region's copy, read from the store).
    pub(crate) async fn full_metadata(&self, key: &KeyRecord) -> Result<KeyMetadata, KmsError> {
        let mut m = self.metadata(key);
        m.multi_region_configuration = self.multi_region_configuration(key).await?;
        Ok(m)
    }

    pub(crate) async fn describe_key(
        &self,
        rq: &mut RequestCtx<'_>,
        req: KeyIdRequest,
    ) -> Result<KeyMetadataResponse, KmsError> {
        let key = self.resolve(rq, &req.key_id, true).await?;
        Ok(KeyMetadataResponse {
            key_metadata: self.full_metadata(&key).await?,
            key_material: None,
        })
    }

    pub(crate) async fn list_keys(
        &self,
        rq: &mut RequestCtx<'_>,
        req: ListRequest,
    ) -> Result<ListKeysResponse, KmsError> {
        let caller = rq.caller();
        let limit = page_limit(req.limit, 1000, 100);
        let after = match req.marker.as_deref() {
            None => None,
            Some(m) => Some(
                Uuid::parse_str(m).map_err(|_| KmsError::InvalidMarker("Invalid marker".into()))?,
            ),
        };
        let mut rows = self
            .reads()
            .list_keys(&caller.account_id, caller.region.as_str(), after, limit + 1)
            .await?;
        let truncated = rows.len() > limit;
        rows.truncate(limit);
        let next_marker = truncated
            .then(|| rows.last().map(|k| k.id.to_string()))
            .flatten();
        Ok(ListKeysResponse {
            keys: rows
                .iter()
                .map(|k| KeyListEntry {
                    key_id: crate::multi_region::key_id(k),
                    key_arn: self.key_arn(k),
                })
                .collect(),
            next_marker,
            truncated,
        })
    }

    /// Applies `apply` to the caller's key under its lock, once the
    /// request may change it (`begin_change`).
    pub(crate) async fn modify_key<F>(
        &self,
        rq: &mut RequestCtx<'_>,
        key_id: &Option<String>,
        apply: F,
    ) -> Result<std::sync::Arc<KeyRecord>, KmsError>
    where
        F: FnOnce(&Processor, &mut KeyRecord) -> Result<(), KmsError>,
    {
        let guard = self.lock_named(rq, &[key_id], &[]).await?;
        let (change, mut key) = self.key_for_change(rq, key_id, &guard).await?;
        apply(self, &mut key)?;
        Ok(self.repo.save(&change, key).await?)
    }

    /// For a change under the key's lock (`guard`, from `lock_named`): the
    /// key `key_id` names, authorized, read from the store and its state
    /// checked, with the permission to change it. Saving it fails if
    /// anything changed the key since this read.
    async fn key_for_change(
        &self,
        rq: &mut RequestCtx<'_>,
        key_id: &Option<String>,
        guard: &crate::processor::KeyGuard,
    ) -> Result<(crate::processor::Change, KeyRecord), KmsError> {
        // As AWS: these take a key id or key ARN, never an alias, so a
        // moved alias cannot redirect a deletion or disablement.
        let current = self.resolve(rq, key_id, false).await?;
        crate::processor::locked(guard, &current)?;
        let change = self.begin_change(rq).await?;
        // Read what we change from the store, not the cache: another
        // frontend may have changed it.
        let key = self
            .reads()
            .get_key(current.id)
            .await?
            .ok_or_else(|| KmsError::key_not_found(current.id))?;
        self.check_key_state(rq.operation().name, &key)?;
        Ok((change, key))
    }

    pub(crate) async fn update_key_description(
        &self,
        rq: &mut RequestCtx<'_>,
        req: UpdateKeyDescriptionRequest,
    ) -> Result<Empty, KmsError> {
        let description = req
            .description
            .ok_or_else(|| crate::validate::null("description"))?;
        self.modify_key(rq, &req.key_id, |_, k| {
            k.description = description;
            Ok(())
        })
        .await?;
        Ok(Empty {})
    }

    pub(crate) async fn set_enabled(
        &self,
        rq: &mut RequestCtx<'_>,
        req: KeyIdRequest,
        enabled: bool,
    ) -> Result<Empty, KmsError> {
        self.modify_key(rq, &req.key_id, |_, k| {
            k.state = if enabled {
                KeyState::Enabled
            } else {
                KeyState::Disabled
            };
            Ok(())
        })
        .await?;
        Ok(Empty {})
    }

    pub(crate) async fn schedule_key_deletion(
        &self,
        rq: &mut RequestCtx<'_>,
        req: ScheduleKeyDeletionRequest,
    ) -> Result<ScheduleKeyDeletionResponse, KmsError> {
        // In 7..=30 (`validate`).
        let days = req.pending_window_in_days.unwrap_or(30);
        let days = days as u32;
        let when = self.now() + i64::from(days) * 86_400;
        let guard = self.lock_named(rq, &[&req.key_id], &[]).await?;
        let (change, mut k) = self.key_for_change(rq, &req.key_id, &guard).await?;
        // Counted after the key was read, under the lock: a replica made
        // since (by another frontend) changed the primary's revision, so
        // the save below fails rather than orphan it.
        let replicas = self.replica_count(&k).await?;
        crate::ops::multi_region::check_deletable(self, &k, replicas)?;
        k.state = KeyState::PendingDeletion;
        k.deletion_date = Some(when);
        k.pending_window_days = Some(days);
        let key = self.repo.save(&change, k).await?;
        tracing::info!(key_id = %key.id, deletion_date = when, "key deletion scheduled");
        Ok(ScheduleKeyDeletionResponse {
            key_id: self.key_arn(&key),
            deletion_date: epoch_f64(when),
            key_state: "PendingDeletion",
            pending_window_in_days: days,
        })
    }

    pub(crate) async fn cancel_key_deletion(
        &self,
        rq: &mut RequestCtx<'_>,
        req: KeyIdRequest,
    ) -> Result<KeyIdResponse, KmsError> {
        let key = self
            .modify_key(rq, &req.key_id, |_, k| {
                // A key whose imported material is gone goes back to waiting for it.
                k.state = if k.current_version == 0 && k.origin == Origin::External {
                    KeyState::PendingImport
                } else {
                    KeyState::Disabled
                };
                k.deletion_date = None;
                k.pending_window_days = None;
                Ok(())
            })
            .await?;
        Ok(KeyIdResponse {
            key_id: self.key_arn(&key),
        })
    }
}

/// The page size for a `Limit` (in the model's 1..=1000, `validate`):
/// at most `max`, as AWS's list operations return.
pub(crate) fn page_limit(limit: Option<i64>, max: usize, default: usize) -> usize {
    limit.map_or(default, |l| {
        usize::try_from(l).unwrap_or(default).clamp(1, max)
    })
}
