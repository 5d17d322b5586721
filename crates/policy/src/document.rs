//! Key policy documents in the AWS JSON policy language: parsing and
//! validation (errors say what is wrong, for MalformedPolicyDocument).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::condition::Condition;

/// Largest policy AWS KMS accepts (32 KiB).
pub const MAX_POLICY_BYTES: usize = 32 * 1024;

/// Why a policy document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolicyError(pub String);

fn bad(msg: impl Into<String>) -> PolicyError {
    PolicyError(msg.into())
}

/// Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Grants.
    Allow,
    /// Refuses, and wins over any Allow.
    Deny,
}

/// Who a statement is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principals {
    /// `"*"` or `{"AWS": "*"}`: everyone.
    Everyone,
    /// Listed AWS principals (ARNs or account ids) and service names.
    Listed {
        /// The `AWS` entries: ARNs or 12-digit account ids.
        aws: Vec<String>,
        /// The `Service` entries: service principal names.
        services: Vec<String>,
    },
}

/// One statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    /// Optional id.
    pub sid: Option<String>,
    /// Allow or Deny.
    pub effect: Effect,
    /// `Principal`, or `NotPrincipal` when `not_principal`.
    pub principals: Principals,
    /// The statement names everyone except `principals`.
    pub not_principal: bool,
    /// `Action` patterns, or `NotAction` when `not_action`.
    pub actions: Vec<String>,
    /// The statement covers every action except `actions`.
    pub not_action: bool,
    /// `Resource` patterns, or `NotResource` when `not_resource`.
    pub resources: Vec<String>,
    /// The statement covers every resource except `resources`.
    pub not_resource: bool,
    /// Conditions, all of which must hold.
    pub conditions: Vec<Condition>,
}

/// A parsed key policy.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyDocument {
    /// `Version`, if given.
    pub version: Option<String>,
    /// Statements in order.
    pub statements: Vec<Statement>,
}

fn strings(v: &Value, what: &str) -> Result<Vec<String>, PolicyError> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) if !a.is_empty() => a
            .iter()
            .map(|x| match x {
                Value::String(s) => Ok(s.clone()),
                _ => Err(bad(format!("{what} must be strings"))),
            })
            .collect(),
        _ => Err(bad(format!(
            "{what} must be a string or a non-empty list of strings"
        ))),
    }
}

fn principals(v: &Value) -> Result<Principals, PolicyError> {
    match v {
        Value::String(s) if s == "*" => Ok(Principals::Everyone),
        Value::Object(m) => {
            let mut aws = Vec::new();
            let mut services = Vec::new();
            for (kind, val) in m {
                match kind.as_str() {
                    "AWS" => aws.extend(strings(val, "Principal AWS")?),
                    "Service" => services.extend(strings(val, "Principal Service")?),
                    "Federated" | "CanonicalUser" => {
                        return Err(bad(format!("Principal type {kind} is not supported")));
                    }
                    other => return Err(bad(format!("unknown Principal type {other}"))),
                }
            }
            if aws.iter().any(|a| a == "*") {
                return Ok(Principals::Everyone);
            }
            for a in &aws {
                let account_id = a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit());
                if !account_id && !a.starts_with("arn:aws:iam::") && !a.starts_with("arn:aws:sts::")
                {
                    return Err(bad(format!("invalid principal in policy: \"AWS\":\"{a}\"")));
                }
            }
            if aws.is_empty() && services.is_empty() {
                return Err(bad("Principal names nobody"));
            }
            Ok(Principals::Listed { aws, services })
        }
        _ => Err(bad(
            "Principal must be \"*\" or an object like {\"AWS\": ...}",
        )),
    }
}

/// Which kind of policy a document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A key policy: every statement names its principals; KMS actions only.
    Key,
    /// An identity policy (attached to a user or role): no principals; any
    /// service's actions (only `kms:` ones ever match here).
    Identity,
}

fn statement(v: &Value, kind: Kind) -> Result<Statement, PolicyError> {
    let Value::Object(m) = v else {
        return Err(bad("each Statement must be an object"));
    };
    let known = [
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    ];
    if let Some(k) = m.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(bad(format!("unknown statement element {k}")));
    }
    let effect = match m.get("Effect").and_then(Value::as_str) {
        Some("Allow") => Effect::Allow,
        Some("Deny") => Effect::Deny,
        _ => return Err(bad("Effect must be \"Allow\" or \"Deny\"")),
    };
    let pick = |a: &str, b: &str| -> Result<(Option<&Value>, bool), PolicyError> {
        match (m.get(a), m.get(b)) {
            (Some(_), Some(_)) => Err(bad(format!("a statement cannot have both {a} and {b}"))),
            (Some(v), None) => Ok((Some(v), false)),
            (None, Some(v)) => Ok((Some(v), true)),
            (None, None) => Ok((None, false)),
        }
    };
    let (p, not_principal) = pick("Principal", "NotPrincipal")?;
    let principals = match (kind, p) {
        (Kind::Key, None) => return Err(bad("a key policy statement needs a Principal")),
        (Kind::Key, Some(p)) => principals(p)?,
        (Kind::Identity, None) => Principals::Everyone,
        (Kind::Identity, Some(_)) => {
            return Err(bad("an identity policy statement cannot have a Principal"));
        }
    };
    let (a, not_action) = pick("Action", "NotAction")?;
    let actions = strings(
        a.ok_or_else(|| bad("a statement needs an Action"))?,
        "Action",
    )?;
    for action in &actions {
        if kind == Kind::Identity && (action == "*" || action.contains(':')) {
            continue;
        }
        if action != "*" && !action.to_ascii_lowercase().starts_with("kms:") {
            return Err(bad(format!("the action {action} is not a KMS action")));
        }
    }
    let (r, not_resource) = pick("Resource", "NotResource")?;
    let resources = strings(
        r.ok_or_else(|| bad("a statement needs a Resource"))?,
        "Resource",
    )?;
    Ok(Statement {
        sid: m.get("Sid").and_then(Value::as_str).map(str::to_owned),
        effect,
        principals,
        not_principal,
        actions,
        not_action,
        resources,
        not_resource,
        conditions: match m.get("Condition") {
            Some(c) => crate::condition::parse_block(c)?,
            None => Vec::new(),
        },
    })
}

impl PolicyDocument {
    /// Parses and validates a key policy.
    pub fn parse(text: &str) -> Result<Self, PolicyError> {
        Self::parse_as(text, Kind::Key)
    }

    /// Parses and validates an identity policy (no `Principal` elements).
    pub fn parse_identity(text: &str) -> Result<Self, PolicyError> {
        Self::parse_as(text, Kind::Identity)
    }

    fn parse_as(text: &str, kind: Kind) -> Result<Self, PolicyError> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(bad(format!(
                "the policy is larger than {MAX_POLICY_BYTES} bytes"
            )));
        }
        let v: Value = serde_json::from_str(text)
            .map_err(|e| bad(format!("the policy is not valid JSON: {e}")))?;
        let Value::Object(m) = &v else {
            return Err(bad("the policy must be a JSON object"));
        };
        if let Some(k) = m
            .keys()
            .find(|k| !["Version", "Id", "Statement"].contains(&k.as_str()))
        {
            return Err(bad(format!("unknown policy element {k}")));
        }
        let version = match m.get("Version") {
            None => None,
            Some(Value::String(s)) if s == "2012-10-17" || s == "2008-10-17" => Some(s.clone()),
            Some(_) => return Err(bad("Version must be \"2012-10-17\" or \"2008-10-17\"")),
        };
        let statements = match m.get("Statement") {
            Some(Value::Array(a)) if !a.is_empty() => a
                .iter()
                .map(|s| statement(s, kind))
                .collect::<Result<_, _>>()?,
            Some(o @ Value::Object(_)) => vec![statement(o, kind)?],
            _ => {
                return Err(bad(
                    "Statement must be a statement or a non-empty list of them",
                ));
            }
        };
        let mut sids = std::collections::BTreeSet::new();
        for s in &statements {
            if let Some(id) = &s.sid
                && !sids.insert(id.clone())
            {
                return Err(bad(format!("duplicate Sid {id}")));
            }
        }
        Ok(Self {
            version,
            statements,
        })
    }
}

/// Condition values of a request, by lower-cased key.
pub type ConditionValues = BTreeMap<String, Vec<String>>;
