//! Which statements cover an action. Actions that hand key material out of
//! the service are allowed only by a statement that names them exactly:
//! `kms:*`, `kms:Suspend*`, `NotAction` and every other wildcard never
//! allow them (docs/policies.md), while any matching Deny still denies.

use crate::document::{Effect, Statement};
use crate::glob::glob_match;

/// Actions that release key material (or decide who can receive it), and
/// so are never allowed by a wildcard (docs/extensions.md).
pub const EXPLICIT_ONLY_ACTIONS: [&str; 4] = [
    "kms:SuspendKey",
    "kms:UpdateSuspensionOwner",
    "kms:ExposeKeyMaterial",
    "kms:RevealDerivedKey",
];

/// Whether `action` is allowed only by a statement naming it exactly.
pub fn requires_explicit_allow(action: &str) -> bool {
    EXPLICIT_ONLY_ACTIONS
        .iter()
        .any(|a| a.eq_ignore_ascii_case(action))
}

/// Whether statement `s` covers `action` (before principals, resources and
/// conditions).
pub(crate) fn covers_action(s: &Statement, action: &str) -> bool {
    if s.effect == Effect::Allow && requires_explicit_allow(action) {
        return !s.not_action && s.actions.iter().any(|a| a.eq_ignore_ascii_case(action));
    }
    s.actions.iter().any(|a| glob_match(a, action, true)) != s.not_action
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PolicyDocument;

    fn statements(effect: &str, action: &str) -> Vec<Statement> {
        PolicyDocument::parse(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"{effect}","Principal":"*",{action},"Resource":"*"}}]}}"#
        ))
        .unwrap()
        .statements
    }

    #[test]
    fn wildcards_and_not_action_never_allow_material_release() {
        // (pattern, whether it still allows an ordinary action)
        for (pattern, ordinary) in [
            (r#""Action":"kms:*""#, true),
            (r#""Action":"*""#, true),
            (r#""Action":"kms:*Key""#, true),
            (r#""NotAction":"kms:Encrypt""#, true),
            (r#""Action":"kms:Suspend*""#, false),
            (r#""Action":"kms:?uspendKey""#, false),
        ] {
            let s = &statements("Allow", pattern)[0];
            for a in EXPLICIT_ONLY_ACTIONS {
                assert!(!covers_action(s, a), "{pattern} allowed {a}");
            }
            assert_eq!(covers_action(s, "kms:DisableKey"), ordinary, "{pattern}");
        }
    }

    #[test]
    fn naming_the_action_allows_it_in_any_case() {
        let s = &statements("Allow", r#""Action":["kms:Encrypt","KMS:suspendkey"]"#)[0];
        assert!(covers_action(s, "kms:SuspendKey"));
        assert!(!covers_action(s, "kms:ExposeKeyMaterial"));
    }

    #[test]
    fn a_wildcard_deny_still_denies_material_release() {
        for pattern in [r#""Action":"kms:*""#, r#""NotAction":"kms:Encrypt""#] {
            let s = &statements("Deny", pattern)[0];
            for a in EXPLICIT_ONLY_ACTIONS {
                assert!(covers_action(s, a), "{pattern} did not deny {a}");
            }
        }
    }
}
