//! Grants: CreateGrant, ListGrants, ListRetirableGrants, RetireGrant,
//! RevokeGrant. A grant lets one principal use one key for listed
//! operations, optionally only with a given encryption context. Grants are
//! in force as soon as CreateGrant answers, so a grant token is never
//! needed to bridge eventual consistency; tokens are still accepted
//! wherever AWS accepts them, and RetireGrant takes one.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};
use strongroom_crypto::random_array;
use strongroom_store::GrantRecord;

use crate::authz::RequestCtx;
use crate::error::KmsError;
use crate::processor::{Processor, required};
use crate::protocol::{Empty, EncryptionContext};
use crate::validate::{self, Presence::*, Validate, Validator, shapes};

/// Grant constraints (AWS `GrantConstraints`).
#[derive(Debug, Deserialize, Serialize, Default, Clone, PartialEq, Eq)]
#[serde(rename_all = "PascalCase", default)]
pub struct GrantConstraints {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context_equals: Option<EncryptionContext>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context_subset: Option<EncryptionContext>,
}

/// CreateGrant input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateGrantRequest {
    pub key_id: Option<String>,
    pub grantee_principal: Option<String>,
    pub retiring_principal: Option<String>,
    pub operations: Option<Vec<String>>,
    pub constraints: Option<GrantConstraints>,
    pub grant_tokens: Option<Vec<String>>,
    pub name: Option<String>,
    pub dry_run: Option<bool>,
}

/// CreateGrant output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGrantResponse {
    pub grant_token: String,
    pub grant_id: String,
}

/// ListGrants / ListRetirableGrants / RetireGrant / RevokeGrant input.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct GrantQuery {
    pub key_id: Option<String>,
    pub grant_id: Option<String>,
    pub grant_token: Option<String>,
    pub grantee_principal: Option<String>,
    pub retiring_principal: Option<String>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
    pub dry_run: Option<bool>,
}

/// One grant as ListGrants shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GrantListEntry {
    pub key_id: String,
    pub grant_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub creation_date: i64,
    pub grantee_principal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retiring_principal: Option<String>,
    pub issuing_account: String,
    pub operations: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraints: Option<GrantConstraints>,
}

/// ListGrants / ListRetirableGrants output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGrantsResponse {
    pub grants: Vec<GrantListEntry>,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
}

fn pairs(ctx: &Option<EncryptionContext>) -> Option<Vec<(String, String)>> {
    ctx.as_ref()
        .map(|c| c.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

fn unpairs(p: &Option<Vec<(String, String)>>) -> Option<EncryptionContext> {
    p.as_ref()
        .map(|v| v.iter().cloned().collect::<BTreeMap<_, _>>())
}

/// A principal a grant may name: an IAM/STS ARN, or a service principal.
fn check_principal(p: &str, field: &str) -> Result<(), KmsError> {
    let ok = (1..=256).contains(&p.len())
        && !p.chars().any(char::is_whitespace)
        && ((p.starts_with("arn:aws:iam::") || p.starts_with("arn:aws:sts::"))
            && p.split(':').count() == 6
            || p.ends_with(".amazonaws.com")
            || p.ends_with(".strongroom"));
    if ok {
        Ok(())
    } else {
        Err(KmsError::InvalidArn(format!(
            "{field} '{p}' is not a valid principal ARN."
        )))
    }
}

impl Validate for CreateGrantRequest {
    fn validate(&self, v: &mut Validator) {
        v.key_id(self.key_id.as_deref());
        v.string(
            "granteePrincipal",
            self.grantee_principal.as_deref(),
            &shapes::PRINCIPAL_ID,
            Optional,
        );
        v.string(
            "retiringPrincipal",
            self.retiring_principal.as_deref(),
            &shapes::PRINCIPAL_ID,
            Optional,
        );
        v.enum_list(
            "operations",
            self.operations.as_deref(),
            shapes::GRANT_OPERATION,
            Required,
        );
        v.grant_tokens(self.grant_tokens.as_deref());
        v.string("name", self.name.as_deref(), &shapes::GRANT_NAME, Optional);
    }
}

impl Validate for GrantQuery {
    fn validate(&self, v: &mut Validator) {
        v.integer("limit", self.limit, &shapes::LIMIT, Optional);
        v.string("marker", self.marker.as_deref(), &shapes::MARKER, Optional);
        let key_id = v.required_in(&["ListGrants", "RevokeGrant"]);
        v.string("keyId", self.key_id.as_deref(), &shapes::KEY_ID, key_id);
        let grant_id = v.required_in(&["RevokeGrant"]);
        v.string(
            "grantId",
            self.grant_id.as_deref(),
            &shapes::GRANT_ID,
            grant_id,
        );
        v.string(
            "grantToken",
            self.grant_token.as_deref(),
            &shapes::GRANT_TOKEN,
            Optional,
        );
        v.string(
            "granteePrincipal",
            self.grantee_principal.as_deref(),
            &shapes::PRINCIPAL_ID,
            Optional,
        );
        v.string(
            "retiringPrincipal",
            self.retiring_principal.as_deref(),
            &shapes::PRINCIPAL_ID,
            Optional,
        );
    }
}

/// The grant's operations, each once; AWS's operations Strongroom does
/// not serve (Encapsulate, Decapsulate) are refused naming those it does.
fn check_operations(ops: &Option<Vec<String>>) -> Result<Vec<String>, KmsError> {
    let ops = ops.as_ref().ok_or_else(|| validate::null("operations"))?;
    if ops.is_empty() {
        return Err(validate::error(
            "operations",
            Some("[]".into()),
            validate::Constraint::MinLength(1),
        ));
    }
    // Which operations a grant may list comes from the operation table.
    let allowed = crate::ops::grant_operations();
    let mut out: Vec<String> = Vec::new();
    for op in ops {
        if !allowed.contains(&op.as_str()) {
            return Err(KmsError::UnsupportedOperation(format!(
                "Grant operation {op} is not supported; supported: {}.",
                allowed.join(", ")
            )));
        }
        if !out.contains(op) {
            out.push(op.clone());
        }
    }
    Ok(out)
}

fn new_grant_ids() -> Result<(String, String), KmsError> {
    let id: [u8; 32] =
        random_array().map_err(|_| KmsError::Internal("no randomness available".into()))?;
    let token: [u8; 48] =
        random_array().map_err(|_| KmsError::Internal("no randomness available".into()))?;
    Ok((
        hex::encode(id),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token),
    ))
}

/// One page of `grants` (sorted by id) after `marker`; `arn_of` names each
/// grant's key.
fn page(
    grants: Vec<GrantRecord>,
    req: &GrantQuery,
    arn_of: impl Fn(&GrantRecord) -> String,
) -> Result<ListGrantsResponse, KmsError> {
    let limit = crate::ops::keys::page_limit(req.limit, 100, 50);
    let start = match req.marker.as_deref() {
        None => 0,
        Some(m) => {
            if m.len() != 64 || !m.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(KmsError::InvalidMarker(
                    "The marker is not one this service issued.".into(),
                ));
            }
            grants.partition_point(|g| g.grant_id.as_str() <= m)
        }
    };
    let rest = &grants[start.min(grants.len())..];
    let shown = &rest[..limit.min(rest.len())];
    let truncated = rest.len() > shown.len();
    Ok(ListGrantsResponse {
        grants: shown.iter().map(|g| entry(arn_of(g), g)).collect(),
        truncated,
        next_marker: if truncated {
            shown.last().map(|g| g.grant_id.clone())
        } else {
            None
        },
    })
}

fn entry(key_arn: String, g: &GrantRecord) -> GrantListEntry {
    let constraints =
        (g.context_equals.is_some() || g.context_subset.is_some()).then(|| GrantConstraints {
            encryption_context_equals: unpairs(&g.context_equals),
            encryption_context_subset: unpairs(&g.context_subset),
        });
    GrantListEntry {
        key_id: key_arn,
        grant_id: g.grant_id.clone(),
        name: g.name.clone(),
        creation_date: g.created_at,
        grantee_principal: g.grantee.clone(),
        retiring_principal: g.retiring.clone(),
        issuing_account: format!("arn:aws:iam::{}:root", g.issuing_account),
        operations: g.operations.clone(),
        constraints,
    }
}

/// Whether `new` asks for no more than `parent` allows (a grantee with
/// the CreateGrant operation may only pass on what it holds).
fn within(parent: &GrantRecord, new: &GrantRecord) -> bool {
    new.operations.iter().all(|o| parent.operations.contains(o))
        && (parent.context_equals.is_none() || parent.context_equals == new.context_equals)
        && (parent.context_subset.is_none() || parent.context_subset == new.context_subset)
}

impl Processor {
    pub(crate) async fn create_grant(
        &self,
        rq: &mut RequestCtx<'_>,
        req: CreateGrantRequest,
    ) -> Result<CreateGrantResponse, KmsError> {
        let caller = rq.caller();
        let grantee = required(&req.grantee_principal, "granteePrincipal")?.to_string();
        check_principal(&grantee, "GranteePrincipal")?;
        if let Some(r) = &req.retiring_principal {
            check_principal(r, "RetiringPrincipal")?;
        }
        let operations = check_operations(&req.operations)?;
        let constraints = req.constraints.clone().unwrap_or_default();
        rq.note("kms:grantoperations", operations.clone());
        rq.note("kms:granteeprincipal", vec![grantee.clone()]);
        if let Some(r) = &req.retiring_principal {
            rq.note("kms:retiringprincipal", vec![r.clone()]);
        }
        rq.note("kms:grantisforawsresource", vec!["false".into()]);
        // Under the key's lock, as the deletion sweep: a grant is never
        // written for a key deleted between this state check and the write.
        let guard = self.lock_named(rq, &[&req.key_id], &[]).await?;
        let key = self.resolve(rq, &req.key_id, false).await?;
        crate::processor::locked(&guard, &key)?;
        self.check_key_state(rq.operation().name, &key)?;
        let mut grant = GrantRecord {
            grant_id: String::new(),
            key_id: key.id,
            key_account_id: key.account_id.clone(),
            name: req.name.clone(),
            grantee,
            retiring: req.retiring_principal.clone(),
            operations,
            context_equals: pairs(&constraints.encryption_context_equals),
            context_subset: pairs(&constraints.encryption_context_subset),
            issuing_account: caller.account_id.clone(),
            created_at: self.now(),
            token: String::new(),
        };
        let existing = self.grants_of(key.id).await?;
        // Allowed only through a CreateGrant grant? Then no escalation.
        if crate::authz::authorize(&self.policies, rq, &key, key.arn(), &[]).is_err() {
            let me = crate::authz::principal_arn(caller);
            let ok = existing.iter().any(|g| {
                crate::authz::grant_allows(g, &me, "kms:CreateGrant", None) && within(g, &grant)
            });
            if !ok {
                return Err(KmsError::AccessDenied(format!(
                    "User: {me} is not authorized to perform: kms:CreateGrant on resource: {} because the new grant allows more than the grant it is created through",
                    self.key_arn(&key)
                )));
            }
        }
        if req.dry_run == Some(true) {
            return Err(KmsError::DryRun);
        }
        // A retry with the same name and parameters returns the same grant.
        if grant.name.is_some()
            && let Some(same) = existing.iter().find(|g| {
                g.name == grant.name
                    && g.grantee == grant.grantee
                    && g.retiring == grant.retiring
                    && g.operations == grant.operations
                    && g.context_equals == grant.context_equals
                    && g.context_subset == grant.context_subset
            })
        {
            return Ok(CreateGrantResponse {
                grant_token: same.token.clone(),
                grant_id: same.grant_id.clone(),
            });
        }
        let (id, token) = new_grant_ids()?;
        grant.grant_id = id;
        grant.token = token;
        let change = self.begin_change(rq).await?;
        self.repo.create_grant(&change, &grant).await?;
        Ok(CreateGrantResponse {
            grant_token: grant.token,
            grant_id: grant.grant_id,
        })
    }

    pub(crate) async fn list_grants(
        &self,
        rq: &mut RequestCtx<'_>,
        req: GrantQuery,
    ) -> Result<ListGrantsResponse, KmsError> {
        let key = self.resolve(rq, &req.key_id, false).await?;
        let grants = self
            .grants_of(key.id)
            .await?
            .iter()
            .filter(|g| req.grant_id.as_ref().is_none_or(|id| &g.grant_id == id))
            .filter(|g| {
                req.grantee_principal
                    .as_ref()
                    .is_none_or(|p| &g.grantee == p)
            })
            .cloned()
            .collect();
        page(grants, &req, |_| key.arn().to_owned())
    }

    pub(crate) async fn list_retirable_grants(
        &self,
        rq: &mut RequestCtx<'_>,
        req: GrantQuery,
    ) -> Result<ListGrantsResponse, KmsError> {
        let caller = rq.caller();
        let principal = required(&req.retiring_principal, "retiringPrincipal")?;
        check_principal(principal, "RetiringPrincipal")?;
        // Only about principals of one's own account (AWS: an IAM policy
        // of that account decides; the account itself may always).
        if principal.split(':').nth(4) != Some(caller.account_id.as_str()) {
            return Err(KmsError::AccessDenied(format!(
                "User: {} is not authorized to perform: kms:ListRetirableGrants for principal {principal}",
                crate::authz::principal_arn(caller)
            )));
        }
        let region = caller.region.as_str();
        let grants = self
            .reads()
            .list_retirable_grants(principal, region)
            .await?;
        // Each key by its ARN (a multi-Region key's copy: `key/mrk-…`).
        let mut arns = std::collections::HashMap::new();
        for g in &grants {
            if let std::collections::hash_map::Entry::Vacant(slot) = arns.entry(g.key_id) {
                slot.insert(match self.load_key(g.key_id).await? {
                    Some(k) => self.key_arn(&k),
                    None => crate::arn::key_arn(region, &g.key_account_id, g.key_id),
                });
            }
        }
        page(grants, &req, |g| arns[&g.key_id].clone())
    }

    pub(crate) async fn retire_grant(
        &self,
        rq: &mut RequestCtx<'_>,
        req: GrantQuery,
    ) -> Result<Empty, KmsError> {
        let grant = match (&req.grant_token, &req.key_id, &req.grant_id) {
            (Some(t), _, _) => self.reads().grant_by_token(t).await?.ok_or_else(|| {
                KmsError::InvalidGrantToken("The grant token is not valid.".into())
            })?,
            (None, Some(k), Some(id)) => {
                let key_id = crate::arn::parse_key_id(k)
                    .and_then(|p| match p {
                        crate::arn::KeyIdentifier::Key { id, .. } => Some(id),
                        crate::arn::KeyIdentifier::MultiRegion { id, region, .. } => {
                            let here = rq.caller().region.to_string();
                            Some(crate::multi_region::row_id(id, &region.unwrap_or(here)))
                        }
                        _ => None,
                    })
                    .ok_or_else(|| KmsError::key_not_found(k))?;
                self.reads()
                    .list_grants(key_id)
                    .await?
                    .into_iter()
                    .find(|g| &g.grant_id == id)
                    .ok_or_else(|| KmsError::grant_not_found(id))?
            }
            _ => {
                return Err(KmsError::Validation(
                    "RetireGrant needs a GrantToken, or a KeyId and a GrantId.".into(),
                ));
            }
        };
        // Grants follow their key's region: one elsewhere does not exist here.
        let region = rq.caller().region.clone();
        let Some(key) = self
            .load_key(grant.key_id)
            .await?
            .filter(|k| k.region == region.as_str())
        else {
            return Err(match req.grant_token {
                Some(_) => KmsError::InvalidGrantToken("The grant token is not valid.".into()),
                None => KmsError::grant_not_found(&grant.grant_id),
            });
        };
        // A multi-Region key's copy by its `key/mrk-…` ARN, never its row id.
        let key_arn = self.key_arn(&key);
        crate::authz::authorize_retire(rq, &grant, &key_arn)?;
        if req.dry_run == Some(true) {
            return Err(KmsError::DryRun);
        }
        let change = self.begin_change(rq).await?;
        self.repo
            .delete_grant(&change, grant.key_id, &grant.grant_id)
            .await?;
        Ok(Empty {})
    }

    pub(crate) async fn revoke_grant(
        &self,
        rq: &mut RequestCtx<'_>,
        req: GrantQuery,
    ) -> Result<Empty, KmsError> {
        let id = required(&req.grant_id, "grantId")?.to_string();
        if id.len() > 128 {
            return Err(KmsError::InvalidGrantId(
                "The grant id is not valid.".into(),
            ));
        }
        rq.note_grant(&id);
        let key = self.resolve(rq, &req.key_id, false).await?;
        if !self
            .grants_of(key.id)
            .await?
            .iter()
            .any(|g| g.grant_id == id)
        {
            return Err(KmsError::grant_not_found(id));
        }
        if req.dry_run == Some(true) {
            return Err(KmsError::DryRun);
        }
        let change = self.begin_change(rq).await?;
        self.repo.delete_grant(&change, key.id, &id).await?;
        Ok(Empty {})
    }
}
