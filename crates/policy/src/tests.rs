//! Table tests of the policy language: operators, qualifiers, deny
//! overrides, Not* elements, wildcards, and malformed documents.

use crate::*;

const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

fn ctx<'a>(action: &'a str, conditions: &'a ConditionValues) -> RequestContext<'a> {
    RequestContext {
        principal_arn: "arn:aws:iam::111122223333:user/alice",
        account_id: "111122223333",
        service: None,
        action,
        resource: KEY,
        conditions,
    }
}

fn values(pairs: &[(&str, &[&str])]) -> ConditionValues {
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

fn allow_with(condition: &str) -> PolicyDocument {
    PolicyDocument::parse(&format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{condition}}}]}}"#
    ))
    .unwrap()
}

fn decide(p: &PolicyDocument, action: &str, v: &ConditionValues) -> PolicyDecision {
    evaluate_policy(p, &ctx(action, v))
}

/// (condition block, request values, expected decision).
type Case = (
    &'static str,
    &'static [(&'static str, &'static [&'static str])],
    PolicyDecision,
);

#[test]
fn every_operator() {
    use PolicyDecision::*;
    let cases: &[Case] = &[
        (
            r#"{"StringEquals":{"kms:CallerAccount":"111122223333"}}"#,
            &[("kms:CallerAccount", &["111122223333"])],
            Allow,
        ),
        (
            r#"{"StringEquals":{"kms:CallerAccount":"111122223333"}}"#,
            &[("kms:CallerAccount", &["999999999999"])],
            NoMatch,
        ),
        (
            r#"{"StringNotEquals":{"kms:CallerAccount":"999999999999"}}"#,
            &[("kms:CallerAccount", &["111122223333"])],
            Allow,
        ),
        (
            r#"{"StringEqualsIgnoreCase":{"kms:EncryptionContext:Dept":"SALES"}}"#,
            &[("kms:EncryptionContext:dept", &["sales"])],
            Allow,
        ),
        (
            r#"{"StringNotEqualsIgnoreCase":{"kms:EncryptionContext:Dept":"SALES"}}"#,
            &[("kms:EncryptionContext:dept", &["sales"])],
            NoMatch,
        ),
        (
            r#"{"StringLike":{"kms:RequestAlias":"alias/app-*"}}"#,
            &[("kms:RequestAlias", &["alias/app-prod"])],
            Allow,
        ),
        (
            r#"{"StringNotLike":{"kms:RequestAlias":"alias/app-*"}}"#,
            &[("kms:RequestAlias", &["alias/app-prod"])],
            NoMatch,
        ),
        (
            r#"{"NumericLessThan":{"kms:ExpirationDays":"10"}}"#,
            &[("kms:ExpirationDays", &["9"])],
            Allow,
        ),
        (
            r#"{"NumericLessThanEquals":{"kms:ExpirationDays":"10"}}"#,
            &[("kms:ExpirationDays", &["10"])],
            Allow,
        ),
        (
            r#"{"NumericGreaterThan":{"kms:ExpirationDays":10}}"#,
            &[("kms:ExpirationDays", &["10"])],
            NoMatch,
        ),
        (
            r#"{"NumericGreaterThanEquals":{"kms:ExpirationDays":"10"}}"#,
            &[("kms:ExpirationDays", &["10.0"])],
            Allow,
        ),
        (
            r#"{"NumericEquals":{"kms:ExpirationDays":"10"}}"#,
            &[("kms:ExpirationDays", &["ten"])],
            NoMatch,
        ),
        (
            r#"{"NumericNotEquals":{"kms:ExpirationDays":"10"}}"#,
            &[("kms:ExpirationDays", &["11"])],
            Allow,
        ),
        (
            r#"{"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}"#,
            &[("aws:CurrentTime", &["2026-11-28T12:00:00Z"])],
            Allow,
        ),
        (
            r#"{"DateGreaterThan":{"aws:CurrentTime":"2027-01-01"}}"#,
            &[("aws:CurrentTime", &["2026-11-28T12:00:00Z"])],
            NoMatch,
        ),
        (
            r#"{"DateEquals":{"aws:CurrentTime":"1795000000"}}"#,
            &[("aws:CurrentTime", &["1795000000"])],
            Allow,
        ),
        (
            r#"{"DateNotEquals":{"aws:CurrentTime":"1795000000"}}"#,
            &[("aws:CurrentTime", &["1795000001"])],
            Allow,
        ),
        (
            r#"{"DateLessThanEquals":{"aws:CurrentTime":"2026-11-28T12:00:00Z"}}"#,
            &[("aws:CurrentTime", &["2026-11-28T12:00:00Z"])],
            Allow,
        ),
        (
            r#"{"DateGreaterThanEquals":{"aws:CurrentTime":"2026-11-28T12:00:01Z"}}"#,
            &[("aws:CurrentTime", &["2026-11-28T12:00:00Z"])],
            NoMatch,
        ),
        (
            r#"{"Bool":{"aws:SecureTransport":"true"}}"#,
            &[("aws:SecureTransport", &["true"])],
            Allow,
        ),
        (
            r#"{"Bool":{"aws:SecureTransport":true}}"#,
            &[("aws:SecureTransport", &["false"])],
            NoMatch,
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            &[("aws:SourceIp", &["10.1.2.3"])],
            Allow,
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":["192.168.0.0/16","10.0.0.0/8"]}}"#,
            &[("aws:SourceIp", &["172.16.0.1"])],
            NoMatch,
        ),
        (
            r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            &[("aws:SourceIp", &["172.16.0.1"])],
            Allow,
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}"#,
            &[("aws:SourceIp", &["2001:db8::1"])],
            Allow,
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":"127.0.0.1"}}"#,
            &[("aws:SourceIp", &["127.0.0.1"])],
            Allow,
        ),
        (
            r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/alice"}}"#,
            &[(
                "aws:PrincipalArn",
                &["arn:aws:iam::111122223333:user/alice"],
            )],
            Allow,
        ),
        (
            r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}}"#,
            &[(
                "aws:PrincipalArn",
                &["arn:aws:iam::111122223333:user/alice"],
            )],
            NoMatch,
        ),
        (
            r#"{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/*"}}"#,
            &[(
                "aws:PrincipalArn",
                &["arn:aws:iam::111122223333:user/alice"],
            )],
            Allow,
        ),
        (
            r#"{"ArnNotEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/bob"}}"#,
            &[(
                "aws:PrincipalArn",
                &["arn:aws:iam::111122223333:user/alice"],
            )],
            Allow,
        ),
        (
            r#"{"Null":{"kms:EncryptionContext:Dept":"true"}}"#,
            &[],
            Allow,
        ),
        (
            r#"{"Null":{"kms:EncryptionContext:Dept":"false"}}"#,
            &[],
            NoMatch,
        ),
        (
            r#"{"Null":{"kms:EncryptionContext:Dept":"false"}}"#,
            &[("kms:EncryptionContext:Dept", &["x"])],
            Allow,
        ),
        // Absent keys fail, unless IfExists.
        (
            r#"{"StringEquals":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}"#,
            &[],
            NoMatch,
        ),
        (
            r#"{"StringEqualsIfExists":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}"#,
            &[],
            Allow,
        ),
        (
            r#"{"StringEqualsIfExists":{"kms:ViaService":"s3.us-east-1.amazonaws.com"}}"#,
            &[("kms:ViaService", &["ec2.us-east-1.amazonaws.com"])],
            NoMatch,
        ),
        // Set qualifiers over multi-valued keys.
        (
            r#"{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["Dept","Project"]}}"#,
            &[("kms:EncryptionContextKeys", &["Project", "Owner"])],
            Allow,
        ),
        (
            r#"{"ForAnyValue:StringEquals":{"kms:EncryptionContextKeys":["Dept"]}}"#,
            &[("kms:EncryptionContextKeys", &["Owner"])],
            NoMatch,
        ),
        (
            r#"{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["Dept","Project"]}}"#,
            &[("kms:EncryptionContextKeys", &["Project", "Dept"])],
            Allow,
        ),
        (
            r#"{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["Dept","Project"]}}"#,
            &[("kms:EncryptionContextKeys", &["Project", "Owner"])],
            NoMatch,
        ),
        (
            r#"{"ForAllValues:StringEquals":{"kms:EncryptionContextKeys":["Dept"]}}"#,
            &[],
            Allow,
        ),
        (
            r#"{"ForAnyValue:StringLike":{"kms:EncryptionContextKeys":"Pro*"}}"#,
            &[("kms:EncryptionContextKeys", &["Dept", "Project"])],
            Allow,
        ),
        // Condition keys are case-insensitive.
        (
            r#"{"StringEquals":{"KMS:CALLERACCOUNT":"111122223333"}}"#,
            &[("kms:calleraccount", &["111122223333"])],
            Allow,
        ),
    ];
    for (i, (cond, vals, want)) in cases.iter().enumerate() {
        let got = decide(&allow_with(cond), "kms:Encrypt", &values(vals));
        assert_eq!(got, *want, "case {i}: {cond} with {vals:?}");
    }
}

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
fn malformed_documents_say_why() {
    for (doc, why) in [
        ("not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        (r#"{"Statement":[]}"#, "non-empty"),
        (
            r#"{"Version":"2020-01-01","Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}"#,
            "Version",
        ),
        (
            r#"{"Statement":{"Effect":"Maybe","Principal":"*","Action":"kms:*","Resource":"*"}}"#,
            "Effect",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Action":"kms:*","Resource":"*"}}"#,
            "needs a Principal",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Resource":"*"}}"#,
            "needs an Action",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}}"#,
            "not a KMS action",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","NotAction":"kms:Decrypt","Resource":"*"}}"#,
            "both Action and NotAction",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"kms:*","Resource":"*"}}"#,
            "invalid principal",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringSortOf":{"k":"v"}}}}"#,
            "unknown condition operator",
        ),
        (
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*","Extra":1}}"#,
            "unknown statement element",
        ),
        (
            r#"{"Statement":[{"Sid":"a","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"},{"Sid":"a","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}]}"#,
            "duplicate Sid",
        ),
    ] {
        let err = PolicyDocument::parse(doc).unwrap_err();
        assert!(err.0.contains(why), "{doc}: {err}");
    }
    let big = format!(
        r#"{{"Statement":{{"Sid":"{}","Effect":"Allow","Principal":"*","Action":"kms:*","Resource":"*"}}}}"#,
        "x".repeat(MAX_POLICY_BYTES)
    );
    assert!(
        PolicyDocument::parse(&big)
            .unwrap_err()
            .0
            .contains("larger")
    );
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
