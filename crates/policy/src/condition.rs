//! Condition operators of the AWS policy language.

use std::net::IpAddr;

use crate::document::{Condition, ConditionValues, SetQualifier};
use crate::glob::glob_match;

const OPERATORS: &[&str] = &[
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnNotEquals",
    "ArnLike",
    "ArnNotLike",
    "BinaryEquals",
    "Null",
];

/// Whether `op` (without qualifiers) is an operator we evaluate.
pub fn is_known(op: &str) -> bool {
    OPERATORS.contains(&op)
}

/// Negated operators are true when no policy value matches.
fn negated(op: &str) -> bool {
    op.contains("Not")
}

fn number(s: &str) -> Option<f64> {
    s.parse().ok()
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

fn in_cidr(ip: &str, cidr: &str) -> bool {
    let Ok(ip) = ip.parse::<IpAddr>() else {
        return false;
    };
    let (net, bits) = match cidr.split_once('/') {
        Some((n, b)) => (n, b.parse::<u32>().ok()),
        None => (cidr, None),
    };
    let Ok(net) = net.parse::<IpAddr>() else {
        return false;
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let bits = bits.unwrap_or(32).min(32);
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let bits = bits.unwrap_or(128).min(128);
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Whether one request value matches one policy value under `op` (the
/// positive sense of negated operators).
fn matches(op: &str, request: &str, policy: &str) -> bool {
    match op {
        "StringEquals" | "StringNotEquals" | "ArnEquals" | "ArnNotEquals" | "BinaryEquals" => {
            request == policy
        }
        "StringEqualsIgnoreCase" | "StringNotEqualsIgnoreCase" => {
            request.eq_ignore_ascii_case(policy)
        }
        "StringLike" | "StringNotLike" | "ArnLike" | "ArnNotLike" => {
            glob_match(policy, request, false)
        }
        "Bool" => request.eq_ignore_ascii_case(policy),
        "IpAddress" | "NotIpAddress" => in_cidr(request, policy),
        "NumericEquals"
        | "NumericNotEquals"
        | "NumericLessThan"
        | "NumericLessThanEquals"
        | "NumericGreaterThan"
        | "NumericGreaterThanEquals" => {
            let (Some(r), Some(p)) = (number(request), number(policy)) else {
                return false;
            };
            compare(op, r.partial_cmp(&p))
        }
        _ if op.starts_with("Date") => {
            let (Some(r), Some(p)) = (date(request), date(policy)) else {
                return false;
            };
            compare(op, Some(r.cmp(&p)))
        }
        _ => false,
    }
}

fn compare(op: &str, ord: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    let Some(o) = ord else { return false };
    if op.ends_with("LessThanEquals") {
        o != Greater
    } else if op.ends_with("LessThan") {
        o == Less
    } else if op.ends_with("GreaterThanEquals") {
        o != Less
    } else if op.ends_with("GreaterThan") {
        o == Greater
    } else {
        o == Equal
    }
}

/// Whether a single request value satisfies the condition.
fn value_satisfies(c: &Condition, request: &str) -> bool {
    let any = c.values.iter().any(|p| matches(&c.operator, request, p));
    if negated(&c.operator) { !any } else { any }
}

/// Evaluates one condition against the request's values.
pub fn holds(c: &Condition, request: &ConditionValues) -> bool {
    let present = request.get(&c.key).filter(|v| !v.is_empty());
    if c.operator == "Null" {
        // Null: "true" means the key must be absent, "false" present.
        let want_absent = c.values.iter().any(|v| v.eq_ignore_ascii_case("true"));
        return want_absent == present.is_none();
    }
    let Some(values) = present else {
        // Absent key: true only with IfExists or ForAllValues (vacuous).
        return c.if_exists || c.set == Some(SetQualifier::ForAllValues);
    };
    match c.set {
        Some(SetQualifier::ForAllValues) => values.iter().all(|v| value_satisfies(c, v)),
        Some(SetQualifier::ForAnyValue) => values.iter().any(|v| value_satisfies(c, v)),
        // A single-valued key: its one value must satisfy the condition.
        None => values.iter().all(|v| value_satisfies(c, v)),
    }
}
