//! Evaluating a key policy for one request, as AWS does: an explicit Deny
//! wins; otherwise an Allow whose principal, action, resource and
//! conditions all match; otherwise no match (denied by default).

use crate::action::covers_action;
use crate::document::{ConditionValues, Effect, PolicyDocument, Principals, Statement};
use crate::glob::glob_match;

/// The request, as policy sees it.
#[derive(Debug, Clone, Copy)]
pub struct RequestContext<'a> {
    /// The caller's ARN, e.g. `arn:aws:iam::111122223333:root`.
    pub principal_arn: &'a str,
    /// The caller's account.
    pub account_id: &'a str,
    /// The service principal name, when the caller is a service.
    pub service: Option<&'a str>,
    /// The action, e.g. `kms:Encrypt`.
    pub action: &'a str,
    /// The key's ARN.
    pub resource: &'a str,
    /// Condition keys (lower-cased) and their values.
    pub conditions: &'a ConditionValues,
}

/// The outcome of evaluating one policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyDecision {
    /// An Allow statement matched and no Deny did.
    Allow,
    /// A Deny statement matched.
    ExplicitDeny,
    /// Nothing matched: denied unless something else allows.
    NoMatch,
}

/// How a statement's principals cover the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cover {
    /// Not at all.
    No,
    /// By name (or `*`, or a service; the root of an account by its
    /// account).
    Direct,
    /// Only through the caller's account: the account delegates to its
    /// identity policies.
    Account,
}

fn principal_cover(p: &Principals, ctx: &RequestContext<'_>) -> Cover {
    match p {
        Principals::Everyone => Cover::Direct,
        Principals::Listed { aws, services } => {
            let account_root = format!("arn:aws:iam::{}:root", ctx.account_id);
            if aws.iter().any(|a| a == ctx.principal_arn)
                || ctx.service.is_some_and(|s| services.iter().any(|x| x == s))
            {
                Cover::Direct
            } else if aws
                .iter()
                .any(|a| *a == account_root || a == ctx.account_id)
            {
                if ctx.principal_arn == account_root {
                    Cover::Direct
                } else {
                    Cover::Account
                }
            } else {
                Cover::No
            }
        }
    }
}

fn cover(s: &Statement, ctx: &RequestContext<'_>) -> Cover {
    let c = principal_cover(&s.principals, ctx);
    let c = match (s.not_principal, c) {
        (false, c) => c,
        (true, Cover::No) => Cover::Direct,
        (true, _) => Cover::No,
    };
    let action = covers_action(s, ctx.action);
    let resource = s
        .resources
        .iter()
        .any(|r| glob_match(r, ctx.resource, false))
        != s.not_resource;
    if c != Cover::No && action && resource && s.conditions.iter().all(|c| c.holds(ctx.conditions))
    {
        c
    } else {
        Cover::No
    }
}

/// A key policy's verdict, telling apart an allow that names the caller
/// from one that names only the caller's account (which AWS honours only
/// if the caller's identity policy allows too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPolicyDecision {
    /// A Deny statement matched.
    ExplicitDeny,
    /// An Allow statement names the caller (or everyone).
    AllowDirect,
    /// Only an Allow for the caller's whole account matched.
    AllowViaAccount,
    /// Nothing matched.
    NoMatch,
}

/// Evaluates a key policy for `ctx`.
pub fn evaluate_key_policy(policy: &PolicyDocument, ctx: &RequestContext<'_>) -> KeyPolicyDecision {
    let (mut direct, mut account) = (false, false);
    for s in &policy.statements {
        match (s.effect, cover(s, ctx)) {
            (_, Cover::No) => {}
            (Effect::Deny, _) => return KeyPolicyDecision::ExplicitDeny,
            (Effect::Allow, Cover::Direct) => direct = true,
            (Effect::Allow, Cover::Account) => account = true,
        }
    }
    if direct {
        KeyPolicyDecision::AllowDirect
    } else if account {
        KeyPolicyDecision::AllowViaAccount
    } else {
        KeyPolicyDecision::NoMatch
    }
}

fn applies(s: &Statement, ctx: &RequestContext<'_>) -> bool {
    let principal = (principal_cover(&s.principals, ctx) != Cover::No) != s.not_principal;
    let action = covers_action(s, ctx.action);
    let resource = s
        .resources
        .iter()
        .any(|r| glob_match(r, ctx.resource, false))
        != s.not_resource;
    principal && action && resource && s.conditions.iter().all(|c| c.holds(ctx.conditions))
}

/// Evaluates `policy` for `ctx`.
pub fn evaluate_policy(policy: &PolicyDocument, ctx: &RequestContext<'_>) -> PolicyDecision {
    let mut allowed = false;
    for s in policy.statements.iter().filter(|s| applies(s, ctx)) {
        match s.effect {
            Effect::Deny => return PolicyDecision::ExplicitDeny,
            Effect::Allow => allowed = true,
        }
    }
    if allowed {
        PolicyDecision::Allow
    } else {
        PolicyDecision::NoMatch
    }
}

/// AWS's default key policy: the owning account (and through it, whoever
/// the account allows) may do everything with the key.
pub fn default_policy(account_id: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [{
            "Sid": "Enable IAM User Permissions",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account_id}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    })
    .to_string()
}
