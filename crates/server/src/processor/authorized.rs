//! The only way to an `AuthorizedKey`: resolving a KeyId (or a ciphertext's
//! key) for a request and authorizing the request's action on it. Key
//! material (`current_ekt`, `ekt`, `with_ekt`) and the module client
//! (`Processor::module`) are handed out only against an `AuthorizedKey`, so
//! an operation that forgets to authorize cannot reach a module with a key:
//! it does not compile. Changing a key needs a `Change` besides (`change`).

use std::sync::Arc;

use strongroom_store::KeyRecord;
use uuid::Uuid;

use super::{Processor, required};
use crate::arn::{self, KeyIdentifier};
use crate::authz::{self, RequestCtx};
use crate::error::KmsError;

/// A key the request in progress has been authorized to use for its
/// action. Its fields are private to this module: only `resolve` and
/// `resolve_ciphertext_key` build one.
#[derive(Debug)]
pub struct AuthorizedKey {
    record: Arc<KeyRecord>,
    arn: String,
}

impl AuthorizedKey {
    /// The key's ARN.
    pub fn arn(&self) -> &str {
        &self.arn
    }
}

impl std::ops::Deref for AuthorizedKey {
    type Target = KeyRecord;

    fn deref(&self) -> &KeyRecord {
        &self.record
    }
}

impl Processor {
    /// Resolves a KeyId parameter to a key and authorizes the request's
    /// action on it. A bare id or alias always means one of the caller's
    /// own keys; another account's key is reachable only by its full ARN
    /// (as in AWS), and there the answer for a key the caller may not use
    /// is the same AccessDenied whether or not the key exists. Only keys
    /// in the request's region exist for it: an ARN naming another region
    /// is refused before any lookup (AWS: "Invalid arn <region>"), and a
    /// key of another region found by id is NotFound, as for another
    /// account's.
    pub(crate) async fn resolve(
        &self,
        rq: &mut RequestCtx<'_>,
        key_id: &Option<String>,
        allow_alias: bool,
    ) -> Result<AuthorizedKey, KmsError> {
        let caller = rq.caller();
        let s = required(key_id, "keyId")?;
        let parsed = arn::parse_key_id(s)
            .ok_or_else(|| KmsError::NotFound(format!("Invalid keyId '{s}'")))?;
        let here = caller.region.as_str();
        let other_region =
            |r: &Option<String>| r.as_deref().filter(|r| *r != here).map(str::to_owned);
        let invalid_arn = |r: String| KmsError::NotFound(format!("Invalid arn {r}"));
        let not_found = || KmsError::key_not_found(s);
        let (id, region, account, shared) = match parsed {
            KeyIdentifier::Key {
                id,
                region,
                account,
            } => (id, region, account, None),
            // Each region's copy is its own row (crate::multi_region).
            KeyIdentifier::MultiRegion {
                id,
                region,
                account,
            } => (
                crate::multi_region::row_id(id, here),
                region,
                account,
                Some(id),
            ),
            KeyIdentifier::Alias {
                name,
                region,
                account,
            } => {
                if !allow_alias {
                    return Err(KmsError::Validation(format!(
                        "'{s}' is an alias; this parameter needs a key id or key ARN."
                    )));
                }
                if let Some(r) = other_region(&region) {
                    return Err(invalid_arn(r));
                }
                // Aliases never name another account's key (as in AWS); no
                // lookup happens, so nothing about that account shows.
                if account.as_deref().is_some_and(|a| a != caller.account_id) {
                    return Err(not_found());
                }
                let target = self
                    .repo
                    .alias_target(&caller.account_id, here, &name)
                    .await?
                    .ok_or_else(|| {
                        KmsError::NotFound(format!(
                            "Alias {} is not found.",
                            arn::alias_arn(here, &caller.account_id, &name)
                        ))
                    })?;
                rq.note("kms:requestalias", vec![name.clone()]);
                let shared = self.load_key(target).await?.and_then(|k| k.multi_region_id);
                (target, None, None, shared)
            }
        };
        if let Some(r) = other_region(&region) {
            return Err(invalid_arn(r));
        }
        match account {
            Some(other) if other != caller.account_id => {
                self.resolve_other_account(rq, id, shared, &other).await
            }
            _ => {
                let key = self.load_key(id).await?.ok_or_else(not_found)?;
                // A copy's row id is no name of it: only `mrk-…` is.
                if key.account_id != caller.account_id
                    || key.region != here
                    || key.multi_region_id != shared
                {
                    return Err(not_found());
                }
                self.authorized(rq, key).await
            }
        }
    }

    /// Another account's key named by ARN: every refusal is the same
    /// AccessDenied, built only from the ARN the caller gave, so existence,
    /// state and policy of the key stay unobservable.
    async fn resolve_other_account(
        &self,
        rq: &mut RequestCtx<'_>,
        id: Uuid,
        shared: Option<Uuid>,
        account: &str,
    ) -> Result<AuthorizedKey, KmsError> {
        let region = rq.caller().region.clone();
        let shown = shared.map_or_else(|| id.to_string(), crate::multi_region::display);
        let named = arn::key_arn_named(region.as_str(), account, &shown);
        let refused = |rq: &RequestCtx<'_>| authz::cross_account_denied(rq, &named);
        let Some(key) = self.load_key(id).await? else {
            return Err(refused(rq));
        };
        if key.account_id != account
            || key.region != region.as_str()
            || key.multi_region_id != shared
        {
            return Err(refused(rq));
        }
        match self.authorized(rq, key).await {
            Ok(k) => Ok(k),
            Err(KmsError::AccessDenied(_)) => Err(refused(rq)),
            Err(other) => Err(other),
        }
    }

    /// The key a ciphertext names, authorized for the request. A key the
    /// caller cannot see (absent, in another region, or another account's
    /// it may not use) reads as an invalid ciphertext: no existence oracle.
    pub(crate) async fn resolve_ciphertext_key(
        &self,
        rq: &mut RequestCtx<'_>,
        id: Uuid,
    ) -> Result<AuthorizedKey, KmsError> {
        let Some(key) = self.ciphertext_key(id, rq.caller().region.as_str()).await? else {
            return Err(KmsError::InvalidCiphertext(String::new()));
        };
        let own = key.account_id == rq.caller().account_id;
        match self.authorized(rq, key).await {
            Err(KmsError::AccessDenied(_)) if !own => {
                Err(KmsError::InvalidCiphertext(String::new()))
            }
            r => r,
        }
    }

    /// The key in `region` whose material a ciphertext names by `id`: a
    /// single-Region key of that id, or the region's copy of the
    /// multi-Region key of that shared id (looked up first when the id
    /// has the shape of a shared one, so neither costs a wasted read).
    async fn ciphertext_key(
        &self,
        id: Uuid,
        region: &str,
    ) -> Result<Option<Arc<KeyRecord>>, KmsError> {
        let copy = crate::multi_region::row_id(id, region);
        let order = if crate::multi_region::is_shared_id(id) {
            [copy, id]
        } else {
            [id, copy]
        };
        for row in order {
            if let Some(k) = self.load_key(row).await?
                && k.region == region
                && k.material_id() == id
            {
                return Ok(Some(k));
            }
        }
        Ok(None)
    }

    /// Authorizes the request on `key` by its policy and grants; records
    /// the decision and pins the request to the key's module group.
    async fn authorized(
        &self,
        rq: &mut RequestCtx<'_>,
        key: Arc<KeyRecord>,
    ) -> Result<AuthorizedKey, KmsError> {
        let grants = self.grants_of(key.id).await?;
        let arn = self.key_arn(&key);
        rq.note_key(&arn);
        authz::authorize(&self.policies, rq, &key, &arn, &grants)?;
        rq.allowed_key(key.id);
        rq.also_covers(key.material_id());
        if let Some(group) = &key.module_group {
            strongroom_hsm_proto::routing::pin(group);
        }
        Ok(AuthorizedKey { record: key, arn })
    }

    /// Authorizes a further action of the request on `key`, with its own
    /// decision: material release (kms:ExposeKeyMaterial at CreateKey,
    /// kms:RevealDerivedKey at DeriveKey) needs an allow naming it, on top
    /// of the operation's own action. `action` must be one of the row's
    /// `halves`.
    pub(crate) async fn authorize_also(
        &self,
        rq: &mut RequestCtx<'_>,
        action: &'static str,
        ctx: &Option<crate::protocol::EncryptionContext>,
        key: &KeyRecord,
    ) -> Result<(), KmsError> {
        let mut half = rq.half(action, ctx)?;
        self.authorized(&mut half, Arc::new(key.clone())).await?;
        rq.absorb(half);
        Ok(())
    }
}
