//! Malformed documents are refused, saying why.

use super::*;

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
            r#"{"Statement":{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{"StringNotEqual":{"k":"v"}}}}"#,
            "unknown condition operator StringNotEqual",
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

/// Policy values are checked for their operator when the policy is parsed:
/// a value that can never match would make a Deny silently inert.
#[test]
fn condition_values_are_checked_for_their_operator() {
    let with = |cond: &str| {
        PolicyDocument::parse(&format!(
            r#"{{"Statement":{{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{cond}}}}}"#
        ))
    };
    for (cond, why) in [
        (
            r#"{"NumericLessThan":{"kms:ExpirationDays":"ten"}}"#,
            "not a valid number",
        ),
        (
            r#"{"NumericEquals":{"kms:ExpirationDays":"NaN"}}"#,
            "not a valid number",
        ),
        (
            r#"{"DateGreaterThan":{"aws:CurrentTime":"tomorrow"}}"#,
            "not a valid date",
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/33"}}"#,
            "IP address",
        ),
        (
            r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.300"}}"#,
            "IP address",
        ),
        (
            r#"{"IpAddress":{"aws:SourceIp":"10.0.0.0/"}}"#,
            "IP address",
        ),
        (r#"{"Bool":{"aws:SecureTransport":"yes"}}"#, "boolean"),
        (r#"{"Null":{"kms:EncryptionContext:k":"maybe"}}"#, "boolean"),
        (
            r#"{"StringNotEquals":{"kms:EncryptionContext:k":[]}}"#,
            "no values",
        ),
        (r#"{"StringEquals":{"":"v"}}"#, "empty key"),
        (
            r#"{"StringEquals":{"k":{"nested":"v"}}}"#,
            "strings, numbers or booleans",
        ),
        (r#"{"StringEquals":"v"}"#, "must map keys to values"),
        (r#"["StringEquals"]"#, "Condition must be an object"),
        (
            r#"{"NullIfExists":{"k":"true"}}"#,
            "unknown condition operator",
        ),
        (r#"{"ForAnyValue:Null":{"k":"true"}}"#, "no set qualifier"),
        (
            r#"{"BinaryNotEquals":{"k":"QUJD"}}"#,
            "unknown condition operator",
        ),
    ] {
        let err = with(cond).unwrap_err();
        assert!(err.0.contains(why), "{cond}: {err}");
    }
    for ok in [
        r#"{"NumericLessThan":{"kms:ExpirationDays":10}}"#,
        r#"{"NumericLessThan":{"kms:ExpirationDays":"-1.5"}}"#,
        r#"{"DateLessThan":{"aws:CurrentTime":"2027-01-01T00:00:00Z"}}"#,
        r#"{"DateLessThan":{"aws:CurrentTime":"1795000000"}}"#,
        r#"{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32","127.0.0.1"]}}"#,
        r#"{"Bool":{"aws:SecureTransport":false}}"#,
        r#"{"StringNotEqualsIfExists":{"kms:EncryptionContext:k":"v"}}"#,
        r#"{"ForAnyValue:StringLike":{"kms:EncryptionContextKeys":["a*",""]}}"#,
        r#"{"StringEquals":{}}"#,
    ] {
        with(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
}

/// Found by the `policy_document` fuzz target: a number written in two
/// ways that denote the same value must parse to the same document
/// (serde_json's default float parsing was off by one unit in the last
/// place for some inputs; `float_roundtrip` makes it exact).
#[test]
fn a_condition_number_parses_the_same_however_it_is_written() {
    let doc = |n: &str| {
        PolicyDocument::parse(&format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":"*","Action":"kms:*","Resource":"*","Condition":{{"NumericLessThan":{{"kms:x":{n}}}}}}}]}}"#
        ))
        .unwrap()
    };
    let written = doc("2.2222222222222223e+107");
    let reprinted: serde_json::Value = serde_json::from_str("2.2222222222222223e+107").unwrap();
    assert_eq!(written, doc(&reprinted.to_string()));
    assert_eq!(written, doc("22222222222222223e+91"));
}
