//! Authorization decisions without a server: the operation table's rows,
//! the request context (halves, contexts), keys, aliases, keyless
//! operations and grants.

use std::sync::Arc;

use strongroom_policy::PolicyDocument;
use strongroom_store::{GrantRecord, KeyRecord};
use uuid::Uuid;

use super::operations::{self, Resources, Route};
use super::request::Decisions;
use super::*;
use crate::auth::Caller;
use crate::identity::{Identity, IdentityKind};
use crate::ops::OPERATIONS;
use crate::region::Region;

const OWNER: &str = "111122223333";
const OTHER: &str = "444455556666";

fn row(name: &str) -> &'static operations::Operation {
    operations::find(OPERATIONS, name).unwrap()
}

fn user(account: &str, name: &str, policy: Option<&str>) -> Caller {
    let arn = format!("arn:aws:iam::{account}:user/{name}");
    Caller {
        account_id: account.into(),
        access_key_id: "AKIDTEST".into(),
        identity: Arc::new(Identity {
            kind: IdentityKind::User,
            session_arn: arn.clone(),
            arn,
            tags: Vec::new(),
            policy: policy.map(|p| Arc::new(PolicyDocument::parse_identity(p).unwrap())),
            service_name: None,
        }),
        via_service: None,
        region: Region::aws_default(),
    }
}

fn key(account: &str, policy: Option<&str>) -> KeyRecord {
    KeyRecord {
        current_version: 1,
        policy: policy.map(str::to_owned),
        ..KeyRecord::symmetric(
            Uuid::new_v4(),
            account,
            &Region::aws_default().to_string(),
            0,
        )
    }
}

fn arn_of(k: &KeyRecord) -> String {
    crate::arn::key_arn("us-east-1", &k.account_id, k.id)
}

fn allow(rq: &RequestCtx<'_>, k: &KeyRecord, grants: &[GrantRecord]) -> bool {
    authorize(&PolicyCache::default(), rq, k, &arn_of(k), grants).is_ok()
}

fn grant(grantee: &str, ops: &[&str], subset: Option<(&str, &str)>) -> GrantRecord {
    GrantRecord {
        grant_id: "g".repeat(64),
        key_id: Uuid::new_v4(),
        key_account_id: OWNER.into(),
        name: None,
        grantee: grantee.into(),
        retiring: None,
        operations: ops.iter().map(|o| o.to_string()).collect(),
        context_equals: None,
        context_subset: subset.map(|(k, v)| vec![(k.into(), v.into())]),
        issuing_account: OWNER.into(),
        created_at: 0,
        token: String::new(),
    }
}

fn context(pairs: &[(&str, &str)]) -> Option<crate::protocol::EncryptionContext> {
    Some(
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

#[test]
fn every_row_has_a_kms_action_and_consistent_flags() {
    let mut names = std::collections::HashSet::new();
    for op in OPERATIONS {
        assert!(names.insert(op.name), "{} has two rows", op.name);
        assert_eq!(op.action, format!("kms:{}", op.name));
        // Key pairs have their two halves; any other row's separately
        // decided actions are material-release companions that kms:*
        // never grants.
        if op.resources == Resources::KeyPair {
            assert_eq!(op.halves.len(), 2, "{}: a key pair has two halves", op.name);
        } else {
            // Multi-Region keys: the same request decided once more for the
            // other region's key (docs/keys.md, "Multi-Region keys").
            const OTHER_REGION: &[(&str, &str)] = &[
                ("ReplicateKey", "kms:CreateKey"),
                ("UpdatePrimaryRegion", "kms:UpdatePrimaryRegion"),
            ];
            for a in op.halves {
                assert!(
                    strongroom_policy::requires_explicit_allow(a)
                        || OTHER_REGION.contains(&(op.name, *a)),
                    "{}: {a} is neither a half nor a material-release action",
                    op.name
                );
            }
        }
        if op.route == Route::Unsupported {
            assert!(op.is_keyless(), "{} unsupported but not keyless", op.name);
        }
        if op.is_keyless() {
            assert!(
                op.grant_operations.is_empty(),
                "{}: grants need a key",
                op.name
            );
        }
    }
}

#[test]
fn grant_operations_are_awss_enum() {
    let mut ops = crate::ops::grant_operations();
    ops.sort_unstable();
    let mut aws = vec![
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "ReEncryptFrom",
        "ReEncryptTo",
        "Sign",
        "Verify",
        "GetPublicKey",
        "CreateGrant",
        "RetireGrant",
        "DescribeKey",
        "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
        "GenerateMac",
        "VerifyMac",
        "DeriveSharedSecret",
    ];
    aws.sort_unstable();
    assert_eq!(ops, aws);
}

#[test]
fn decisions_cover_only_what_the_row_names() {
    let none = Decisions::default();
    for r in [
        Resources::Keyless,
        Resources::Key,
        Resources::KeyPair,
        Resources::AliasAndKeys,
        Resources::Grant,
    ] {
        assert!(!none.cover(r), "{r:?} covered by no decision");
    }
    let key_only = Decisions {
        keys: 2,
        ..Decisions::default()
    };
    assert!(key_only.cover(Resources::Key));
    assert!(
        !key_only.cover(Resources::AliasAndKeys),
        "alias not decided"
    );
    assert!(!key_only.cover(Resources::KeyPair), "two keys in one half");
    assert!(!key_only.cover(Resources::Keyless));
}

#[test]
fn root_fast_path_needs_the_owning_account() {
    let root = Caller::root(OWNER, "AK", Region::aws_default());
    let rq = RequestCtx::new(&root, RequestMeta::default(), row("Encrypt"));
    assert!(allow(&rq, &key(OWNER, None), &[]));
    assert!(!allow(&rq, &key(OTHER, None), &[]));
}

#[test]
fn user_without_identity_policy_is_denied_by_the_default_policy() {
    let bob = user(OWNER, "bob", None);
    let rq = RequestCtx::new(&bob, RequestMeta::default(), row("Encrypt"));
    let e = authorize(&PolicyCache::default(), &rq, &key(OWNER, None), "k", &[]).unwrap_err();
    assert!(matches!(e, KmsError::AccessDenied(_)));
}

#[test]
fn keyless_operations_refuse_non_root_without_identity_policy() {
    let bob = user(OWNER, "bob", None);
    for op in OPERATIONS.iter().filter(|o| o.is_keyless()) {
        let mut rq = RequestCtx::new(&bob, RequestMeta::default(), op);
        let e = authorize_keyless(&mut rq).unwrap_err();
        assert!(matches!(e, KmsError::AccessDenied(_)), "{}", op.name);
        assert!(!rq.decisions().cover(Resources::Keyless));
    }
    let allowed = user(
        OWNER,
        "alice",
        Some(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:ListKeys","Resource":"*"}]}"#,
        ),
    );
    let mut rq = RequestCtx::new(&allowed, RequestMeta::default(), row("ListKeys"));
    authorize_keyless(&mut rq).unwrap();
    assert!(rq.decisions().cover(Resources::Keyless));
    let mut rq = RequestCtx::new(&allowed, RequestMeta::default(), row("CreateKey"));
    assert!(authorize_keyless(&mut rq).is_err());
}

#[test]
fn alias_needs_an_identity_policy_on_the_alias_arn() {
    let alias = "arn:aws:kms:us-east-1:111122223333:alias/app";
    let bob = user(OWNER, "bob", None);
    let mut rq = RequestCtx::new(&bob, RequestMeta::default(), row("DeleteAlias"));
    assert!(matches!(
        authorize_alias(&mut rq, alias),
        Err(KmsError::AccessDenied(_))
    ));
    let other_alias = user(
        OWNER,
        "carol",
        Some(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:DeleteAlias","Resource":"arn:aws:kms:*:*:alias/mine-*"}]}"#,
        ),
    );
    let mut rq = RequestCtx::new(&other_alias, RequestMeta::default(), row("DeleteAlias"));
    assert!(authorize_alias(&mut rq, alias).is_err());
    authorize_alias(&mut rq, "arn:aws:kms:us-east-1:111122223333:alias/mine-x").unwrap();
    assert_eq!(rq.decisions().aliases, 1);
    let root = Caller::root(OWNER, "AK", Region::aws_default());
    let mut rq = RequestCtx::new(&root, RequestMeta::default(), row("UpdateAlias"));
    authorize_alias(&mut rq, alias).unwrap();
}

#[test]
fn re_encrypt_halves_see_only_their_own_context() {
    let root = Caller::root(OWNER, "AK", Region::aws_default());
    let rq = RequestCtx::new(&root, RequestMeta::default(), row("ReEncrypt"));
    let from = rq
        .half("kms:ReEncryptFrom", &context(&[("src", "1")]))
        .unwrap();
    let to = rq
        .half("kms:ReEncryptTo", &context(&[("dst", "2")]))
        .unwrap();
    assert_eq!(from.action(), "kms:ReEncryptFrom");
    let fc = from.conditions();
    assert_eq!(fc["kms:encryptioncontext:src"], vec!["1".to_string()]);
    assert!(!fc.contains_key("kms:encryptioncontext:dst"));
    assert_eq!(fc["kms:encryptioncontextkeys"], vec!["src".to_string()]);
    let tc = to.conditions();
    assert!(!tc.contains_key("kms:encryptioncontext:src"));
    assert_eq!(tc["kms:encryptioncontextkeys"], vec!["dst".to_string()]);
}

#[test]
fn source_policy_conditioned_on_destination_only_key_is_not_fooled() {
    // Deny ReEncryptFrom unless the context carries `dst`: a source half
    // must not see the destination's `dst`.
    let policy = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},
        {"Effect":"Deny","Principal":"*","Action":"kms:ReEncryptFrom","Resource":"*",
         "Condition":{"Null":{"kms:EncryptionContext:dst":"false"}}}]}"#;
    let k = key(OWNER, Some(policy));
    let root = Caller::root(OWNER, "AK", Region::aws_default());
    let rq = RequestCtx::new(&root, RequestMeta::default(), row("ReEncrypt"));
    let from = rq
        .half("kms:ReEncryptFrom", &context(&[("src", "1")]))
        .unwrap();
    assert!(
        allow(&from, &k, &[]),
        "destination context leaked into source"
    );
    let from_with_dst = rq
        .half("kms:ReEncryptFrom", &context(&[("dst", "1")]))
        .unwrap();
    assert!(!allow(&from_with_dst, &k, &[]));
}

#[test]
fn halves_and_contexts_only_where_the_row_says() {
    let root = Caller::root(OWNER, "AK", Region::aws_default());
    let rq = RequestCtx::new(&root, RequestMeta::default(), row("Encrypt"));
    assert!(rq.half("kms:ReEncryptFrom", &None).is_err());
    let rq = RequestCtx::new(&root, RequestMeta::default(), row("ReEncrypt"));
    assert!(rq.half("kms:Decrypt", &None).is_err());
    let mut rq = RequestCtx::new(&root, RequestMeta::default(), row("Sign"));
    assert!(rq.note_context(&context(&[("a", "b")])).is_err());
}

#[test]
fn grants_apply_per_half_with_their_own_context() {
    let bob = user(OWNER, "bob", None);
    let k = key(OWNER, None);
    let g = grant(&bob.identity.arn, &["ReEncryptFrom"], Some(("tenant", "a")));
    let rq = RequestCtx::new(&bob, RequestMeta::default(), row("ReEncrypt"));
    let from = rq
        .half("kms:ReEncryptFrom", &context(&[("tenant", "a")]))
        .unwrap();
    assert!(allow(&from, &k, std::slice::from_ref(&g)));
    let from_b = rq
        .half("kms:ReEncryptFrom", &context(&[("tenant", "b")]))
        .unwrap();
    assert!(!allow(&from_b, &k, std::slice::from_ref(&g)));
    let to = rq
        .half("kms:ReEncryptTo", &context(&[("tenant", "a")]))
        .unwrap();
    assert!(
        !allow(&to, &k, &[g]),
        "a ReEncryptFrom grant is not ReEncryptTo"
    );
}

#[test]
fn grant_constraints_bind_only_operations_with_a_context() {
    let g = grant("p", &["Encrypt", "DescribeKey"], Some(("t", "a")));
    assert!(!grant_allows(&g, "p", "kms:Encrypt", None));
    assert!(grant_allows(&g, "p", "kms:DescribeKey", None));
    assert!(!grant_allows(&g, "q", "kms:DescribeKey", None));
    assert!(!grant_allows(&g, "p", "kms:Decrypt", None));
}

#[test]
fn cross_account_refusal_names_only_the_given_arn() {
    let bob = user(OTHER, "bob", None);
    let rq = RequestCtx::new(&bob, RequestMeta::default(), row("Encrypt"));
    let arn = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000";
    let KmsError::AccessDenied(m) = cross_account_denied(&rq, arn) else {
        panic!("not AccessDenied")
    };
    assert!(m.contains(arn) && m.contains("kms:Encrypt"), "{m}");
}

#[test]
fn retire_needs_the_retiring_or_grantee_principal_or_issuer() {
    let bob = user(OWNER, "bob", None);
    let mut rq = RequestCtx::new(&bob, RequestMeta::default(), row("RetireGrant"));
    let g = grant("arn:aws:iam::111122223333:user/alice", &["Encrypt"], None);
    let arn = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-0000-0000-000000000000";
    assert!(authorize_retire(&mut rq, &g, arn).is_err());
    let mut mine = g.clone();
    mine.retiring = Some(bob.identity.arn.clone());
    authorize_retire(&mut rq, &mine, arn).unwrap();
    assert!(rq.decisions().cover(Resources::Grant));
    // Its records name the grant's key, and its change may touch it.
    assert_eq!(rq.authorized_keys(), [mine.key_id]);
    assert_eq!(rq.into_audit().key_arns, [arn]);
}

#[test]
fn context_keys_differing_only_in_case_cannot_hide_one_another() {
    // {"Tenant":"b","tenant":"a"} would show a policy only one of them.
    let root = Caller::root(OWNER, "AK", Region::aws_default());
    let mut rq = RequestCtx::new(&root, RequestMeta::default(), row("Encrypt"));
    let r = rq.note_context(&context(&[("Tenant", "b"), ("tenant", "a")]));
    assert!(matches!(r, Err(KmsError::Validation(_))), "{r:?}");
    assert!(rq.context().is_none(), "nothing was recorded");
    rq.note_context(&context(&[("Tenant", "b"), ("other", "a")]))
        .unwrap();
}
