//! Administration of the identities below an account (`identity`): users,
//! roles and service principals, their identity policies, long-term access
//! keys, and role sessions' temporary credentials.

use base64::Engine;
use strongroom_crypto::{random_array, sha256};
use strongroom_hsm_proto::HsmClient;
use strongroom_policy::PolicyDocument;
use strongroom_store::{PrincipalKind, PrincipalRecord, Store, Tag};
use zeroize::Zeroizing;

use super::{AdminError, NewAccessKey, issue_access_key};
use crate::clock::now_epoch;

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b))
}

/// Parses `key=value` tags.
pub fn parse_tags(tags: &[String]) -> Result<Vec<Tag>, AdminError> {
    tags.iter()
        .map(|t| {
            let (k, v) = t
                .split_once('=')
                .ok_or_else(|| AdminError::Invalid(format!("tag '{t}' is not KEY=VALUE")))?;
            if k.is_empty() || k.len() > 128 || v.len() > 256 {
                return Err(AdminError::Invalid(format!("tag '{t}' is out of bounds")));
            }
            Ok(Tag {
                key: k.into(),
                value: v.into(),
            })
        })
        .collect()
}

fn check_policy(policy: &Option<String>) -> Result<(), AdminError> {
    if let Some(text) = policy {
        PolicyDocument::parse_identity(text)
            .map_err(|e| AdminError::Invalid(format!("identity policy: {}", e.0)))?;
    }
    Ok(())
}

/// Creates a user, role or service principal in `account_id`.
pub async fn create_principal(
    store: &dyn Store,
    account_id: &str,
    kind: PrincipalKind,
    name: &str,
    policy: Option<String>,
    tags: Vec<Tag>,
    service_name: Option<String>,
) -> Result<PrincipalRecord, AdminError> {
    if store.get_account(account_id).await?.is_none() {
        return Err(AdminError::NoSuchAccount(account_id.to_owned()));
    }
    if !valid_name(name) {
        return Err(AdminError::Invalid(format!(
            "name '{name}' must be 1-64 characters of letters, digits and +=,.@_-"
        )));
    }
    check_policy(&policy)?;
    if let Some(s) = &service_name
        && (s.is_empty() || s.len() > 128 || !s.contains('.'))
    {
        return Err(AdminError::Invalid(format!(
            "service name '{s}' must look like objectstore.example.com"
        )));
    }
    let path = match kind {
        PrincipalKind::User | PrincipalKind::Service => "user",
        PrincipalKind::Role => "role",
        PrincipalKind::XksKeyStore => {
            return Err(AdminError::Invalid(
                "external key stores are created with `strongroom admin xks create-keystore`"
                    .into(),
            ));
        }
    };
    let rec = PrincipalRecord {
        arn: format!("arn:aws:iam::{account_id}:{path}/{name}"),
        account_id: account_id.to_owned(),
        kind,
        name: name.to_owned(),
        policy,
        tags,
        service_name,
        created_at: now_epoch(),
    };
    store.create_principal(&rec).await?;
    Ok(rec)
}

/// Replaces a principal's identity policy (`None` removes it).
pub async fn put_identity_policy(
    store: &dyn Store,
    arn: &str,
    policy: Option<String>,
) -> Result<PrincipalRecord, AdminError> {
    check_policy(&policy)?;
    let mut p = store
        .get_principal(arn)
        .await?
        .ok_or_else(|| AdminError::Invalid(format!("no principal {arn}")))?;
    p.policy = policy;
    store.update_principal(&p).await?;
    Ok(p)
}

/// A long-term access key for a user or service principal.
pub async fn create_principal_access_key(
    store: &dyn Store,
    hsm: &HsmClient,
    arn: &str,
) -> Result<NewAccessKey, AdminError> {
    let p = store
        .get_principal(arn)
        .await?
        .ok_or_else(|| AdminError::Invalid(format!("no principal {arn}")))?;
    if p.kind == PrincipalKind::Role {
        return Err(AdminError::Invalid(
            "roles have no long-term access keys; use assume-role".into(),
        ));
    }
    if p.kind == PrincipalKind::XksKeyStore {
        return Err(AdminError::Invalid(
            "external key stores get credentials with `strongroom admin xks add-credential`".into(),
        ));
    }
    issue_access_key(store, hsm, &p.account_id, Some(p.arn), None, None, None).await
}

/// Temporary credentials for a role session.
pub struct TemporaryCredentials {
    /// The key (access key id, secret).
    pub key: NewAccessKey,
    /// The session token the client must send (`X-Amz-Security-Token`).
    pub session_token: Zeroizing<String>,
    /// When they stop working (epoch seconds).
    pub expiration: i64,
    /// The session's ARN.
    pub session_arn: String,
}

/// Issues temporary credentials for role `role_arn` (15 min to 12 h).
pub async fn assume_role(
    store: &dyn Store,
    hsm: &HsmClient,
    role_arn: &str,
    session_name: &str,
    duration_secs: i64,
) -> Result<TemporaryCredentials, AdminError> {
    let p = store
        .get_principal(role_arn)
        .await?
        .ok_or_else(|| AdminError::Invalid(format!("no role {role_arn}")))?;
    if p.kind != PrincipalKind::Role {
        return Err(AdminError::Invalid(format!("{role_arn} is not a role")));
    }
    if !(900..=43_200).contains(&duration_secs) {
        return Err(AdminError::Invalid(
            "duration must be 900 to 43200 seconds".into(),
        ));
    }
    if !valid_name(session_name) || session_name.len() < 2 {
        return Err(AdminError::Invalid(format!(
            "session name '{session_name}' must be 2-64 characters of letters, digits and +=,.@_-"
        )));
    }
    let token_bytes = Zeroizing::new(random_array::<48>().map_err(|_| AdminError::Random)?);
    let token = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&token_bytes[..]));
    let expiration = now_epoch() + duration_secs;
    let session_arn = format!(
        "arn:aws:sts::{}:assumed-role/{}/{session_name}",
        p.account_id, p.name
    );
    let key = issue_access_key(
        store,
        hsm,
        &p.account_id,
        Some(session_arn.clone()),
        Some(expiration),
        Some(sha256(token.as_bytes()).to_vec()),
        None,
    )
    .await?;
    Ok(TemporaryCredentials {
        key,
        session_token: token,
        expiration,
        session_arn,
    })
}
