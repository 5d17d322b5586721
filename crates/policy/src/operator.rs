//! Condition operators, parsed once when a policy is: the comparison, whether
//! it is negated, `...IfExists`, and a `ForAnyValue:` / `ForAllValues:` set
//! qualifier. Evaluation works on this type only, never on operator names,
//! so a name we do not know cannot reach it: the policy is refused instead.

use std::fmt;
use std::str::FromStr;

use crate::document::PolicyError;

/// What a condition compares: the positive sense of negated operators
/// (`StringNotEquals` is [`Comparison::StringEquals`], negated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// Exact, case-sensitive string match.
    StringEquals,
    /// String match ignoring case.
    StringEqualsIgnoreCase,
    /// Case-sensitive match with `*` and `?` wildcards.
    StringLike,
    /// Numbers equal.
    NumericEquals,
    /// Request number below the policy's.
    NumericLessThan,
    /// Request number at most the policy's.
    NumericLessThanEquals,
    /// Request number above the policy's.
    NumericGreaterThan,
    /// Request number at least the policy's.
    NumericGreaterThanEquals,
    /// Times equal.
    DateEquals,
    /// Request time before the policy's.
    DateLessThan,
    /// Request time at or before the policy's.
    DateLessThanEquals,
    /// Request time after the policy's.
    DateGreaterThan,
    /// Request time at or after the policy's.
    DateGreaterThanEquals,
    /// Boolean equal (`true` / `false`).
    Bool,
    /// Base64 text equal.
    BinaryEquals,
    /// Request address inside a policy network (CIDR).
    IpAddress,
    /// ARN match, component by component, with wildcards (AWS treats
    /// `ArnEquals` and `ArnLike` alike).
    ArnEquals,
    /// Same as [`Comparison::ArnEquals`].
    ArnLike,
    /// Whether the key is absent (`true`) or present (`false`).
    Null,
}

/// The kind of value a comparison takes, which fixes how policy values are
/// checked when the policy is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueKind {
    /// Any string.
    Text,
    /// A decimal number.
    Number,
    /// An ISO 8601 time or epoch seconds.
    Date,
    /// `true` or `false`.
    Bool,
    /// An IP address or CIDR block.
    Network,
}

impl Comparison {
    pub(crate) fn value_kind(self) -> ValueKind {
        use Comparison::*;
        match self {
            StringEquals
            | StringEqualsIgnoreCase
            | StringLike
            | BinaryEquals
            | ArnEquals
            | ArnLike => ValueKind::Text,
            NumericEquals
            | NumericLessThan
            | NumericLessThanEquals
            | NumericGreaterThan
            | NumericGreaterThanEquals => ValueKind::Number,
            DateEquals
            | DateLessThan
            | DateLessThanEquals
            | DateGreaterThan
            | DateGreaterThanEquals => ValueKind::Date,
            Bool | Null => ValueKind::Bool,
            IpAddress => ValueKind::Network,
        }
    }
}

/// Multi-valued condition qualifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetQualifier {
    /// True if some request value satisfies the operator; false when the
    /// key is absent or its set is empty.
    ForAnyValue,
    /// True if every request value satisfies the operator, and so true
    /// when the key is absent or its set is empty.
    ForAllValues,
}

/// A parsed condition operator such as `ForAnyValue:StringNotLikeIfExists`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConditionOperator {
    /// The comparison, in its positive sense.
    pub comparison: Comparison,
    /// A negated operator (`StringNotEquals`, `NotIpAddress`, ...): true when
    /// no policy value matches, and true when the key is absent.
    pub negated: bool,
    /// `...IfExists`: true when the key is absent.
    pub if_exists: bool,
    /// `ForAnyValue:` / `ForAllValues:`, if given.
    pub set: Option<SetQualifier>,
}

/// Every operator name AWS defines: (name, comparison, negated). There is
/// no negated `Bool`, `BinaryEquals` or `Null`.
const NAMES: &[(&str, Comparison, bool)] = &[
    ("StringEquals", Comparison::StringEquals, false),
    ("StringNotEquals", Comparison::StringEquals, true),
    (
        "StringEqualsIgnoreCase",
        Comparison::StringEqualsIgnoreCase,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Comparison::StringEqualsIgnoreCase,
        true,
    ),
    ("StringLike", Comparison::StringLike, false),
    ("StringNotLike", Comparison::StringLike, true),
    ("NumericEquals", Comparison::NumericEquals, false),
    ("NumericNotEquals", Comparison::NumericEquals, true),
    ("NumericLessThan", Comparison::NumericLessThan, false),
    (
        "NumericLessThanEquals",
        Comparison::NumericLessThanEquals,
        false,
    ),
    ("NumericGreaterThan", Comparison::NumericGreaterThan, false),
    (
        "NumericGreaterThanEquals",
        Comparison::NumericGreaterThanEquals,
        false,
    ),
    ("DateEquals", Comparison::DateEquals, false),
    ("DateNotEquals", Comparison::DateEquals, true),
    ("DateLessThan", Comparison::DateLessThan, false),
    ("DateLessThanEquals", Comparison::DateLessThanEquals, false),
    ("DateGreaterThan", Comparison::DateGreaterThan, false),
    (
        "DateGreaterThanEquals",
        Comparison::DateGreaterThanEquals,
        false,
    ),
    ("Bool", Comparison::Bool, false),
    ("BinaryEquals", Comparison::BinaryEquals, false),
    ("IpAddress", Comparison::IpAddress, false),
    ("NotIpAddress", Comparison::IpAddress, true),
    ("ArnEquals", Comparison::ArnEquals, false),
    ("ArnNotEquals", Comparison::ArnEquals, true),
    ("ArnLike", Comparison::ArnLike, false),
    ("ArnNotLike", Comparison::ArnLike, true),
    ("Null", Comparison::Null, false),
];

const FOR_ANY_VALUE: &str = "ForAnyValue:";
const FOR_ALL_VALUES: &str = "ForAllValues:";
const IF_EXISTS: &str = "IfExists";

fn lookup(name: &str) -> Option<(Comparison, bool)> {
    NAMES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|&(_, c, neg)| (c, neg))
}

impl FromStr for ConditionOperator {
    type Err = PolicyError;

    /// Parses an operator as written in a policy (names are case-sensitive,
    /// as in AWS).
    fn from_str(raw: &str) -> Result<Self, PolicyError> {
        let unknown = || PolicyError(format!("unknown condition operator {raw}"));
        let (set, rest) = if let Some(r) = raw.strip_prefix(FOR_ANY_VALUE) {
            (Some(SetQualifier::ForAnyValue), r)
        } else if let Some(r) = raw.strip_prefix(FOR_ALL_VALUES) {
            (Some(SetQualifier::ForAllValues), r)
        } else {
            (None, raw)
        };
        let (comparison, negated, if_exists) = match lookup(rest) {
            Some((c, neg)) => (c, neg, false),
            None => {
                let base = rest.strip_suffix(IF_EXISTS).ok_or_else(unknown)?;
                match lookup(base) {
                    // `Null` is itself an existence test.
                    Some((Comparison::Null, _)) | None => return Err(unknown()),
                    Some((c, neg)) => (c, neg, true),
                }
            }
        };
        if comparison == Comparison::Null && set.is_some() {
            return Err(PolicyError(format!(
                "condition operator {raw}: Null takes no set qualifier"
            )));
        }
        Ok(Self {
            comparison,
            negated,
            if_exists,
            set,
        })
    }
}

impl fmt::Display for ConditionOperator {
    /// The operator as AWS writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.set {
            Some(SetQualifier::ForAnyValue) => f.write_str(FOR_ANY_VALUE)?,
            Some(SetQualifier::ForAllValues) => f.write_str(FOR_ALL_VALUES)?,
            None => {}
        }
        let name = NAMES
            .iter()
            .find(|(_, c, neg)| *c == self.comparison && *neg == self.negated)
            .map_or("?", |(n, _, _)| n);
        f.write_str(name)?;
        if self.if_exists {
            f.write_str(IF_EXISTS)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_with_every_qualifier() {
        for (name, comparison, negated) in NAMES {
            for prefix in ["", FOR_ANY_VALUE, FOR_ALL_VALUES] {
                for suffix in ["", IF_EXISTS] {
                    let raw = format!("{prefix}{name}{suffix}");
                    let nullish = *comparison == Comparison::Null;
                    match raw.parse::<ConditionOperator>() {
                        Ok(op) => {
                            assert!(!nullish || (prefix.is_empty() && suffix.is_empty()));
                            assert_eq!(op.comparison, *comparison, "{raw}");
                            assert_eq!(op.negated, *negated, "{raw}");
                            assert_eq!(op.if_exists, !suffix.is_empty(), "{raw}");
                            assert_eq!(op.to_string(), raw);
                        }
                        Err(e) => assert!(nullish, "{raw} refused: {e}"),
                    }
                }
            }
        }
    }

    #[test]
    fn unknown_and_misspelt_operators_are_refused() {
        for raw in [
            "",
            "StringSortOf",
            "stringequals",
            "StringEqualsIfExistsIfExists",
            "IfExists",
            "ForAnyValue:",
            "ForSomeValues:StringEquals",
            "ForAnyValue:ForAllValues:StringEquals",
            "BoolNot",
            "NotBool",
            "BinaryNotEquals",
            "NumericNotLessThan",
            "NullIfExists",
            "ForAllValues:Null",
            "StringNotEquals ",
        ] {
            assert!(raw.parse::<ConditionOperator>().is_err(), "{raw:?}");
        }
    }
}
