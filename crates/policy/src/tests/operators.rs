//! Every operator with a key present: the comparison each one makes.

use super::*;

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
fn arn_wildcards_match_within_one_part() {
    let p = allow_with(r#"{"ArnLike":{"aws:PrincipalArn":"arn:aws:kms:*:111122223333:key/*"}}"#);
    let holds = |arn: &str| {
        decide(&p, "kms:Encrypt", &values(&[("aws:PrincipalArn", &[arn])])) == PolicyDecision::Allow
    };
    assert!(holds("arn:aws:kms:us-east-1:111122223333:key/abc"));
    assert!(holds("arn:aws:kms:us-east-1:111122223333:key/a:b"));
    // As one string, `*` would span "evil:999999999999:key/x".
    assert!(!holds(
        "arn:aws:kms:evil:999999999999:key/x:111122223333:key/y"
    ));
    assert!(!holds("arn:aws:kms:us-east-1:111122223333"));
    assert!(!holds("not an arn"));
    // A pattern that is not an ARN is matched as a whole.
    let any = allow_with(r#"{"ArnLike":{"aws:PrincipalArn":"*"}}"#);
    assert_eq!(
        decide(
            &any,
            "kms:Encrypt",
            &values(&[("aws:PrincipalArn", &["arn:aws:iam::1:root"])])
        ),
        PolicyDecision::Allow
    );
    // ArnEquals takes wildcards too, as in AWS.
    let eq = allow_with(r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:user/*"}}"#);
    assert_eq!(
        decide(
            &eq,
            "kms:Encrypt",
            &values(&[(
                "aws:PrincipalArn",
                &["arn:aws:iam::111122223333:user/alice"]
            )])
        ),
        PolicyDecision::Allow
    );
}

#[test]
fn operators_are_parsed_once_into_their_parts() {
    let p = allow_with(
        r#"{"ForAllValues:StringNotLikeIfExists":{"kms:EncryptionContextKeys":"tmp-*"}}"#,
    );
    let c = &p.statements[0].conditions[0];
    assert_eq!(
        c.operator,
        ConditionOperator {
            comparison: Comparison::StringLike,
            negated: true,
            if_exists: true,
            set: Some(SetQualifier::ForAllValues),
        }
    );
    assert_eq!(c.key, "kms:encryptioncontextkeys");
    assert_eq!(c.values, vec!["tmp-*".to_string()]);
    assert_eq!(c.operator.to_string(), "ForAllValues:StringNotLikeIfExists");
}
