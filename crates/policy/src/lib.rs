//! Who may use a key: the AWS JSON policy language (documents,
//! conditions, evaluation) and the access decision the frontend makes.
//!
//! Today the frontend uses [`evaluate`] (owning account only); the policy
//! language below is the engine key policies will run on (issue 4).
#![forbid(unsafe_code)]

mod condition;
mod document;
mod eval;
mod glob;
#[cfg(test)]
mod tests;

pub use document::{
    Condition, ConditionValues, Effect, MAX_POLICY_BYTES, PolicyDocument, PolicyError, Principals,
    SetQualifier, Statement,
};
pub use eval::{PolicyDecision, RequestContext, default_policy, evaluate_policy};
pub use glob::glob_match;

/// The authenticated caller, as policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal<'a> {
    /// The caller's account id.
    pub account_id: &'a str,
}

/// The key being acted on, as policy sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource<'a> {
    /// The account that owns the key.
    pub owner_account_id: &'a str,
}

/// The outcome of an access check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The caller may use the key.
    Allow,
    /// The key must look absent to the caller (no existence oracle).
    NotVisible,
}

/// Decides whether `principal` may see and use `resource`.
pub fn evaluate(principal: Principal<'_>, resource: Resource<'_>) -> Decision {
    if principal.account_id == resource.owner_account_id {
        Decision::Allow
    } else {
        Decision::NotVisible
    }
}

#[cfg(test)]
mod owner_tests {
    use super::*;

    #[test]
    fn only_the_owning_account() {
        let key = Resource {
            owner_account_id: "111122223333",
        };
        assert_eq!(
            evaluate(
                Principal {
                    account_id: "111122223333"
                },
                key
            ),
            Decision::Allow
        );
        assert_eq!(
            evaluate(
                Principal {
                    account_id: "444455556666"
                },
                key
            ),
            Decision::NotVisible
        );
    }
}
