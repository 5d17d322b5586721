//! Administration of external key stores (`strongroom admin xks ...`):
//! create one (a principal of kind `xks_key_store` named by its URI prefix,
//! with its first credential), add and revoke credentials, list them.
//!
//! Credentials are access keys as the specification shapes them (ids of
//! 20-30 characters `A`-`Z`, `2`-`7`; secrets of 43-64 Base64 characters),
//! sealed by a module like every access key. A revoked credential is
//! deactivated (older revocations are tags on the key store's principal);
//! [`crate::auth::Authenticator::authenticate_xks`] refuses either within
//! the identity cache's lifetime (5 s).

use strongroom_crypto::random_array;
use strongroom_hsm_proto::HsmClient;
use strongroom_store::{PrincipalKind, PrincipalRecord, Store, Tag};
use zeroize::Zeroizing;

use super::keystores::{self, KeyStore};
use super::path;
use crate::admin::{AdminError, CredentialRules, GivenCredentials, NewAccessKey, issue_access_key};
use crate::clock::now_epoch;

/// Tag key prefix marking a revoked credential on a key store's principal.
pub const REVOKED_TAG_PREFIX: &str = "strongroom:xks-revoked:";
/// Job name prefix of the lease reserving a URI prefix for one key store.
const PREFIX_LEASE: &str = "xks-uri-prefix:";
/// Characters of a credential's access key id.
const ACCESS_KEY_ID_LEN: usize = 26;

/// The policy a key store's principal gets: the KMS operations the XKS
/// APIs stand for, on its own account's keys. Key policies and grants then
/// decide per key, as for anyone.
fn identity_policy(account_id: &str) -> String {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ExternalKeyStore",
            "Effect": "Allow",
            "Action": ["kms:DescribeKey", "kms:Encrypt", "kms:Decrypt"],
            "Resource": format!("arn:aws:kms:*:{account_id}:key/*"),
        }]
    })
    .to_string()
}

fn random_pair() -> Result<GivenCredentials, AdminError> {
    use base64::Engine;
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let r: [u8; ACCESS_KEY_ID_LEN] = random_array().map_err(|_| AdminError::Random)?;
    let id = r
        .iter()
        .map(|b| ALPHABET[usize::from(b & 31)] as char)
        .collect();
    let s = Zeroizing::new(random_array::<32>().map_err(|_| AdminError::Random)?);
    let secret = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&s[..]));
    Ok(GivenCredentials {
        access_key_id: id,
        secret_access_key: secret,
        rules: CredentialRules::Aws,
    })
}

async fn principal_of(store: &dyn Store, prefix: &str) -> Result<PrincipalRecord, AdminError> {
    let prefix = path::normalize_prefix(prefix)
        .ok_or_else(|| AdminError::Invalid(format!("'{prefix}' is not a valid URI prefix")))?;
    let ks = keystores::list_all(store)
        .await
        .map_err(|e| AdminError::Invalid(e.to_string()))?
        .into_iter()
        .find(|k| k.prefix == prefix)
        .ok_or_else(|| AdminError::Invalid(format!("no external key store has prefix {prefix}")))?;
    store
        .get_principal(&ks.arn)
        .await?
        .ok_or_else(|| AdminError::Invalid(format!("no principal {}", ks.arn)))
}

/// A new key store and its first credential.
pub async fn create_keystore(
    store: &dyn Store,
    hsm: &HsmClient,
    account_id: &str,
    prefix: &str,
) -> Result<(KeyStore, NewAccessKey), AdminError> {
    let prefix = path::normalize_prefix(prefix).ok_or_else(|| {
        AdminError::Invalid(format!(
            "URI prefix '{prefix}' must be /-separated segments of letters, digits, '-' and '_', \
             at most {} characters with /kms/xks/v1",
            path::MAX_URI_PATH
        ))
    })?;
    if store.get_account(account_id).await?.is_none() {
        return Err(AdminError::NoSuchAccount(account_id.to_owned()));
    }
    let taken = keystores::list_all(store)
        .await
        .map_err(|e| AdminError::Invalid(e.to_string()))?
        .into_iter()
        .any(|k| k.prefix == prefix);
    let arn = keystores::key_store_arn(account_id, &prefix);
    // The check above races with a concurrent create in another account
    // (the principal's ARN names the account, so its uniqueness does not
    // cover the prefix): a lease that never lapses reserves the prefix for
    // this key store, atomically, on either store backend.
    let reserved = store
        .try_lease(
            &format!("{PREFIX_LEASE}{prefix}"),
            &arn,
            now_epoch(),
            i64::MAX,
        )
        .await?;
    if taken || !reserved {
        return Err(AdminError::Invalid(format!(
            "an external key store already has prefix {prefix}"
        )));
    }
    let rec = PrincipalRecord {
        arn,
        account_id: account_id.to_owned(),
        kind: PrincipalKind::XksKeyStore,
        name: prefix.clone(),
        policy: Some(identity_policy(account_id)),
        tags: Vec::new(),
        service_name: None,
        created_at: now_epoch(),
    };
    store.create_principal(&rec).await?;
    let key = add_credential(store, hsm, &prefix).await?;
    Ok((
        KeyStore {
            arn: rec.arn,
            account_id: rec.account_id,
            prefix,
        },
        key,
    ))
}

/// A further credential for the key store of `prefix` (for rotation).
pub async fn add_credential(
    store: &dyn Store,
    hsm: &HsmClient,
    prefix: &str,
) -> Result<NewAccessKey, AdminError> {
    let p = principal_of(store, prefix).await?;
    let pair = random_pair()?;
    issue_access_key(
        store,
        hsm,
        &p.account_id,
        Some(p.arn),
        None,
        None,
        Some(pair),
    )
    .await
}

/// Revokes credential `access_key_id` of the key store of `prefix`: the
/// access key is deactivated in its own row (credentials revoked before
/// that was so carry a tag on the principal, still honoured).
pub async fn revoke_credential(
    store: &dyn Store,
    prefix: &str,
    access_key_id: &str,
) -> Result<(), AdminError> {
    let p = principal_of(store, prefix).await?;
    let key = store
        .get_access_key(access_key_id)
        .await?
        .filter(|k| k.principal_arn.as_deref() == Some(p.arn.as_str()))
        .ok_or_else(|| {
            AdminError::Invalid(format!(
                "{access_key_id} is not a credential of the key store {}",
                p.name
            ))
        })?;
    store.deactivate_access_key(&key.access_key_id).await?;
    Ok(())
}

/// One credential as `xks list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialSummary {
    /// The access key id.
    pub access_key_id: String,
    /// Epoch seconds.
    pub created_at: i64,
    /// Whether it still signs.
    pub live: bool,
}

/// Every key store with its credentials.
pub async fn list(
    store: &dyn Store,
) -> Result<Vec<(KeyStore, Vec<CredentialSummary>)>, AdminError> {
    let mut out = Vec::new();
    for ks in keystores::list_all(store)
        .await
        .map_err(|e| AdminError::Invalid(e.to_string()))?
    {
        let p = store
            .get_principal(&ks.arn)
            .await?
            .ok_or_else(|| AdminError::Invalid(format!("no principal {}", ks.arn)))?;
        let creds = store
            .list_access_keys(&ks.account_id)
            .await?
            .into_iter()
            .filter(|k| k.principal_arn.as_deref() == Some(ks.arn.as_str()))
            .map(|k| CredentialSummary {
                live: k.active && !is_revoked(&p.tags, &k.access_key_id),
                access_key_id: k.access_key_id,
                created_at: k.created_at,
            })
            .collect();
        out.push((ks, creds));
    }
    Ok(out)
}

/// Whether tags of a key store's principal revoke `access_key_id`.
pub fn is_revoked<'t>(tags: impl IntoIterator<Item = &'t Tag>, access_key_id: &str) -> bool {
    tags.into_iter().any(|t| {
        t.key
            .strip_prefix(REVOKED_TAG_PREFIX)
            .is_some_and(|id| id == access_key_id)
    })
}
