//! Authorization decisions. Every decision takes the request's explicit
//! `RequestCtx` (caller, operation row, action, condition values), so none
//! can be made outside a request or for an action the operation table does
//! not name. Key decisions evaluate the key's policy (AWS's default policy
//! when it has none), the caller's identity policy and the key's grants;
//! alias and keyless decisions evaluate the identity policy.

pub mod operations;
pub mod request;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use dashmap::DashMap;
use strongroom_policy::{
    ConditionValues, KeyPolicyDecision, PolicyDecision, PolicyDocument, RequestContext,
    evaluate_key_policy, evaluate_policy,
};
use strongroom_store::{GrantRecord, KeyRecord};
use uuid::Uuid;

pub use request::{AuditFacts, RequestCtx, RequestMeta};

use crate::auth::Caller;
use crate::error::KmsError;
use crate::identity::IdentityKind;
use crate::protocol::EncryptionContext;

/// The caller's principal ARN, as policies and grants name it.
pub fn principal_arn(caller: &Caller) -> String {
    caller.identity.arn.clone()
}

/// Parsed key policies, by key, checked against the stored text.
#[derive(Default)]
pub struct PolicyCache(DashMap<Uuid, Arc<(String, PolicyDocument)>>);

impl PolicyCache {
    /// Drops the parsed policy of a deleted key.
    pub(crate) fn forget(&self, key_id: Uuid) {
        self.0.remove(&key_id);
    }

    fn get(&self, key: &KeyRecord, text: &str) -> Result<Arc<(String, PolicyDocument)>, KmsError> {
        if let Some(hit) = self.0.get(&key.id)
            && hit.0 == text
        {
            return Ok(hit.clone());
        }
        let doc = PolicyDocument::parse(text)
            .map_err(|e| KmsError::Internal(format!("stored key policy does not parse: {e}")))?;
        let entry = Arc::new((text.to_string(), doc));
        self.0.insert(key.id, entry.clone());
        Ok(entry)
    }
}

/// Whether a grant lets `principal` do `action` (`kms:Op`) with context
/// `context`. Which operations a context constraint binds comes from the
/// operation table.
pub fn grant_allows(
    grant: &GrantRecord,
    principal: &str,
    action: &str,
    context: Option<&EncryptionContext>,
) -> bool {
    let op = action.strip_prefix("kms:").unwrap_or(action);
    if grant.grantee != principal || !grant.operations.iter().any(|o| o == op) {
        return false;
    }
    // As AWS: constraints bind only operations that take a context.
    if !operations::grant_operation_takes_context(crate::ops::OPERATIONS, op) {
        return true;
    }
    let empty = EncryptionContext::new();
    let ctx = context.unwrap_or(&empty);
    if let Some(eq) = &grant.context_equals
        && (eq.len() != ctx.len() || eq.iter().any(|(k, v)| ctx.get(k) != Some(v)))
    {
        return false;
    }
    if let Some(sub) = &grant.context_subset
        && sub.iter().any(|(k, v)| ctx.get(k) != Some(v))
    {
        return false;
    }
    true
}

/// Whether the request may do its action on `key` (ARN `key_arn`), as AWS
/// decides: an explicit deny in the key policy or the caller's identity
/// policy wins; then an allow in the key policy that names the caller, or
/// one that names the caller's account together with an allow in its
/// identity policy (an account's root needs none; a principal of another
/// account always needs one), or one of `grants`. This only decides; the
/// processor's `resolve` records the decision and hands out the
/// `AuthorizedKey` that key material requires.
pub fn authorize(
    cache: &PolicyCache,
    rq: &RequestCtx<'_>,
    key: &KeyRecord,
    key_arn: &str,
    grants: &[GrantRecord],
) -> Result<(), KmsError> {
    let caller = rq.caller();
    let action = rq.action();
    let ident = &caller.identity;
    let is_root = ident.kind == IdentityKind::Root;
    let same_account = caller.account_id == key.account_id;
    let by_grant = || {
        grants
            .iter()
            .any(|g| grant_allows(g, &ident.arn, action, rq.context()))
    };
    // The default policy allows `kms:*`, which never covers the actions
    // that release key material (strongroom_policy::EXPLICIT_ONLY_ACTIONS).
    let default_covers = !strongroom_policy::requires_explicit_allow(action);
    // The fast path: the account's root on a key with the default policy.
    if key.policy.is_none() && is_root && caller.via_service.is_none() && default_covers {
        return if same_account || by_grant() {
            Ok(())
        } else {
            Err(denied(caller, action, key_arn, None))
        };
    }
    let conditions = key_conditions(rq, key);
    let ctx = RequestContext {
        principal_arn: &ident.arn,
        account_id: &caller.account_id,
        service: ident.service_name.as_deref(),
        action,
        resource: key_arn,
        conditions: &conditions,
    };
    let identity = match &ident.policy {
        Some(p) => evaluate_policy(p, &ctx),
        None => PolicyDecision::NoMatch,
    };
    if identity == PolicyDecision::ExplicitDeny {
        return Err(denied(
            caller,
            action,
            key_arn,
            Some("an identity-based policy"),
        ));
    }
    let by_key = match key.policy.as_deref() {
        Some(text) => evaluate_key_policy(&cache.get(key, text)?.1, &ctx),
        None if !default_covers => KeyPolicyDecision::NoMatch,
        // AWS's default policy names only the owning account.
        None if same_account && is_root => KeyPolicyDecision::AllowDirect,
        None if same_account => KeyPolicyDecision::AllowViaAccount,
        None => KeyPolicyDecision::NoMatch,
    };
    let identity_allows = identity == PolicyDecision::Allow;
    let allowed = match by_key {
        KeyPolicyDecision::ExplicitDeny => {
            return Err(denied(
                caller,
                action,
                key_arn,
                Some("a resource-based policy"),
            ));
        }
        KeyPolicyDecision::AllowDirect => same_account || is_root || identity_allows,
        KeyPolicyDecision::AllowViaAccount => identity_allows,
        KeyPolicyDecision::NoMatch => false,
    };
    if allowed || by_grant() {
        Ok(())
    } else {
        Err(denied(caller, action, key_arn, None))
    }
}

/// The request's condition values with those of `key` (its spec, usage,
/// origin, multi-Region kind, Strongroom's extensions and its tags).
fn key_conditions(rq: &RequestCtx<'_>, key: &KeyRecord) -> ConditionValues {
    let mut conditions = rq.conditions();
    conditions.insert("kms:keyspec".into(), vec![key.key_spec.to_string()]);
    conditions.insert("kms:keyusage".into(), vec![key.key_usage.to_string()]);
    conditions.insert("kms:keyorigin".into(), vec![key.origin.to_string()]);
    conditions.insert(
        "kms:multiregion".into(),
        vec![key.multi_region_id.is_some().to_string()],
    );
    if key.multi_region_id.is_some() {
        let kind = if key.multi_region_primary {
            "PRIMARY"
        } else {
            "REPLICA"
        };
        conditions.insert("kms:multiregionkeytype".into(), vec![kind.into()]);
    }
    // Extensions (docs/extensions.md): policies can single out exposed and
    // volatile keys.
    conditions.insert(
        "strongroom:keyexposed".into(),
        vec![key.exposed.to_string()],
    );
    let class = if key.volatile { "VOLATILE" } else { "DURABLE" };
    conditions.insert("strongroom:storageclass".into(), vec![class.into()]);
    for t in &key.tags {
        conditions.insert(
            format!("aws:resourcetag/{}", t.key.to_ascii_lowercase()),
            vec![t.value.clone()],
        );
    }
    conditions
}

/// Evaluates the caller's identity policy for the request's action on
/// `resource`: the account's root may; anyone else needs an allow.
fn authorize_by_identity(rq: &RequestCtx<'_>, resource: &str) -> Result<(), KmsError> {
    let caller = rq.caller();
    let ident = &caller.identity;
    if ident.kind == IdentityKind::Root {
        return Ok(());
    }
    let action = rq.action();
    let conditions = rq.conditions();
    let ctx = RequestContext {
        principal_arn: &ident.arn,
        account_id: &caller.account_id,
        service: ident.service_name.as_deref(),
        action,
        resource,
        conditions: &conditions,
    };
    match ident.policy.as_deref().map(|p| evaluate_policy(p, &ctx)) {
        Some(PolicyDecision::Allow) => Ok(()),
        Some(PolicyDecision::ExplicitDeny) => Err(denied(
            caller,
            action,
            resource,
            Some("an identity-based policy"),
        )),
        _ if resource == "*" => Err(KmsError::AccessDenied(format!(
            "User: {} is not authorized to perform: {action} because no identity-based policy allows the {action} action",
            ident.session_arn
        ))),
        _ => Err(KmsError::AccessDenied(format!(
            "User: {} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action",
            ident.session_arn
        ))),
    }
}

/// For requests that name no key (CreateKey, ListKeys, ...): the account's
/// root may; anyone else needs an allow in its identity policy.
pub fn authorize_keyless(rq: &mut RequestCtx<'_>) -> Result<(), KmsError> {
    authorize_by_identity(rq, "*")?;
    rq.allowed_keyless();
    Ok(())
}

/// A further identity-policy check of the request, for `action` (one of
/// its row's halves) on `resource`: ReplicateKey's kms:CreateKey in the
/// replica region (the account's root may).
pub fn authorize_identity_also(
    rq: &RequestCtx<'_>,
    action: &'static str,
    resource: &str,
) -> Result<(), KmsError> {
    let half = rq.half(action, &None)?;
    authorize_by_identity(&half, resource)
}

/// For alias operations, the alias half (the keys are authorized by
/// `resolve`): aliases have no policy of their own, so the identity policy
/// decides with the alias ARN as resource (the account's root may).
pub fn authorize_alias(rq: &mut RequestCtx<'_>, alias_arn: &str) -> Result<(), KmsError> {
    authorize_by_identity(rq, alias_arn)?;
    rq.allowed_alias();
    Ok(())
}

/// For RetireGrant: the grant's retiring principal, its grantee when the
/// grant allows RetireGrant, or the account that issued it may. The
/// request's records name the grant and its key (`key_arn`) either way.
pub fn authorize_retire(
    rq: &mut RequestCtx<'_>,
    grant: &GrantRecord,
    key_arn: &str,
) -> Result<(), KmsError> {
    rq.note_key(key_arn);
    rq.note_grant(&grant.grant_id);
    let me = principal_arn(rq.caller());
    let may = grant.retiring.as_deref() == Some(me.as_str())
        || (grant.grantee == me && grant.operations.iter().any(|o| o == "RetireGrant"))
        || (me == format!("arn:aws:iam::{}:root", grant.issuing_account));
    if !may {
        return Err(KmsError::AccessDenied(format!(
            "User: {me} is not authorized to perform: kms:RetireGrant on grant {}",
            grant.grant_id
        )));
    }
    rq.allowed_grant(&grant.grant_id, grant.key_id, key_arn);
    Ok(())
}

/// AWS's wording; `explicit` names the kind of policy that denied.
fn denied(caller: &Caller, action: &str, resource: &str, explicit: Option<&str>) -> KmsError {
    let why = match explicit {
        Some(kind) => format!("with an explicit deny in {kind}"),
        None => format!("because no resource-based policy allows the {action} action"),
    };
    KmsError::AccessDenied(format!(
        "User: {} is not authorized to perform: {action} on resource: {resource} {why}",
        caller.identity.session_arn
    ))
}

/// The one answer for another account's key the caller may not use,
/// whether it exists or not (as AWS): nothing in it depends on the key.
pub fn cross_account_denied(rq: &RequestCtx<'_>, key_arn: &str) -> KmsError {
    denied(rq.caller(), rq.action(), key_arn, None)
}

/// Whether `caller` may set `policy` on a key without locking itself out
/// (the caller must still be allowed kms:PutKeyPolicy under it).
pub fn lockout_check(
    caller: &Caller,
    conditions: &ConditionValues,
    key_arn: &str,
    policy: &PolicyDocument,
) -> Result<(), KmsError> {
    let principal = principal_arn(caller);
    let ctx = RequestContext {
        principal_arn: &principal,
        account_id: &caller.account_id,
        service: None,
        action: "kms:PutKeyPolicy",
        resource: key_arn,
        conditions,
    };
    match evaluate_policy(policy, &ctx) {
        PolicyDecision::Allow => Ok(()),
        _ => Err(KmsError::MalformedPolicyDocument(
            "The new key policy will not allow you to update the key policy in the future.".into(),
        )),
    }
}
