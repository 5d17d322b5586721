//! Key-policy authorisation. Each request runs inside a scope that records
//! its action and the condition values known so far (caller, time, and —
//! noted by the operations — encryption context and algorithm); resolving a
//! key evaluates the key's policy (AWS's default policy when it has none)
//! against them.

use std::cell::RefCell;
use std::sync::Arc;

use dashmap::DashMap;
use strongroom_policy::{
    ConditionValues, KeyPolicyDecision, PolicyDecision, PolicyDocument, RequestContext,
    evaluate_key_policy, evaluate_policy,
};
use strongroom_store::{GrantRecord, KeyRecord};
use uuid::Uuid;

use crate::auth::Caller;
use crate::error::KmsError;
use crate::identity::IdentityKind;
use crate::protocol::EncryptionContext;

/// What policy needs to know about the request in progress.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// `kms:<Operation>`.
    pub action: String,
    /// Condition values (lower-cased keys).
    pub conditions: ConditionValues,
    /// The request's encryption context as given (grant constraints are
    /// case-sensitive, unlike condition keys).
    pub context: Option<Arc<EncryptionContext>>,
}

/// What the audit trail needs to know about a request in progress.
#[derive(Debug, Clone, Default)]
pub struct AuditFacts {
    /// ARNs of the keys the request was authorised for, in order.
    pub key_arns: Vec<String>,
    /// Encryption contexts given (ReEncrypt has two), in order.
    pub context: Vec<(String, String)>,
}

/// Where a request came from.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestMeta {
    /// The client's address.
    pub source_ip: Option<std::net::IpAddr>,
    /// Whether it came over TLS.
    pub secure: bool,
}

tokio::task_local! {
    static FACTS: RefCell<Facts>;
    static AUDIT: RefCell<AuditFacts>;
}

/// Runs `f` as request `action` by `caller`; returns its output and what
/// the audit trail should record about it.
pub async fn scope<F: std::future::Future>(
    action: String,
    caller: &Caller,
    meta: RequestMeta,
    f: F,
) -> (F::Output, AuditFacts) {
    let mut conditions = ConditionValues::new();
    if let Some(ip) = meta.source_ip {
        conditions.insert("aws:sourceip".into(), vec![ip.to_string()]);
    }
    conditions.insert("aws:securetransport".into(), vec![meta.secure.to_string()]);
    conditions.insert("kms:calleraccount".into(), vec![caller.account_id.clone()]);
    conditions.insert("aws:principalarn".into(), vec![principal_arn(caller)]);
    conditions.insert(
        "aws:principaltype".into(),
        vec![caller.identity.kind.trail_name().into()],
    );
    for (k, v) in &caller.identity.tags {
        conditions.insert(
            format!("aws:principaltag/{}", k.to_ascii_lowercase()),
            vec![v.clone()],
        );
    }
    if let Some(s) = &caller.via_service {
        conditions.insert("kms:viaservice".into(), vec![s.clone()]);
    }
    conditions.insert(
        "aws:principalaccount".into(),
        vec![caller.account_id.clone()],
    );
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    conditions.insert("aws:currenttime".into(), vec![now]);
    let facts = RefCell::new(Facts {
        action,
        conditions,
        context: None,
    });
    AUDIT
        .scope(RefCell::new(AuditFacts::default()), async move {
            let out = FACTS.scope(facts, f).await;
            let audit = AUDIT.with(|a| std::mem::take(&mut *a.borrow_mut()));
            (out, audit)
        })
        .await
}

/// Records that the request used key `arn` (for the audit trail).
pub fn note_key(arn: &str) {
    let _ = AUDIT.try_with(|a| {
        let mut a = a.borrow_mut();
        if !a.key_arns.iter().any(|k| k == arn) {
            a.key_arns.push(arn.to_string());
        }
    });
}

/// Runs `f` with the action replaced (ReEncrypt's two halves).
pub async fn with_action<F: std::future::Future>(action: &str, f: F) -> F::Output {
    let mut facts = FACTS.try_with(|c| c.borrow().clone()).unwrap_or_default();
    facts.action = action.to_string();
    FACTS.scope(RefCell::new(facts), f).await
}

/// Records a condition value for the current request.
pub fn note(key: &str, values: Vec<String>) {
    let _ = FACTS.try_with(|c| {
        c.borrow_mut()
            .conditions
            .insert(key.to_ascii_lowercase(), values);
    });
}

/// Records `kms:EncryptionContext:<k>` and `kms:EncryptionContextKeys`.
pub fn note_context(ctx: &Option<EncryptionContext>) {
    let Some(ctx) = ctx else { return };
    let _ = FACTS.try_with(|c| c.borrow_mut().context = Some(Arc::new(ctx.clone())));
    let _ = AUDIT.try_with(|a| {
        a.borrow_mut()
            .context
            .extend(ctx.iter().map(|(k, v)| (k.clone(), v.clone())))
    });
    for (k, v) in ctx {
        note(&format!("kms:encryptioncontext:{k}"), vec![v.clone()]);
    }
    note("kms:encryptioncontextkeys", ctx.keys().cloned().collect());
}

/// The caller's principal ARN, as policies and grants name it.
pub fn principal_arn(caller: &Caller) -> String {
    caller.identity.arn.clone()
}

/// Parsed key policies, by key, checked against the stored text.
#[derive(Default)]
pub struct PolicyCache(DashMap<Uuid, Arc<(String, PolicyDocument)>>);

impl PolicyCache {
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
/// `context`.
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
    const WITH_CONTEXT: &[&str] = &[
        "Encrypt",
        "Decrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "ReEncryptFrom",
        "ReEncryptTo",
    ];
    if !WITH_CONTEXT.contains(&op) {
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

/// Whether `caller` may do the current action on `key` (ARN `key_arn`),
/// as AWS decides: an explicit deny in the key policy or the caller's
/// identity policy wins; then an allow in the key policy that names the
/// caller, or one that names the caller's account together with an allow in
/// its identity policy (an account's root needs none; a principal of
/// another account always needs one), or one of `grants`.
pub fn authorize(
    cache: &PolicyCache,
    caller: &Caller,
    key: &KeyRecord,
    key_arn: &str,
    grants: &[GrantRecord],
) -> Result<(), KmsError> {
    let facts = FACTS.try_with(|c| c.borrow().clone()).unwrap_or_default();
    let action = facts.action.as_str();
    let ident = &caller.identity;
    let is_root = ident.kind == IdentityKind::Root;
    let same_account = caller.account_id == key.account_id;
    let by_grant = || {
        grants
            .iter()
            .any(|g| grant_allows(g, &ident.arn, action, facts.context.as_deref()))
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
    let mut conditions = facts.conditions;
    conditions.insert("kms:keyspec".into(), vec![key.key_spec.clone()]);
    conditions.insert("kms:keyusage".into(), vec![key.key_usage.clone()]);
    conditions.insert("kms:keyorigin".into(), vec![key.origin.clone()]);
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

/// For requests that name no key (CreateKey, ListKeys, ...): the account's
/// root may; anyone else needs an allow in its identity policy.
pub fn authorize_keyless(caller: &Caller) -> Result<(), KmsError> {
    let ident = &caller.identity;
    if ident.kind == IdentityKind::Root {
        return Ok(());
    }
    let facts = FACTS.try_with(|c| c.borrow().clone()).unwrap_or_default();
    let ctx = RequestContext {
        principal_arn: &ident.arn,
        account_id: &caller.account_id,
        service: ident.service_name.as_deref(),
        action: &facts.action,
        resource: "*",
        conditions: &facts.conditions,
    };
    match ident.policy.as_deref().map(|p| evaluate_policy(p, &ctx)) {
        Some(PolicyDecision::Allow) => Ok(()),
        Some(PolicyDecision::ExplicitDeny) => Err(denied(
            caller,
            &facts.action,
            "*",
            Some("an identity-based policy"),
        )),
        _ => Err(KmsError::AccessDenied(format!(
            "User: {} is not authorized to perform: {} because no identity-based policy allows the {} action",
            ident.session_arn, facts.action, facts.action
        ))),
    }
}

/// AWS's wording; `explicit` names the kind of policy that denied.
fn denied(caller: &Caller, action: &str, key_arn: &str, explicit: Option<&str>) -> KmsError {
    let why = match explicit {
        Some(kind) => format!("with an explicit deny in {kind}"),
        None => format!("because no resource-based policy allows the {action} action"),
    };
    KmsError::AccessDenied(format!(
        "User: {} is not authorized to perform: {action} on resource: {key_arn} {why}",
        caller.identity.session_arn
    ))
}

/// Whether `caller` may set `policy` on a key without locking itself out
/// (the caller must still be allowed kms:PutKeyPolicy under it).
pub fn lockout_check(
    caller: &Caller,
    key_arn: &str,
    policy: &PolicyDocument,
) -> Result<(), KmsError> {
    let principal = principal_arn(caller);
    let conditions = ConditionValues::new();
    let ctx = RequestContext {
        principal_arn: &principal,
        account_id: &caller.account_id,
        service: None,
        action: "kms:PutKeyPolicy",
        resource: key_arn,
        conditions: &conditions,
    };
    match evaluate_policy(policy, &ctx) {
        PolicyDecision::Allow => Ok(()),
        _ => Err(KmsError::MalformedPolicyDocument(
            "The new key policy will not allow you to update the key policy in the future.".into(),
        )),
    }
}
