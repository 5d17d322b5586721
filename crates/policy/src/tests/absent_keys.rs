//! Absent, empty and multi-valued keys, for every operator and qualifier,
//! against AWS's documented rules (IAM User Guide: "Condition operators",
//! "Conditions with multiple context keys or values", "Single-valued vs.
//! multivalued context keys"):
//!
//! - an absent key fails a condition, but negated operators and
//!   `...IfExists` hold;
//! - several policy values are ORed, and NORed for negated operators;
//! - `ForAllValues:` holds on an absent key or an empty set, `ForAnyValue:`
//!   never does (with `IfExists` too).

use super::*;

/// One operator family: its positive name, its negated name (if AWS has
/// one), a policy value, a request value that matches it and one that
/// does not.
struct Family {
    positive: &'static str,
    negated: Option<&'static str>,
    policy: &'static str,
    hit: &'static str,
    miss: &'static str,
}

const fn family(
    positive: &'static str,
    negated: Option<&'static str>,
    policy: &'static str,
    hit: &'static str,
    miss: &'static str,
) -> Family {
    Family {
        positive,
        negated,
        policy,
        hit,
        miss,
    }
}

const FAMILIES: &[Family] = &[
    family("StringEquals", Some("StringNotEquals"), "a", "a", "b"),
    family(
        "StringEqualsIgnoreCase",
        Some("StringNotEqualsIgnoreCase"),
        "A",
        "a",
        "b",
    ),
    family("StringLike", Some("StringNotLike"), "a*", "abc", "bac"),
    family(
        "NumericEquals",
        Some("NumericNotEquals"),
        "10",
        "10.0",
        "11",
    ),
    family("NumericLessThan", None, "10", "9", "10"),
    family("NumericLessThanEquals", None, "10", "10", "11"),
    family("NumericGreaterThan", None, "10", "11", "10"),
    family("NumericGreaterThanEquals", None, "10", "10", "9"),
    family(
        "DateEquals",
        Some("DateNotEquals"),
        "2026-01-01T00:00:00Z",
        "1767225600",
        "2026-01-02T00:00:00Z",
    ),
    family(
        "DateLessThan",
        None,
        "2026-01-01T00:00:00Z",
        "2025-12-31T23:59:59Z",
        "2026-01-01T00:00:00Z",
    ),
    family(
        "DateLessThanEquals",
        None,
        "2026-01-01",
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:01Z",
    ),
    family(
        "DateGreaterThan",
        None,
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:01Z",
        "2026-01-01T00:00:00Z",
    ),
    family(
        "DateGreaterThanEquals",
        None,
        "2026-01-01T00:00:00Z",
        "2026-01-01T00:00:00Z",
        "2025-12-31T23:59:59Z",
    ),
    family("Bool", None, "true", "TRUE", "false"),
    family("BinaryEquals", None, "QUJD", "QUJD", "REVG"),
    family(
        "IpAddress",
        Some("NotIpAddress"),
        "10.0.0.0/8",
        "10.1.2.3",
        "192.168.0.1",
    ),
    family(
        "ArnEquals",
        Some("ArnNotEquals"),
        "arn:aws:iam::111122223333:user/*",
        "arn:aws:iam::111122223333:user/alice",
        "arn:aws:iam::111122223333:role/alice",
    ),
    family(
        "ArnLike",
        Some("ArnNotLike"),
        "arn:aws:iam::*:user/alice",
        "arn:aws:iam::111122223333:user/alice",
        "arn:aws:iam::111122223333:user/bob",
    ),
];

/// The request's values for the key under test.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// The key is not in the request.
    Absent,
    /// The key is there with no values.
    EmptySet,
    /// The key's value is the empty string (a null data set for set
    /// operators).
    EmptyString,
    /// One value, matching the policy value.
    Hit,
    /// One value, not matching.
    Miss,
    /// Two values, one matching and one not.
    HitAndMiss,
}

const SHAPES: [Shape; 6] = [
    Shape::Absent,
    Shape::EmptySet,
    Shape::EmptyString,
    Shape::Hit,
    Shape::Miss,
    Shape::HitAndMiss,
];

/// Whether the condition holds, by (qualifier, negated, IfExists), for the
/// shapes in [`SHAPES`] order. This is AWS's documented behaviour written
/// out case by case, not derived from the implementation.
fn expected(qualifier: &str, negated: bool, if_exists: bool) -> [bool; 6] {
    const T: bool = true;
    const F: bool = false;
    //     Absent EmptySet EmptyString Hit Miss HitAndMiss
    match (qualifier, negated, if_exists) {
        ("", false, false) => [F, F, F, T, F, T],
        ("", false, true) => [T, T, F, T, F, T],
        // Negated: true when the key is absent or no value matches.
        ("", true, _) => [T, T, T, F, T, F],
        // ForAnyValue: false on an absent key or empty set, IfExists or not.
        ("ForAnyValue:", false, _) => [F, F, F, T, F, T],
        ("ForAnyValue:", true, _) => [F, F, F, F, T, T],
        // ForAllValues: true on an absent key or empty set.
        ("ForAllValues:", false, _) => [T, T, T, T, F, F],
        ("ForAllValues:", true, _) => [T, T, T, F, T, F],
        _ => unreachable!(),
    }
}

fn request(shape: Shape, f: &Family) -> ConditionValues {
    let key = "strongroom:testkey".to_string();
    let vals: Vec<&str> = match shape {
        Shape::Absent => return ConditionValues::new(),
        Shape::EmptySet => vec![],
        Shape::EmptyString => vec![""],
        Shape::Hit => vec![f.hit],
        Shape::Miss => vec![f.miss],
        Shape::HitAndMiss => vec![f.miss, f.hit],
    };
    [(key, vals.into_iter().map(String::from).collect())]
        .into_iter()
        .collect()
}

#[test]
fn every_operator_and_qualifier_on_absent_empty_single_and_multi_valued_keys() {
    let mut checked = 0;
    for f in FAMILIES {
        for (name, negated) in [(Some(f.positive), false), (f.negated, true)] {
            let Some(name) = name else { continue };
            for qualifier in ["", "ForAnyValue:", "ForAllValues:"] {
                for if_exists in [false, true] {
                    let suffix = if if_exists { "IfExists" } else { "" };
                    let op = format!("{qualifier}{name}{suffix}");
                    let cond = format!(r#"{{"{op}":{{"strongroom:TestKey":"{}"}}}}"#, f.policy);
                    let allow = allow_with(&cond);
                    let want = expected(qualifier, negated, if_exists);
                    for (shape, want) in SHAPES.iter().zip(want) {
                        let v = request(*shape, f);
                        let got = decide(&allow, "kms:Encrypt", &v) == PolicyDecision::Allow;
                        assert_eq!(got, want, "{op} on {shape:?} ({v:?})");
                        checked += 1;
                    }
                }
            }
        }
    }
    // 18 families, 8 of them negatable; 3 qualifiers; 2 IfExists; 6 shapes.
    assert_eq!(checked, 26 * 3 * 2 * 6);
}

#[test]
fn deny_with_a_negated_operator_on_an_absent_key_denies() {
    // The reported bypass: "Deny Encrypt unless tenant = a" let an
    // Encrypt without any encryption context through.
    for f in FAMILIES {
        let Some(negated) = f.negated else { continue };
        let policy = PolicyDocument::parse(&format!(
            r#"{{"Statement":[
              {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::111122223333:root"}},"Action":"kms:*","Resource":"*"}},
              {{"Effect":"Deny","Principal":"*","Action":"kms:Encrypt","Resource":"*",
                "Condition":{{"{negated}":{{"kms:EncryptionContext:tenant":"{}"}}}}}}]}}"#,
            f.policy
        ))
        .unwrap();
        let none = ConditionValues::new();
        let root = RequestContext {
            principal_arn: "arn:aws:iam::111122223333:root",
            ..ctx("kms:Encrypt", &none)
        };
        assert_eq!(
            evaluate_key_policy(&policy, &root),
            KeyPolicyDecision::ExplicitDeny,
            "{negated} with the key absent"
        );
        let hit = values(&[("kms:EncryptionContext:tenant", &[f.hit])]);
        assert_eq!(
            evaluate_key_policy(
                &policy,
                &RequestContext {
                    conditions: &hit,
                    ..root
                }
            ),
            KeyPolicyDecision::AllowDirect,
            "{negated} with the key matching"
        );
        // Decrypt is not covered by the Deny.
        assert_eq!(
            evaluate_key_policy(
                &policy,
                &RequestContext {
                    action: "kms:Decrypt",
                    ..root
                }
            ),
            KeyPolicyDecision::AllowDirect
        );
    }
}

#[test]
fn negated_operators_nor_their_policy_values() {
    use PolicyDecision::*;
    let cases: &[Case] = &[
        (
            r#"{"StringNotEquals":{"kms:EncryptionContext:tenant":["a","b"]}}"#,
            &[("kms:EncryptionContext:tenant", &["b"])],
            NoMatch,
        ),
        (
            r#"{"StringNotEquals":{"kms:EncryptionContext:tenant":["a","b"]}}"#,
            &[("kms:EncryptionContext:tenant", &["c"])],
            Allow,
        ),
        (
            r#"{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}"#,
            &[("aws:SourceIp", &["192.168.1.1"])],
            NoMatch,
        ),
        (
            r#"{"StringEquals":{"kms:EncryptionContext:tenant":["a","b"]}}"#,
            &[("kms:EncryptionContext:tenant", &["b"])],
            Allow,
        ),
        // A request value of the wrong type matches no policy value, so a
        // negated operator holds.
        (
            r#"{"NumericNotEquals":{"kms:ExpirationDays":"10"}}"#,
            &[("kms:ExpirationDays", &["ten"])],
            Allow,
        ),
        (
            r#"{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}"#,
            &[("aws:SourceIp", &["not-an-address"])],
            Allow,
        ),
        // Several operators and keys are ANDed.
        (
            r#"{"StringNotEquals":{"kms:EncryptionContext:tenant":"a"},"StringEquals":{"kms:CallerAccount":"111122223333"}}"#,
            &[],
            NoMatch,
        ),
        (
            r#"{"StringNotEquals":{"kms:EncryptionContext:tenant":"a"},"StringEquals":{"kms:CallerAccount":"111122223333"}}"#,
            &[("kms:CallerAccount", &["111122223333"])],
            Allow,
        ),
    ];
    for (i, (cond, vals, want)) in cases.iter().enumerate() {
        let got = decide(&allow_with(cond), "kms:Encrypt", &values(vals));
        assert_eq!(got, *want, "case {i}: {cond} with {vals:?}");
    }
}

#[test]
fn null_tests_whether_the_key_is_present() {
    let present = values(&[("kms:EncryptionContext:tenant", &["a"])]);
    let empty_set = values(&[("kms:EncryptionContext:tenant", &[])]);
    let absent = ConditionValues::new();
    for (value, on_absent, on_present) in [
        ("true", true, false),
        ("TRUE", true, false),
        ("false", false, true),
        (r#"["true","false"]"#, true, true),
    ] {
        let quoted = if value.starts_with('[') {
            value.to_string()
        } else {
            format!("\"{value}\"")
        };
        let p = allow_with(&format!(
            r#"{{"Null":{{"kms:EncryptionContext:tenant":{quoted}}}}}"#
        ));
        let holds = |v: &ConditionValues| decide(&p, "kms:Encrypt", v) == PolicyDecision::Allow;
        assert_eq!(holds(&absent), on_absent, "Null {value}, key absent");
        assert_eq!(holds(&empty_set), on_absent, "Null {value}, empty set");
        assert_eq!(holds(&present), on_present, "Null {value}, key present");
    }
    // JSON booleans are accepted too.
    let p = allow_with(r#"{"Null":{"kms:EncryptionContext:tenant":true}}"#);
    assert_eq!(decide(&p, "kms:Encrypt", &absent), PolicyDecision::Allow);
}
