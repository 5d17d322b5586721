//! Table tests of the policy language: operators and qualifiers against
//! AWS's documented semantics (present, absent and multi-valued keys,
//! `IfExists`, set operators on empty and absent sets), deny overrides,
//! Not* elements, wildcards, and malformed documents.

mod absent_keys;
mod documents;
mod operators;
mod statements;

use crate::*;

pub(super) const KEY: &str =
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

pub(super) fn ctx<'a>(action: &'a str, conditions: &'a ConditionValues) -> RequestContext<'a> {
    RequestContext {
        principal_arn: "arn:aws:iam::111122223333:user/alice",
        account_id: "111122223333",
        service: None,
        action,
        resource: KEY,
        conditions,
    }
}

pub(super) fn values(pairs: &[(&str, &[&str])]) -> ConditionValues {
    pairs
        .iter()
        .map(|(k, v)| {
            (
                k.to_ascii_lowercase(),
                v.iter().map(|s| s.to_string()).collect(),
            )
        })
        .collect()
}

pub(super) fn allow_with(condition: &str) -> PolicyDocument {
    PolicyDocument::parse(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{condition}}}]}}"#
    ))
    .unwrap()
}

pub(super) fn decide(p: &PolicyDocument, action: &str, v: &ConditionValues) -> PolicyDecision {
    evaluate_policy(p, &ctx(action, v))
}

/// (condition block, request values, expected decision).
pub(super) type Case = (
    &'static str,
    &'static [(&'static str, &'static [&'static str])],
    PolicyDecision,
);
