//! PutKeyPolicy, GetKeyPolicy, ListKeyPolicies (one policy per key, named
//! `default`, as in AWS).

use serde::{Deserialize, Serialize};
use strongroom_policy::{PolicyDocument, default_policy};

use crate::auth::Caller;
use crate::authz::RequestCtx;
use crate::error::KmsError;
use crate::processor::Processor;
use crate::protocol::Empty;
use crate::validate::{Presence::*, Validate, Validator, shapes};

/// PutKeyPolicy / GetKeyPolicy / ListKeyPolicies input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct KeyPolicyRequest {
    pub key_id: Option<String>,
    pub policy_name: Option<String>,
    pub policy: Option<String>,
    pub bypass_policy_lockout_safety_check: Option<bool>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

/// GetKeyPolicy output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyPolicyResponse {
    pub policy: String,
    pub policy_name: &'static str,
}

/// ListKeyPolicies output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyPoliciesResponse {
    pub policy_names: Vec<&'static str>,
    pub truncated: bool,
}

impl Validate for KeyPolicyRequest {
    fn validate(&self, v: &mut Validator) {
        v.key_id(self.key_id.as_deref());
        v.string(
            "policyName",
            self.policy_name.as_deref(),
            &shapes::POLICY_NAME,
            Optional,
        );
        let policy = v.required_in(&["PutKeyPolicy"]);
        v.string("policy", self.policy.as_deref(), &shapes::POLICY, policy);
        v.integer("limit", self.limit, &shapes::LIMIT, Optional);
        v.string("marker", self.marker.as_deref(), &shapes::MARKER, Optional);
    }
}

fn policy_name(name: &Option<String>) -> Result<(), KmsError> {
    match name.as_deref() {
        None | Some("default") => Ok(()),
        Some(other) => Err(KmsError::NotFound(format!(
            "No such policy exists: {other}. The only key policy name is \"default\"."
        ))),
    }
}

/// Parses a policy for key `key_arn` and, unless bypassed, checks the
/// caller could still change it afterwards; returns the text to store.
pub(crate) fn validated(
    caller: &Caller,
    conditions: &strongroom_policy::ConditionValues,
    key_arn: &str,
    text: &str,
    bypass_lockout_check: bool,
) -> Result<String, KmsError> {
    let doc = PolicyDocument::parse(text).map_err(|e| KmsError::MalformedPolicyDocument(e.0))?;
    if !bypass_lockout_check {
        crate::authz::lockout_check(caller, conditions, key_arn, &doc)?;
    }
    Ok(text.to_string())
}

impl Processor {
    pub(crate) async fn put_key_policy(
        &self,
        rq: &mut RequestCtx<'_>,
        req: KeyPolicyRequest,
    ) -> Result<Empty, KmsError> {
        let caller = rq.caller();
        policy_name(&req.policy_name)?;
        let text = req
            .policy
            .clone()
            .ok_or_else(|| crate::validate::null("policy"))?;
        let bypass = req.bypass_policy_lockout_safety_check == Some(true);
        // The check sees the caller as this request does (account,
        // principal, transport, time), so a condition on those is judged
        // as it will be at the next PutKeyPolicy.
        let conditions = rq.conditions();
        self.modify_key(rq, &req.key_id, |p, k| {
            k.policy = Some(validated(
                caller,
                &conditions,
                &p.key_arn(k),
                &text,
                bypass,
            )?);
            Ok(())
        })
        .await?;
        Ok(Empty {})
    }

    pub(crate) async fn get_key_policy(
        &self,
        rq: &mut RequestCtx<'_>,
        req: KeyPolicyRequest,
    ) -> Result<GetKeyPolicyResponse, KmsError> {
        policy_name(&req.policy_name)?;
        let key = self.resolve(rq, &req.key_id, false).await?;
        Ok(GetKeyPolicyResponse {
            policy: key
                .policy
                .clone()
                .unwrap_or_else(|| default_policy(&key.account_id)),
            policy_name: "default",
        })
    }

    pub(crate) async fn list_key_policies(
        &self,
        rq: &mut RequestCtx<'_>,
        req: KeyPolicyRequest,
    ) -> Result<ListKeyPoliciesResponse, KmsError> {
        self.resolve(rq, &req.key_id, false).await?;
        Ok(ListKeyPoliciesResponse {
            policy_names: vec!["default"],
            truncated: false,
        })
    }
}
