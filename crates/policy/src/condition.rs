//! Conditions of the AWS policy language: policy values checked and typed
//! when the policy is parsed, and evaluation against a request's values as
//! AWS documents it:
//!
//! - a key absent from the request fails a condition, except that negated
//!   operators (`StringNotEquals`, `NotIpAddress`, ...) and `...IfExists`
//!   hold, and `Null` tests exactly that;
//! - several policy values for one key are ORed, and NORed for negated
//!   operators;
//! - `ForAllValues:` holds when every request value satisfies the operator,
//!   so also for an absent key or an empty set; `ForAnyValue:` holds when
//!   some value does, so never for an absent key or an empty set (even with
//!   `IfExists`, as AWS evaluates it).

use std::cmp::Ordering;
use std::net::IpAddr;

use serde_json::Value;

use crate::document::{ConditionValues, PolicyError};
use crate::glob::glob_match;
use crate::operator::{Comparison, ConditionOperator, SetQualifier, ValueKind};

/// One condition: an operator on a key, against values.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// The operator, with its qualifiers.
    pub operator: ConditionOperator,
    /// Condition key, lower-cased (keys are case-insensitive).
    pub key: String,
    /// Values to compare with, as written in the policy.
    pub values: Vec<String>,
    /// The same values, typed for the operator.
    operands: Vec<Operand>,
}

/// A policy value, parsed for its operator.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Text(String),
    Number(f64),
    Date(i64),
    Bool(bool),
    Network(Network),
}

/// An IP network: an address and a prefix length that fits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Network {
    addr: IpAddr,
    prefix: u32,
}

impl Network {
    fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p)),
            None => (s.parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
        };
        (prefix <= max).then_some(Self { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (ip, self.addr) {
            (IpAddr::V4(a), IpAddr::V4(n)) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix).unwrap_or(0);
                u32::from(a) & mask == u32::from(n) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(n)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix).unwrap_or(0);
                u128::from(a) & mask == u128::from(n) & mask
            }
            _ => false,
        }
    }
}

fn number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|n| n.is_finite())
}

/// Dates as epoch seconds: either a number or an RFC 3339 / ISO 8601 time.
fn date(s: &str) -> Option<i64> {
    if let Ok(n) = s.parse::<i64>() {
        return Some(n);
    }
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
        .or_else(|| {
            // "2026-11-28" (a date alone) means its midnight UTC.
            let d = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
                .ok()?;
            Some(d.midnight().assume_utc().unix_timestamp())
        })
}

fn boolean(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// An ARN's six colon-separated parts (the resource part may hold colons).
fn arn_parts(s: &str) -> Option<[&str; 6]> {
    let mut it = s.splitn(6, ':');
    let parts = [
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    ];
    Some(parts)
}

/// AWS matches each ARN part separately, so a wildcard never spans a colon;
/// a pattern that is not an ARN (`*`) matches the whole value.
fn arn_match(pattern: &str, value: &str) -> bool {
    match (arn_parts(pattern), arn_parts(value)) {
        (Some(p), Some(v)) => p.iter().zip(v.iter()).all(|(p, v)| glob_match(p, v, false)),
        (Some(_), None) => false,
        (None, _) => glob_match(pattern, value, false),
    }
}

fn ordered(c: Comparison, o: Ordering) -> bool {
    use Comparison::*;
    match c {
        NumericLessThan | DateLessThan => o == Ordering::Less,
        NumericLessThanEquals | DateLessThanEquals => o != Ordering::Greater,
        NumericGreaterThan | DateGreaterThan => o == Ordering::Greater,
        NumericGreaterThanEquals | DateGreaterThanEquals => o != Ordering::Less,
        _ => o == Ordering::Equal,
    }
}

/// Whether one request value matches one policy value under `c` (the
/// positive sense of negated operators). A request value that is not of the
/// operator's type matches nothing.
fn matches(c: Comparison, request: &str, policy: &Operand) -> bool {
    use Comparison::*;
    match (c, policy) {
        (StringEquals | BinaryEquals, Operand::Text(p)) => request == p,
        (StringEqualsIgnoreCase, Operand::Text(p)) => request.to_lowercase() == p.to_lowercase(),
        (StringLike, Operand::Text(p)) => glob_match(p, request, false),
        (ArnEquals | ArnLike, Operand::Text(p)) => arn_match(p, request),
        (_, Operand::Number(p)) => {
            number(request).is_some_and(|r| r.partial_cmp(p).is_some_and(|o| ordered(c, o)))
        }
        (_, Operand::Date(p)) => date(request).is_some_and(|r| ordered(c, r.cmp(p))),
        (Bool, Operand::Bool(p)) => boolean(request) == Some(*p),
        (IpAddress, Operand::Network(n)) => request.parse().is_ok_and(|ip| n.contains(ip)),
        _ => false,
    }
}

fn operand(kind: ValueKind, text: &str) -> Option<Operand> {
    Some(match kind {
        ValueKind::Text => Operand::Text(text.to_owned()),
        ValueKind::Number => Operand::Number(number(text)?),
        ValueKind::Date => Operand::Date(date(text)?),
        ValueKind::Bool => Operand::Bool(boolean(text)?),
        ValueKind::Network => Operand::Network(Network::parse(text)?),
    })
}

/// Condition values may be strings, numbers or booleans, alone or in lists.
fn value_texts(v: &Value) -> Result<Vec<String>, PolicyError> {
    let one = |x: &Value| match x {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(PolicyError(
            "condition values must be strings, numbers or booleans".into(),
        )),
    };
    match v {
        Value::Array(a) => a.iter().map(one).collect(),
        x => Ok(vec![one(x)?]),
    }
}

impl Condition {
    fn parse(operator: ConditionOperator, key: &str, values: &Value) -> Result<Self, PolicyError> {
        if key.is_empty() {
            return Err(PolicyError(format!(
                "condition {operator} names an empty key"
            )));
        }
        let values = value_texts(values)?;
        if values.is_empty() {
            return Err(PolicyError(format!(
                "condition {operator} on {key} has no values"
            )));
        }
        let kind = operator.comparison.value_kind();
        let operands = values
            .iter()
            .map(|v| {
                operand(kind, v).ok_or_else(|| {
                    PolicyError(format!(
                        "condition {operator} on {key}: {v:?} is not a valid {}",
                        match kind {
                            ValueKind::Text => "string",
                            ValueKind::Number => "number",
                            ValueKind::Date => "date",
                            ValueKind::Bool => "boolean (true or false)",
                            ValueKind::Network => "IP address or CIDR block",
                        }
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            operator,
            key: key.to_ascii_lowercase(),
            values,
            operands,
        })
    }

    /// Whether some policy value matches request value `v`.
    fn matches_any(&self, v: &str) -> bool {
        self.operands
            .iter()
            .any(|p| matches(self.operator.comparison, v, p))
    }

    /// Whether request value `v` satisfies the operator, negation included.
    fn satisfied_by(&self, v: &str) -> bool {
        self.matches_any(v) != self.operator.negated
    }

    /// Evaluates the condition against the request's values.
    pub fn holds(&self, request: &ConditionValues) -> bool {
        let values: &[String] = request.get(&self.key).map_or(&[], Vec::as_slice);
        let op = self.operator;
        if op.comparison == Comparison::Null {
            let absent = values.is_empty();
            return self.operands.contains(&Operand::Bool(absent));
        }
        match op.set {
            None if values.is_empty() => op.negated || op.if_exists,
            // A single-valued key. Should several values reach an
            // unqualified condition, a positive operator needs one to
            // match and a negated operator needs none to.
            None if op.negated => values.iter().all(|v| !self.matches_any(v)),
            None => values.iter().any(|v| self.matches_any(v)),
            Some(set) => {
                // An empty string is a null data set, as an absent key is.
                let mut set_values = values.iter().filter(|v| !v.is_empty());
                match set {
                    SetQualifier::ForAllValues => set_values.all(|v| self.satisfied_by(v)),
                    SetQualifier::ForAnyValue => set_values.any(|v| self.satisfied_by(v)),
                }
            }
        }
    }
}

/// Parses a statement's `Condition` element: operators, each mapping keys
/// to values.
pub(crate) fn parse_block(v: &Value) -> Result<Vec<Condition>, PolicyError> {
    let Value::Object(ops) = v else {
        return Err(PolicyError("Condition must be an object".into()));
    };
    let mut out = Vec::new();
    for (raw_op, block) in ops {
        let operator: ConditionOperator = raw_op.parse()?;
        let Value::Object(keys) = block else {
            return Err(PolicyError(format!(
                "condition {raw_op} must map keys to values"
            )));
        };
        for (key, values) in keys {
            out.push(Condition::parse(operator, key, values)?);
        }
    }
    Ok(out)
}
