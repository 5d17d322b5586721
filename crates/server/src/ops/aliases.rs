//! Aliases: CreateAlias, UpdateAlias, DeleteAlias, ListAliases.

use strongroom_store::{AliasRecord, StoreError};
use uuid::Uuid;

use crate::arn;
use crate::authz::RequestCtx;
use crate::error::KmsError;
use crate::ops::keys::page_limit;
use crate::processor::key_repository::WriteError;
use crate::processor::{KeyGuard, Processor, locked, required};
use crate::protocol::*;

/// AWS's alias naming rules.
/// AWS's rules for alias names beyond the model's length and pattern
/// (`validate`). As AWS answers (a real answer quoted in
/// aws-controllers-k8s/community#1878): a name without the prefix is a
/// ValidationException with this message.
fn check_alias_name(name: &str) -> Result<(), KmsError> {
    let Some(rest) = name.strip_prefix("alias/") else {
        return Err(KmsError::Validation(
            "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html".into(),
        ));
    };
    // The pattern allows ':' (alias ARNs), an alias name does not.
    if rest.is_empty() || rest.contains(':') {
        return Err(KmsError::InvalidAliasName(format!(
            "{name} contains invalid characters for an alias"
        )));
    }
    // `alias/aws/` names AWS managed keys, which customers can neither
    // create, point elsewhere nor delete. AWS answers NotAuthorizedException
    // (a Coral error botocore does not list per operation; moto, whose KMS
    // answers are taken from AWS's, raises the same for CreateAlias and
    // UpdateAlias), and the developer guide says "The alias name cannot
    // begin with alias/aws/. The alias/aws/ prefix is reserved for AWS
    // managed keys" (https://docs.aws.amazon.com/kms/latest/developerguide/alias-about.html).
    if rest.starts_with("aws/") {
        return Err(KmsError::NotAuthorized(format!(
            "The alias prefix alias/aws/ is reserved for AWS managed keys: {name} cannot be created, updated or deleted."
        )));
    }
    Ok(())
}

impl Processor {
    /// Authorizes the alias half of an alias operation: the identity
    /// policy, with the alias ARN as resource.
    fn authorize_alias(&self, rq: &mut RequestCtx<'_>, name: &str) -> Result<(), KmsError> {
        let caller = rq.caller();
        let alias_arn = arn::alias_arn(caller.region.as_str(), &caller.account_id, name);
        crate::authz::authorize_alias(rq, &alias_arn)
    }

    /// The key an alias is to point to, authorized for the operation.
    async fn alias_target_key(
        &self,
        rq: &mut RequestCtx<'_>,
        target: &Option<String>,
        guard: &KeyGuard,
    ) -> Result<Uuid, KmsError> {
        required(target, "targetKeyId")?;
        let key = self.resolve(rq, target, false).await?;
        locked(guard, &key)?;
        // As AWS: an alias names a key of its own account, whatever
        // another account's key policy allows.
        if key.account_id != rq.caller().account_id {
            return Err(crate::authz::cross_account_denied(rq, key.arn()));
        }
        self.check_key_state(rq.operation().name, &key)?;
        Ok(key.id)
    }

    /// The key an existing alias points to, authorized for the operation
    /// (as AWS: changing or removing an alias needs the key's policy too).
    async fn current_alias_key(
        &self,
        rq: &mut RequestCtx<'_>,
        name: &str,
        guard: &KeyGuard,
    ) -> Result<Uuid, KmsError> {
        let (account, region) = (&rq.caller().account_id, rq.caller().region.as_str());
        let alias = self
            .reads()
            .get_alias(account, region, name)
            .await?
            .ok_or_else(|| self.alias_not_found((account, region), name))?;
        // By the name resolve takes: a multi-Region key's copy is `mrk-…`,
        // never its row id.
        let named = match self.load_key(alias.key_id).await? {
            Some(k) => crate::multi_region::key_id(&k),
            None => alias.key_id.to_string(),
        };
        let key = self.resolve(rq, &Some(named), false).await?;
        locked(guard, &key)?;
        Ok(key.id)
    }

    /// The material id of the key alias `name` points to now, if any
    /// (which lock to take).
    async fn alias_material(
        &self,
        rq: &RequestCtx<'_>,
        name: &str,
    ) -> Result<Option<Uuid>, KmsError> {
        let (account, region) = (&rq.caller().account_id, rq.caller().region.as_str());
        let Some(alias) = self.reads().get_alias(account, region, name).await? else {
            return Ok(None);
        };
        Ok(self.load_key(alias.key_id).await?.map(|k| k.material_id()))
    }

    pub(crate) async fn create_alias(
        &self,
        rq: &mut RequestCtx<'_>,
        req: AliasRequest,
    ) -> Result<Empty, KmsError> {
        let caller = rq.caller();
        let name = required(&req.alias_name, "aliasName")?;
        check_alias_name(name)?;
        self.authorize_alias(rq, name)?;
        // The alias, then the key it is to point to: a deletion of that
        // key cannot slip between its state check and the write.
        let _alias = self
            .repo
            .lock_alias(&caller.account_id, caller.region.as_str(), name)
            .await;
        let guard = self.lock_named(rq, &[&req.target_key_id], &[]).await?;
        let key_id = self
            .alias_target_key(rq, &req.target_key_id, &guard)
            .await?;
        let now = self.now();
        let rec = AliasRecord {
            account_id: caller.account_id.clone(),
            region: caller.region.to_string(),
            name: name.to_owned(),
            key_id,
            created_at: now,
            updated_at: now,
        };
        let change = self.begin_change(rq).await?;
        self.repo
            .create_alias(&change, &rec)
            .await
            .map_err(|e| match e {
                WriteError::Store(StoreError::AlreadyExists(_)) => {
                    KmsError::AlreadyExists(format!(
                        "An alias with the name {} already exists",
                        arn::alias_arn(&rec.region, &caller.account_id, name)
                    ))
                }
                other => other.into(),
            })?;
        Ok(Empty {})
    }

    pub(crate) async fn update_alias(
        &self,
        rq: &mut RequestCtx<'_>,
        req: AliasRequest,
    ) -> Result<Empty, KmsError> {
        let caller = rq.caller();
        let (account, region) = (caller.account_id.as_str(), caller.region.as_str());
        let name = required(&req.alias_name, "aliasName")?;
        check_alias_name(name)?;
        self.authorize_alias(rq, name)?;
        // The alias, then both keys at once (sorted: no deadlock with an
        // update moving another alias the other way).
        let _alias = self.repo.lock_alias(account, region, name).await;
        let now_at = self.alias_material(rq, name).await?;
        let guard = self
            .lock_named(rq, &[&req.target_key_id], now_at.as_slice())
            .await?;
        // The key it points to now and the key it is to point to must both
        // allow kms:UpdateAlias.
        self.current_alias_key(rq, name, &guard).await?;
        let key_id = self
            .alias_target_key(rq, &req.target_key_id, &guard)
            .await?;
        let change = self.begin_change(rq).await?;
        self.repo
            .update_alias(&change, (account, region, name), key_id, self.now())
            .await
            .map_err(|e| self.alias_store_error((account, region), name, e))?;
        Ok(Empty {})
    }

    pub(crate) async fn delete_alias(
        &self,
        rq: &mut RequestCtx<'_>,
        req: AliasRequest,
    ) -> Result<Empty, KmsError> {
        let caller = rq.caller();
        let (account, region) = (caller.account_id.as_str(), caller.region.as_str());
        let name = required(&req.alias_name, "aliasName")?;
        check_alias_name(name)?;
        self.authorize_alias(rq, name)?;
        let _alias = self.repo.lock_alias(account, region, name).await;
        let now_at = self.alias_material(rq, name).await?;
        let guard = self.lock_named(rq, &[], now_at.as_slice()).await?;
        let key_id = self.current_alias_key(rq, name, &guard).await?;
        let change = self.begin_change(rq).await?;
        self.repo
            .delete_alias(&change, (account, region, name), key_id)
            .await
            .map_err(|e| self.alias_store_error((account, region), name, e))?;
        Ok(Empty {})
    }

    /// NotFound for alias `name` of (account, region).
    fn alias_not_found(&self, (account, region): (&str, &str), name: &str) -> KmsError {
        KmsError::NotFound(format!(
            "Alias {} is not found.",
            arn::alias_arn(region, account, name)
        ))
    }

    fn alias_store_error(&self, account: (&str, &str), name: &str, e: WriteError) -> KmsError {
        match e {
            WriteError::Store(StoreError::NotFound(_)) => self.alias_not_found(account, name),
            other => other.into(),
        }
    }

    pub(crate) async fn list_aliases(
        &self,
        rq: &mut RequestCtx<'_>,
        req: ListRequest,
    ) -> Result<ListAliasesResponse, KmsError> {
        let caller = rq.caller();
        let limit = page_limit(req.limit, 100, 50);
        let key = match &req.key_id {
            Some(_) => Some(self.resolve(rq, &req.key_id, false).await?.id),
            None => None,
        };
        if let Some(m) = &req.marker
            && !m.starts_with("alias/")
        {
            return Err(KmsError::InvalidMarker("Invalid marker".into()));
        }
        let mut rows = self
            .reads()
            .list_aliases(
                &caller.account_id,
                caller.region.as_str(),
                key,
                req.marker.as_deref(),
                limit + 1,
            )
            .await?;
        let truncated = rows.len() > limit;
        rows.truncate(limit);
        let next_marker = truncated
            .then(|| rows.last().map(|a| a.name.clone()))
            .flatten();
        let mut aliases = Vec::with_capacity(rows.len());
        for a in rows {
            // A multi-Region key's copy is named by its shared `mrk-…` id.
            let target_key_id = match self.load_key(a.key_id).await? {
                Some(k) => crate::multi_region::key_id(&k),
                None => a.key_id.to_string(),
            };
            aliases.push(AliasListEntry {
                alias_arn: arn::alias_arn(&a.region, &a.account_id, &a.name),
                alias_name: a.name,
                target_key_id,
                creation_date: a.created_at as f64,
                last_updated_date: a.updated_at as f64,
            });
        }
        Ok(ListAliasesResponse {
            aliases,
            next_marker,
            truncated,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names() {
        assert!(check_alias_name("alias/app-1/prod_x").is_ok());
        assert!(matches!(
            check_alias_name("app"),
            Err(KmsError::Validation(_))
        ));
        assert!(matches!(
            check_alias_name("alias/"),
            Err(KmsError::InvalidAliasName(_))
        ));
        assert!(matches!(
            check_alias_name("alias/a:b"),
            Err(KmsError::InvalidAliasName(_))
        ));
        assert!(matches!(
            check_alias_name("alias/aws/s3"),
            Err(KmsError::NotAuthorized(_))
        ));
    }
}
