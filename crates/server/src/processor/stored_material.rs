//! Key material as the store holds it now, for the operations whose result
//! depends on a key's suspension-owner binding or that derive new tokens
//! from existing ones (SuspendKey, UpdateSuspensionOwner, ReinstateKey,
//! rotation). Another frontend may have re-bound every EKT since this one
//! cached them, so these never use the cache: they read the key record,
//! then its EKTs, from the store, and write back only by compare-and-swap
//! on what they read, undoing their own swaps if any swap, or the final
//! compare-and-swap of the key record's revision, fails.
//!
//! Why the order works: every operation that rewrites EKTs bumps the key
//! record's revision after its swaps, and every rotation commits its new
//! version together with a compare-and-swap on the revision it read before
//! the EKT it derived from. So a rotation that derived from an EKT about to
//! be re-bound either fails its revision check (the re-binding finished
//! first) or makes the re-binding's revision check fail, which undoes the
//! re-binding: versions never end up bound to different owners.

use strongroom_hsm_proto::{Ekt, KeyRef};
use strongroom_store::KeyRecord;

use super::{AuthorizedKey, Change, Processor, same_key};
use crate::error::KmsError;

/// One EKT swapped in the store: the version, what it held, what it holds.
pub(crate) struct Swapped {
    version: u32,
    old: Vec<u8>,
    new: Vec<u8>,
}

impl Processor {
    /// An authorized key's record as stored now, refreshed in the cache.
    pub(crate) async fn stored_key(&self, key: &AuthorizedKey) -> Result<KeyRecord, KmsError> {
        self.repo
            .load_stored(key.id)
            .await?
            .ok_or_else(|| KmsError::key_not_found(key.arn()))
    }

    /// The EKTs of `versions` of an authorized key as stored now (read
    /// after the record they belong to: see the module docs).
    pub(crate) async fn stored_ekts(
        &self,
        key: &AuthorizedKey,
        versions: std::ops::RangeInclusive<u32>,
    ) -> Result<Vec<(KeyRef, Ekt)>, KmsError> {
        let mut out = Vec::new();
        for version in versions {
            let r = KeyRef {
                key_id: key.material_id(),
                version,
            };
            same_key(key, r)?;
            let v = self
                .reads()
                .get_key_version(key.id, version)
                .await?
                .ok_or_else(|| KmsError::Internal(format!("version {version} is missing")))?;
            out.push((r, Ekt(v.ekt)));
        }
        Ok(out)
    }

    /// Swaps each `(version, old, new)` EKT of key `id` in the store only
    /// if it still holds `old`. If one does not, the swaps made so far are
    /// undone and the request fails: the store is as it was.
    pub(crate) async fn swap_ekts(
        &self,
        change: &Change,
        id: uuid::Uuid,
        swaps: Vec<(u32, Vec<u8>, Vec<u8>)>,
    ) -> Result<Vec<Swapped>, KmsError> {
        change.covers(id)?;
        let mut done = Vec::new();
        for (version, old, new) in swaps {
            let swapped = self
                .repo
                .replace_ekt(change, id, version, (&old, &new))
                .await;
            match swapped {
                Ok(true) => done.push(Swapped { version, old, new }),
                other => {
                    self.undo_swaps(change, id, &done).await;
                    other?;
                    return Err(concurrent(version));
                }
            }
        }
        Ok(done)
    }

    /// Puts back what `swaps` replaced (each only if it still holds what
    /// was swapped in). Best effort: a failure is logged, never hidden
    /// behind another error.
    pub(crate) async fn undo_swaps(&self, change: &Change, id: uuid::Uuid, swaps: &[Swapped]) {
        for s in swaps {
            match self
                .repo
                .replace_ekt(change, id, s.version, (&s.new, &s.old))
                .await
            {
                Ok(true) => {}
                other => tracing::error!(
                    key_id = %id,
                    version = s.version,
                    answer = ?other,
                    "an EKT swap could not be undone"
                ),
            }
        }
    }

    /// Saves `next` (compare-and-swap on its revision); if that fails,
    /// undoes `swaps` first.
    pub(crate) async fn save_key_after_swaps(
        &self,
        change: &Change,
        next: KeyRecord,
        swaps: &[Swapped],
    ) -> Result<(), KmsError> {
        let id = next.id;
        if let Err(e) = self.repo.save(change, next).await {
            self.undo_swaps(change, id, swaps).await;
            return Err(e.into());
        }
        Ok(())
    }
}

/// A version's EKT was not what this request read: another frontend
/// changed it meanwhile (a 500, which SDKs retry against the new state).
fn concurrent(version: u32) -> KmsError {
    KmsError::Internal(format!(
        "The key changed concurrently (version {version}); retry the request."
    ))
}
