//! AWS's request validation, in AWS's words, from one place.
//!
//! AWS KMS checks every member of a request against its service model
//! (length, value range, pattern, enumeration, required) before the
//! operation runs, and reports every broken constraint in one
//! ValidationException:
//!
//! `2 validation errors detected: Value '0' at 'numberOfBytes' failed to
//! satisfy constraint: Member must have value greater than or equal to 1;
//! Value null at 'keyId' failed to satisfy constraint: Member must not be null`
//!
//! Members are named in AWS's casing (camelCase), list members as
//! `grantTokens.1.member`, and blobs are shown the way AWS's Java frontend
//! shows them (`java.nio.HeapByteBuffer[pos=0 lim=N cap=N]`), which reveals
//! the length only, never the bytes. The shapes in [`shapes`] are copied
//! from botocore's model (`botocore/data/kms/2014-11-01/service-2.json`);
//! tests/compat/test_error_shapes.py compares them with it.

use crate::error::KmsError;

mod requests;
pub mod shapes;

/// At most this many violations are listed in one message, as AWS does.
const MAX_REPORTED: usize = 10;

/// One constraint of AWS's model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    /// A required member is missing.
    NotNull,
    /// A string, blob or list shorter than the minimum.
    MinLength(usize),
    /// A string, blob or list longer than the maximum.
    MaxLength(usize),
    /// A number below the minimum.
    MinValue(i64),
    /// A number above the maximum.
    MaxValue(i64),
    /// A string that does not match the model's pattern.
    Pattern(&'static str),
    /// A value outside the model's enumeration.
    Enum(&'static [&'static str]),
}

impl std::fmt::Display for Constraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Constraint::NotNull => f.write_str("Member must not be null"),
            Constraint::MinLength(n) => {
                write!(f, "Member must have length greater than or equal to {n}")
            }
            Constraint::MaxLength(n) => {
                write!(f, "Member must have length less than or equal to {n}")
            }
            Constraint::MinValue(n) => {
                write!(f, "Member must have value greater than or equal to {n}")
            }
            Constraint::MaxValue(n) => {
                write!(f, "Member must have value less than or equal to {n}")
            }
            Constraint::Pattern(p) => {
                write!(f, "Member must satisfy regular expression pattern: {p}")
            }
            Constraint::Enum(values) => {
                write!(
                    f,
                    "Member must satisfy enum value set: [{}]",
                    values.join(", ")
                )
            }
        }
    }
}

/// One broken constraint: where, what was sent, and which rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The member's path in AWS's casing (`keyId`, `tags.1.member.tagKey`).
    pub path: String,
    /// The value as AWS shows it; `None` for a missing member.
    pub value: Option<String>,
    /// The rule it breaks.
    pub constraint: Constraint,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.value {
            None => f.write_str("Value null")?,
            Some(v) => write!(f, "Value '{v}'")?,
        }
        write!(
            f,
            " at '{}' failed to satisfy constraint: {}",
            self.path, self.constraint
        )
    }
}

/// AWS's message for a list of violations.
pub fn message(found: &[Violation]) -> String {
    let shown = &found[..found.len().min(MAX_REPORTED)];
    let n = shown.len();
    let list: Vec<String> = shown.iter().map(ToString::to_string).collect();
    format!(
        "{n} validation error{} detected: {}",
        if n == 1 { "" } else { "s" },
        list.join("; ")
    )
}

/// The ValidationException for one violation.
pub fn error(path: &str, value: Option<String>, constraint: Constraint) -> KmsError {
    KmsError::Validation(message(&[Violation {
        path: path.to_owned(),
        value,
        constraint,
    }]))
}

/// The ValidationException for a missing required member.
pub fn null(path: &str) -> KmsError {
    error(path, None, Constraint::NotNull)
}

/// How AWS shows a blob in a message: its length, never its bytes.
pub fn blob_value(len: usize) -> String {
    format!("java.nio.HeapByteBuffer[pos=0 lim={len} cap={len}]")
}

/// Whether a member must be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// Missing is a violation (`Member must not be null`).
    Required,
    /// Missing is fine; a present value is still checked.
    Optional,
}

/// Collects the violations of one request, in member order.
#[derive(Debug, Default)]
pub struct Validator {
    found: Vec<Violation>,
    operation: &'static str,
}

impl Validator {
    /// A validator for a request of `operation`.
    pub fn new(operation: &'static str) -> Self {
        Self {
            found: Vec::new(),
            operation,
        }
    }

    /// Required when the request is for one of `operations` (request types
    /// several operations share: Verify needs `Signature`, Sign does not).
    pub fn required_in(&self, operations: &[&str]) -> Presence {
        if operations.contains(&self.operation) {
            Presence::Required
        } else {
            Presence::Optional
        }
    }

    fn push(&mut self, path: &str, value: Option<String>, constraint: Constraint) {
        self.found.push(Violation {
            path: path.to_owned(),
            value,
            constraint,
        });
    }

    /// Records a missing member if it is required; true if it is present.
    fn present<T>(&mut self, path: &str, value: Option<T>, presence: Presence) -> Option<T> {
        if value.is_none() && presence == Presence::Required {
            self.push(path, None, Constraint::NotNull);
        }
        value
    }

    fn lengths(
        &mut self,
        path: &str,
        len: usize,
        min: usize,
        max: usize,
        shown: impl Fn() -> String,
    ) {
        if len < min {
            self.push(path, Some(shown()), Constraint::MinLength(min));
        }
        if len > max {
            self.push(path, Some(shown()), Constraint::MaxLength(max));
        }
    }

    /// A string member.
    pub fn string(
        &mut self,
        path: &str,
        value: Option<&str>,
        shape: &shapes::Str,
        presence: Presence,
    ) {
        let Some(v) = self.present(path, value, presence) else {
            return;
        };
        let len = v.chars().count();
        self.lengths(path, len, shape.min, shape.max, || v.to_owned());
        if let Some(p) = &shape.pattern
            && !p.matches(v)
        {
            self.push(path, Some(v.to_owned()), Constraint::Pattern(p.text));
        }
    }

    /// A `RegionType` member: its length, then the model's whole pattern
    /// `^([a-z]+-){2,3}\d+$` (one violation, as AWS reports it).
    pub fn region(&mut self, path: &str, value: Option<&str>, presence: Presence) {
        let Some(v) = self.present(path, value, presence) else {
            return;
        };
        let shape = &shapes::REGION;
        let len = v.chars().count();
        self.lengths(path, len, shape.min, shape.max, || v.to_owned());
        if let Some(p) = &shape.pattern
            && !shapes::region_shaped(v)
        {
            self.push(path, Some(v.to_owned()), Constraint::Pattern(p.text));
        }
    }

    /// A blob member (its length only).
    pub fn blob(
        &mut self,
        path: &str,
        value: Option<&[u8]>,
        shape: &shapes::Blob,
        presence: Presence,
    ) {
        let Some(v) = self.present(path, value, presence) else {
            return;
        };
        self.lengths(path, v.len(), shape.min, shape.max, || blob_value(v.len()));
    }

    /// An integer member.
    pub fn integer(
        &mut self,
        path: &str,
        value: Option<i64>,
        shape: &shapes::Int,
        presence: Presence,
    ) {
        let Some(v) = self.present(path, value, presence) else {
            return;
        };
        if v < shape.min {
            self.push(path, Some(v.to_string()), Constraint::MinValue(shape.min));
        }
        if v > shape.max {
            self.push(path, Some(v.to_string()), Constraint::MaxValue(shape.max));
        }
    }

    /// An enumeration member: a value AWS does not know at all is a
    /// violation; one AWS knows but Strongroom does not serve is for the
    /// operation to refuse (UnsupportedOperationException).
    pub fn enumeration(
        &mut self,
        path: &str,
        value: Option<&str>,
        values: &'static [&'static str],
        presence: Presence,
    ) {
        let Some(v) = self.present(path, value, presence) else {
            return;
        };
        if !values.contains(&v) {
            self.push(path, Some(v.to_owned()), Constraint::Enum(values));
        }
    }

    /// A list of strings: its length, then each member's.
    pub fn string_list(
        &mut self,
        path: &str,
        value: Option<&[String]>,
        (min, max): (usize, usize),
        member: &shapes::Str,
        presence: Presence,
    ) {
        let Some(v) = self.present(path, value, presence) else {
            return;
        };
        self.lengths(path, v.len(), min, max, || format!("[{}]", v.join(", ")));
        for (i, m) in v.iter().enumerate() {
            self.string(
                &format!("{path}.{}.member", i + 1),
                Some(m),
                member,
                Presence::Required,
            );
        }
    }

    /// A list of enumeration values.
    pub fn enum_list(
        &mut self,
        path: &str,
        value: Option<&[String]>,
        values: &'static [&'static str],
        presence: Presence,
    ) {
        let Some(v) = self.present(path, value, presence) else {
            return;
        };
        for (i, m) in v.iter().enumerate() {
            self.enumeration(
                &format!("{path}.{}.member", i + 1),
                Some(m),
                values,
                Presence::Required,
            );
        }
    }

    /// The `GrantTokens` member most operations take.
    pub fn grant_tokens(&mut self, value: Option<&[String]>) {
        self.string_list(
            "grantTokens",
            value,
            shapes::GRANT_TOKEN_LIST,
            &shapes::GRANT_TOKEN,
            Presence::Optional,
        );
    }

    /// The `KeyId` member most operations take (required).
    pub fn key_id(&mut self, value: Option<&str>) {
        self.string("keyId", value, &shapes::KEY_ID, Presence::Required);
    }

    /// The violations found, as AWS's ValidationException.
    pub fn finish(self) -> Result<(), KmsError> {
        if self.found.is_empty() {
            Ok(())
        } else {
            Err(KmsError::Validation(message(&self.found)))
        }
    }
}

/// A request type that knows its members' constraints.
pub trait Validate {
    /// Records every broken constraint of `self` in `v`.
    fn validate(&self, v: &mut Validator);
}

/// Every broken constraint of `request` (for `operation`), as one
/// ValidationException.
pub fn check<T: Validate>(operation: &'static str, request: &T) -> Result<(), KmsError> {
    let mut v = Validator::new(operation);
    request.validate(&mut v);
    v.finish()
}

/// A required string parameter that passed validation, or AWS's
/// validation error naming it.
pub fn required<'a>(value: &'a Option<String>, path: &str) -> Result<&'a str, KmsError> {
    match value.as_deref() {
        None => Err(null(path)),
        Some("") => Err(error(path, Some(String::new()), Constraint::MinLength(1))),
        Some(v) => Ok(v),
    }
}

/// An optional member holding one of AWS's enumeration values, parsed
/// into its type (`strongroom_store::vocab`); a value outside `shape` is
/// AWS's ValidationException for it.
pub fn enum_member<T: std::str::FromStr>(
    value: Option<&str>,
    path: &str,
    shape: &'static [&'static str],
) -> Result<Option<T>, KmsError> {
    value
        .map(|v| {
            v.parse()
                .map_err(|_| error(path, Some(v.to_owned()), Constraint::Enum(shape)))
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_violation_reads_as_aws_writes_it() {
        let mut v = Validator::default();
        v.key_id(Some(&"x".repeat(2049)));
        let KmsError::Validation(m) = v.finish().unwrap_err() else {
            panic!("not a validation error")
        };
        assert_eq!(
            m,
            format!(
                "1 validation error detected: Value '{}' at 'keyId' failed to satisfy constraint: Member must have length less than or equal to 2048",
                "x".repeat(2049)
            )
        );
    }

    #[test]
    fn several_violations_are_counted_and_joined() {
        let mut v = Validator::default();
        v.key_id(None);
        v.integer(
            "numberOfBytes",
            Some(0),
            &shapes::NUMBER_OF_BYTES,
            Presence::Optional,
        );
        v.blob(
            "plaintext",
            Some(&[]),
            &shapes::PLAINTEXT,
            Presence::Required,
        );
        v.enumeration(
            "keySpec",
            Some("AES_512"),
            shapes::DATA_KEY_SPEC,
            Presence::Optional,
        );
        let KmsError::Validation(m) = v.finish().unwrap_err() else {
            panic!("not a validation error")
        };
        assert_eq!(
            m,
            "4 validation errors detected: \
             Value null at 'keyId' failed to satisfy constraint: Member must not be null; \
             Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1; \
             Value 'java.nio.HeapByteBuffer[pos=0 lim=0 cap=0]' at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1; \
             Value 'AES_512' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]"
        );
    }

    #[test]
    fn blobs_show_their_length_never_their_bytes() {
        let secret = vec![0x41u8; 4097];
        let mut v = Validator::default();
        v.blob(
            "plaintext",
            Some(&secret),
            &shapes::PLAINTEXT,
            Presence::Required,
        );
        let KmsError::Validation(m) = v.finish().unwrap_err() else {
            panic!("not a validation error")
        };
        assert!(m.contains("java.nio.HeapByteBuffer[pos=0 lim=4097 cap=4097]"));
        assert!(!m.contains("AAAA"));
    }

    #[test]
    fn patterns_lists_and_list_members() {
        let mut v = Validator::default();
        v.string(
            "aliasName",
            Some("alias/a b"),
            &shapes::ALIAS_NAME,
            Presence::Required,
        );
        v.grant_tokens(Some(&vec![String::new(); 11]));
        let KmsError::Validation(m) = v.finish().unwrap_err() else {
            panic!("not a validation error")
        };
        assert!(m.starts_with("10 validation errors detected: Value 'alias/a b' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$; "));
        assert!(m.contains("at 'grantTokens' failed to satisfy constraint: Member must have length less than or equal to 10"));
        assert!(m.contains("Value '' at 'grantTokens.1.member' failed to satisfy constraint: Member must have length greater than or equal to 1"));
    }

    #[test]
    fn required_tells_missing_from_empty() {
        assert_eq!(
            required(&None, "keyId").unwrap_err().to_string(),
            "1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"
        );
        assert_eq!(
            required(&Some(String::new()), "keyId")
                .unwrap_err()
                .to_string(),
            "1 validation error detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
        assert_eq!(required(&Some("k".into()), "keyId").unwrap(), "k");
    }
}
