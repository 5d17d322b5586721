//! Taking a key's lock before the request resolves it: read-modify-write
//! of a key (its resolution, authorization, state checks and the write)
//! happens under the lock of that key alone (`key_locks`), never under one
//! other keys need. The lock names key material, so every copy of a
//! multi-Region key shares it.

use uuid::Uuid;

use super::key_locks::KeyGuard;
use super::{AuthorizedKey, Processor};
use crate::arn::{self, KeyIdentifier};
use crate::authz::RequestCtx;
use crate::error::KmsError;

impl Processor {
    /// Locks the keys that the KeyId parameters `names` name now, and the
    /// key material `also` (all at once, sorted). A name that names no key locks nothing: resolving
    /// it fails, or finds a key made since, which `locked` refuses.
    pub(crate) async fn lock_named(
        &self,
        rq: &RequestCtx<'_>,
        names: &[&Option<String>],
        also: &[Uuid],
    ) -> Result<KeyGuard, KmsError> {
        let mut ids = also.to_vec();
        for name in names {
            if let Some(id) = self.material_named(rq, name).await? {
                ids.push(id);
            }
        }
        Ok(self.repo.lock_keys(&ids).await)
    }

    /// The material id of the key `name` names for the caller, if any
    /// (no authorization: only which lock to take). As `resolve` names
    /// keys: a bare id or alias means one of the caller's own keys, an ARN
    /// the key of its account, and only in the caller's region; a key no
    /// request could act on by this name is not locked.
    async fn material_named(
        &self,
        rq: &RequestCtx<'_>,
        name: &Option<String>,
    ) -> Result<Option<Uuid>, KmsError> {
        let Some(parsed) = name.as_deref().and_then(arn::parse_key_id) else {
            return Ok(None);
        };
        let caller = rq.caller();
        let here = caller.region.as_str();
        let (row, shared, region, account) = match parsed {
            KeyIdentifier::Key {
                id,
                region,
                account,
            } => (id, None, region, account),
            KeyIdentifier::MultiRegion {
                id,
                region,
                account,
            } => (
                crate::multi_region::row_id(id, here),
                Some(id),
                region,
                account,
            ),
            KeyIdentifier::Alias { name, .. } => {
                let target = self
                    .repo
                    .alias_target(&caller.account_id, here, &name)
                    .await?;
                let Some(target) = target else {
                    return Ok(None);
                };
                return Ok(self.load_key(target).await?.map(|k| k.material_id()));
            }
        };
        if region.is_some_and(|r| r != here) {
            return Ok(None);
        }
        let account = account.unwrap_or_else(|| caller.account_id.clone());
        let key = self
            .load_key(row)
            .await?
            .filter(|k| k.account_id == account && k.region == here && k.multi_region_id == shared);
        Ok(key.map(|k| k.material_id()))
    }
}

/// Fails unless `guard` holds the lock of `key` (an alias moved, or the
/// key appeared, between locking and resolving: the SDK retries).
pub(crate) fn locked(guard: &KeyGuard, key: &AuthorizedKey) -> Result<(), KmsError> {
    if guard.holds_key(key.material_id()) {
        Ok(())
    } else {
        Err(KmsError::Internal(format!(
            "{} changed concurrently; retry the request.",
            key.arn()
        )))
    }
}

#[cfg(test)]
mod tests;
