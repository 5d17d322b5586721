//! Statements: deny overrides, Not* elements, service and account
//! principals, identity policies.

use super::*;

#[test]
fn deny_overrides_allow_and_not_elements() {
    let p = PolicyDocument::parse(&format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Sid":"all","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:root"}},"Action":"kms:*","Resource":"*"}},
            {{"Sid":"no-decrypt-for-alice","Effect":"Deny","Principal":{{"AWS":"arn:aws:iam::111122223333:user/alice"}},"Action":"kms:Decrypt","Resource":"{KEY}"}}
        ]}}"#
    ))
    .unwrap();
    let none = ConditionValues::new();
    assert_eq!(decide(&p, "kms:Encrypt", &none), PolicyDecision::Allow);
    assert_eq!(
        decide(&p, "kms:Decrypt", &none),
        PolicyDecision::ExplicitDeny
    );
    assert_eq!(
        decide(&p, "KMS:decrypt", &none),
        PolicyDecision::ExplicitDeny,
        "actions are case-insensitive"
    );
    // Another account matches nothing.
    let other = RequestContext {
        principal_arn: "arn:aws:iam::444455556666:root",
        account_id: "444455556666",
        ..ctx("kms:Encrypt", &none)
    };
    assert_eq!(evaluate_policy(&p, &other), PolicyDecision::NoMatch);

    let not = PolicyDocument::parse(
        r#"{"Statement":[
            {"Effect":"Allow","Principal":"*","NotAction":["kms:Decrypt","kms:ReEncrypt*"],"Resource":"*"},
            {"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"kms:*","Resource":"*"}
        ]}"#,
    )
    .unwrap();
    assert_eq!(
        decide(&not, "kms:GenerateDataKey", &none),
        PolicyDecision::Allow
    );
    assert_eq!(
        decide(&not, "kms:ReEncryptFrom", &none),
        PolicyDecision::NoMatch
    );
    assert_eq!(
        evaluate_policy(&not, &other),
        PolicyDecision::ExplicitDeny,
        "NotPrincipal: everyone else is denied"
    );

    let res = PolicyDocument::parse(
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Gen*","NotResource":"arn:aws:kms:*:*:key/secret-*"}]}"#,
    )
    .unwrap();
    assert_eq!(
        decide(&res, "kms:GenerateMac", &none),
        PolicyDecision::Allow
    );
    assert_eq!(decide(&res, "kms:Encrypt", &none), PolicyDecision::NoMatch);
}

#[test]
fn service_principals_and_the_default_policy() {
    let p = PolicyDocument::parse(
        r#"{"Statement":[{"Effect":"Allow","Principal":{"Service":"objects.strongroom.local"},"Action":["kms:Encrypt","kms:GenerateDataKey"],"Resource":"*"}]}"#,
    )
    .unwrap();
    let none = ConditionValues::new();
    let svc = RequestContext {
        service: Some("objects.strongroom.local"),
        ..ctx("kms:GenerateDataKey", &none)
    };
    assert_eq!(evaluate_policy(&p, &svc), PolicyDecision::Allow);
    assert_eq!(
        evaluate_policy(
            &p,
            &RequestContext {
                action: "kms:Decrypt",
                ..svc
            }
        ),
        PolicyDecision::NoMatch
    );
    assert_eq!(
        decide(&p, "kms:Encrypt", &none),
        PolicyDecision::NoMatch,
        "not the service"
    );

    let d = PolicyDocument::parse(&default_policy("111122223333")).unwrap();
    assert_eq!(decide(&d, "kms:PutKeyPolicy", &none), PolicyDecision::Allow);
    let other = RequestContext {
        principal_arn: "arn:aws:iam::444455556666:root",
        account_id: "444455556666",
        ..ctx("kms:Encrypt", &none)
    };
    assert_eq!(evaluate_policy(&d, &other), PolicyDecision::NoMatch);
}

#[test]
fn account_principals_delegate_to_identity_policies() {
    use KeyPolicyDecision::*;
    let v = ConditionValues::new();
    let at = |principal: &'static str| RequestContext {
        principal_arn: principal,
        account_id: "111122223333",
        service: None,
        action: "kms:Encrypt",
        resource: "arn:aws:kms:us-east-1:111122223333:key/k",
        conditions: &v,
    };
    let by_account = PolicyDocument::parse(&default_policy("111122223333")).unwrap();
    assert_eq!(
        evaluate_key_policy(&by_account, &at("arn:aws:iam::111122223333:root")),
        AllowDirect
    );
    assert_eq!(
        evaluate_key_policy(&by_account, &at("arn:aws:iam::111122223333:user/alice")),
        AllowViaAccount
    );
    let named = PolicyDocument::parse(
        r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:user/alice"},"Action":"kms:Encrypt","Resource":"*"},
                         {"Effect":"Deny","Principal":{"AWS":"111122223333"},"Action":"kms:Decrypt","Resource":"*"}]}"#,
    )
    .unwrap();
    assert_eq!(
        evaluate_key_policy(&named, &at("arn:aws:iam::111122223333:user/alice")),
        AllowDirect
    );
    assert_eq!(
        evaluate_key_policy(&named, &at("arn:aws:iam::111122223333:user/bob")),
        NoMatch
    );
    // A Deny for the account covers every principal in it.
    let decrypt = RequestContext {
        action: "kms:Decrypt",
        ..at("arn:aws:iam::111122223333:user/alice")
    };
    assert_eq!(evaluate_key_policy(&named, &decrypt), ExplicitDeny);
}

#[test]
fn identity_policies_have_no_principal_and_any_service() {
    let p = PolicyDocument::parse_identity(
        r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":["kms:Encrypt","s3:GetObject"],"Resource":"arn:aws:kms:*:111122223333:key/*"}]}"#,
    )
    .unwrap();
    let v = ConditionValues::new();
    let c = RequestContext {
        principal_arn: "arn:aws:iam::111122223333:user/alice",
        account_id: "111122223333",
        service: None,
        action: "kms:Encrypt",
        resource: "arn:aws:kms:us-east-1:111122223333:key/k",
        conditions: &v,
    };
    assert_eq!(evaluate_policy(&p, &c), PolicyDecision::Allow);
    let other = RequestContext {
        resource: "arn:aws:kms:us-east-1:444455556666:key/k",
        ..c
    };
    assert_eq!(evaluate_policy(&p, &other), PolicyDecision::NoMatch);
    let e = PolicyDocument::parse_identity(
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}"#,
    )
    .unwrap_err();
    assert!(e.0.contains("cannot have a Principal"), "{}", e.0);
    assert!(PolicyDocument::parse(
        r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}"#
    )
    .is_err());
}
