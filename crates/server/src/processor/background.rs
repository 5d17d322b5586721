//! Work the service does by itself, without a request: the deletion sweep,
//! scheduled rotation and expiry of imported key material. Each change is
//! preceded by a durable CloudTrail-shaped service event naming the key
//! (docs/audit.md), and made under a [`Change`] for that one key that only
//! this module can construct: request handlers never reach the module or a
//! key's EKT this way.

use strongroom_hsm_proto::{Ekt, KeyRef};
use strongroom_store::{KeyRecord, KeyState};
use uuid::Uuid;

use super::{Change, Processor};
use crate::audit::AuditEvent;
use crate::error::KmsError;

/// CloudTrail's event name for a key deleted after its waiting period.
pub const DELETE_KEY_EVENT: &str = "DeleteKey";
/// CloudTrail's event name for a scheduled (automatic) rotation.
pub const ROTATE_KEY_EVENT: &str = "RotateKey";
/// CloudTrail's event name for imported material deleted at its ValidTo.
pub const EXPIRE_MATERIAL_EVENT: &str = "DeleteExpiredKeyMaterial";

impl Processor {
    /// Records that the service is about to change `key` (durable before
    /// the change) and returns the permission to change it.
    async fn service_change(&self, event: &str, key: &KeyRecord) -> Result<Change, KmsError> {
        if let Some(audit) = &self.audit {
            let arn = self.key_arn(key);
            audit
                .record(AuditEvent::service_event(event, &arn, &key.account_id))
                .await?;
        }
        Ok(Change::system(key))
    }

    /// Locks the key in row `id` (by its material, as requests do); `None`
    /// if it is gone. The caller re-reads it under the lock.
    async fn lock_row(&self, id: Uuid) -> Result<Option<super::KeyGuard>, KmsError> {
        let Some(key) = self.reads().get_key(id).await? else {
            return Ok(None);
        };
        Ok(Some(self.repo.lock_keys(&[key.material_id()]).await))
    }

    /// Deletes every key whose deletion date is at or before `now`: module
    /// caches first, then the store (key, EKTs, aliases), then our caches.
    /// Returns how many were deleted.
    pub async fn sweep_deletions(&self, now: i64) -> Result<usize, KmsError> {
        let due = self.reads().keys_due_for_deletion(now).await?;
        let mut n = 0;
        for id in due {
            let Some(_guard) = self.lock_row(id).await? else {
                continue;
            };
            // Re-check under the lock: CancelKeyDeletion may have won.
            let key = match self.reads().get_key(id).await? {
                Some(k)
                    if k.state == KeyState::PendingDeletion
                        && k.deletion_date.is_some_and(|d| d <= now) =>
                {
                    k
                }
                _ => continue,
            };
            let change = self.service_change(DELETE_KEY_EVENT, &key).await?;
            self.forget_everywhere(&change, id).await?;
            // The last copy of a multi-Region key: its shared material too.
            let last_material = self.last_copy_material(&key).await?;
            if let Some(shared) = last_material {
                self.forget_everywhere(&change, shared).await?;
            }
            if self.repo.delete(&change, id).await? {
                n += 1;
                tracing::info!(key_id = %id, "key deleted after its waiting period");
            }
            self.public_keys.forget(id);
            self.policies.forget(id);
            if let Some(shared) = last_material {
                self.public_keys.forget(shared);
            }
        }
        Ok(n)
    }

    /// A multi-Region key's shared id if `key` is its only copy left.
    async fn last_copy_material(&self, key: &KeyRecord) -> Result<Option<Uuid>, KmsError> {
        let Some(shared) = key.multi_region_id else {
            return Ok(None);
        };
        let family = self
            .reads()
            .multi_region_keys(&key.account_id, shared)
            .await?;
        Ok((!family.iter().any(|k| k.id != key.id)).then_some(shared))
    }

    /// Rotates every key whose automatic rotation is due at `now`; returns
    /// how many. State is in the store, so a rotation missed while stopped
    /// happens at the next start.
    pub async fn sweep_rotations(&self, now: i64) -> Result<usize, KmsError> {
        let mut n = 0;
        for id in self.reads().keys_due_for_rotation(now).await? {
            let Some(_guard) = self.lock_row(id).await? else {
                continue;
            };
            // Re-check under the lock: it may have been disabled meanwhile.
            let Some(key) = self.reads().get_key(id).await? else {
                continue;
            };
            let (Some(period), Some(due)) = (key.rotation_period_days, key.next_rotation_at) else {
                continue;
            };
            if due > now || key.state != KeyState::Enabled {
                continue;
            }
            // The module only derives a sibling of the current version from
            // its EKT, read here from the store: nothing leaves the module.
            let current = KeyRef {
                key_id: key.material_id(),
                version: key.current_version,
            };
            let previous = self
                .reads()
                .get_key_version(key.id, current.version)
                .await?
                .map(|v| Ekt(v.ekt))
                .ok_or_else(|| {
                    KmsError::Internal(format!("version {} is missing", current.version))
                })?;
            let change = self.service_change(ROTATE_KEY_EVENT, &key).await?;
            let group = key.module_group.clone();
            let mut next = key;
            next.next_rotation_at = Some(self.rotation_due(now, period));
            // A pinned key's new version is made inside its group too.
            strongroom_hsm_proto::routing::with_pins(async {
                if let Some(g) = &group {
                    strongroom_hsm_proto::routing::pin(g);
                }
                self.add_version(&change, previous, next, "AUTOMATIC").await
            })
            .await?;
            n += 1;
        }
        Ok(n)
    }

    /// Deletes imported material whose ValidTo has passed; returns how many.
    pub async fn sweep_expired_imports(&self, now: i64) -> Result<usize, KmsError> {
        let mut n = 0;
        for id in self.reads().keys_with_expired_material(now).await? {
            let Some(_guard) = self.lock_row(id).await? else {
                continue;
            };
            let Some(key) = self.reads().get_key(id).await? else {
                continue;
            };
            if key.import_valid_to.is_some_and(|t| t <= now) && key.state != KeyState::PendingImport
            {
                let change = self.service_change(EXPIRE_MATERIAL_EVENT, &key).await?;
                self.remove_material(&change, &key).await?;
                tracing::info!(key_id = %id, "imported key material expired and was deleted");
                n += 1;
            }
        }
        Ok(n)
    }
}
