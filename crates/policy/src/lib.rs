//! Who may use a key: the AWS JSON policy language: documents (parsed and
//! validated), conditions, and evaluation as AWS does it (explicit deny
//! wins, then an allow, else denied). The frontend evaluates each key's
//! policy (or AWS's default key policy) for every request.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod action;
mod condition;
mod document;
mod eval;
mod glob;
mod operator;
#[cfg(test)]
mod tests;

pub use action::{EXPLICIT_ONLY_ACTIONS, requires_explicit_allow};
pub use condition::Condition;
pub use document::{
    ConditionValues, Effect, MAX_POLICY_BYTES, PolicyDocument, PolicyError, Principals, Statement,
};
pub use eval::{
    KeyPolicyDecision, PolicyDecision, RequestContext, default_policy, evaluate_key_policy,
    evaluate_policy,
};
pub use glob::glob_match;
pub use operator::{Comparison, ConditionOperator, SetQualifier};
