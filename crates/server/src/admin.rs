//! Accounts, access keys and principals (`principals`), for `strongroom
//! admin` and `strongroom dev`.

use strongroom_crypto::random_array;
use strongroom_hsm_proto::{HsmClient, SigV4Scope};
use strongroom_store::{AccessKeyRecord, AccountRecord, Store, StoreError};
use zeroize::Zeroizing;

use crate::clock::now_epoch;
use crate::sigv4;

mod principals;
pub use principals::{
    TemporaryCredentials, assume_role, create_principal, create_principal_access_key, parse_tags,
    put_identity_policy,
};

/// Why an admin action failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
    /// The account does not exist.
    #[error("account {0} does not exist")]
    NoSuchAccount(String),
    /// Store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Module failure.
    #[error("security module: {0}")]
    Hsm(#[from] strongroom_hsm_proto::HsmError),
    /// Random generator failure.
    #[error("random generator failure")]
    Random,
}

/// A new access key pair; the secret is shown once and never stored clear.
pub struct NewAccessKey {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Zeroizing<String>,
}

/// Whether `id` is a valid 12-digit account id.
pub fn valid_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

/// A random 12-digit account id.
pub fn random_account_id() -> Result<String, AdminError> {
    let r: [u8; 8] = random_array().map_err(|_| AdminError::Random)?;
    Ok(format!("{:012}", u64::from_be_bytes(r) % 1_000_000_000_000))
}

/// Creates an account (random id if none is given).
pub async fn create_account(
    store: &dyn Store,
    id: Option<String>,
) -> Result<AccountRecord, AdminError> {
    let id = match id {
        Some(id) => id,
        None => random_account_id()?,
    };
    if !valid_account_id(&id) {
        return Err(AdminError::Invalid(format!(
            "account id must be 12 digits, got '{id}'"
        )));
    }
    let rec = AccountRecord {
        id,
        created_at: now_epoch(),
    };
    store.create_account(&rec).await?;
    Ok(rec)
}

/// A random access key id, `AKIA` and 16 base32 characters.
pub fn random_access_key_id() -> Result<String, AdminError> {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let r: [u8; 16] = random_array().map_err(|_| AdminError::Random)?;
    Ok(format!(
        "AKIA{}",
        r.iter()
            .map(|b| ALPHABET[usize::from(b & 31)] as char)
            .collect::<String>()
    ))
}

fn random_secret() -> Result<Zeroizing<String>, AdminError> {
    use base64::Engine;
    let r = Zeroizing::new(random_array::<30>().map_err(|_| AdminError::Random)?);
    Ok(Zeroizing::new(
        base64::engine::general_purpose::STANDARD.encode(&r[..]),
    ))
}

/// Which access key ids and secrets a caller may choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialRules {
    /// AWS's: an id of 16-128 letters and digits, a secret of 16-128 ASCII
    /// characters (`serve`, `admin create-access-key`).
    Aws,
    /// Test suites' fixed fake credentials (`test`/`test`, `FOOBARKEY`),
    /// for `strongroom dev` only: an id of 1-128 printable ASCII
    /// characters other than space, `/` and `,` (which a SigV4 credential
    /// cannot carry), a secret of 1-128 printable ASCII characters.
    /// Signatures are checked all the same.
    Testing,
}

/// Longest access key id or secret accepted.
const MAX_CREDENTIAL_LEN: usize = 128;

impl CredentialRules {
    /// Whether these rules allow access key id `id` (a frontend under
    /// AWS's rules authenticates no other, whatever its store holds).
    pub fn allows_id(self, id: &str) -> bool {
        match self {
            CredentialRules::Aws => {
                (16..=MAX_CREDENTIAL_LEN).contains(&id.len())
                    && id.bytes().all(|b| b.is_ascii_alphanumeric())
            }
            CredentialRules::Testing => {
                (1..=MAX_CREDENTIAL_LEN).contains(&id.len())
                    && id.bytes().all(is_access_key_id_byte)
            }
        }
    }

    /// Refuses an id or secret these rules do not allow.
    pub fn check(self, id: &str, secret: &str) -> Result<(), AdminError> {
        let (id_ok, secret_ok, rule) = match self {
            CredentialRules::Aws => (
                self.allows_id(id),
                (16..=MAX_CREDENTIAL_LEN).contains(&secret.len()) && secret.is_ascii(),
                "access key id must be 16-128 letters and digits, secret access key 16-128 ASCII characters",
            ),
            CredentialRules::Testing => (
                self.allows_id(id),
                (1..=MAX_CREDENTIAL_LEN).contains(&secret.len())
                    && secret.bytes().all(|b| b == b' ' || b.is_ascii_graphic()),
                "access key id must be 1-128 printable ASCII characters other than space, '/' and ',', \
                 secret access key 1-128 printable ASCII characters",
            ),
        };
        if id_ok && secret_ok {
            Ok(())
        } else {
            Err(AdminError::Invalid(rule.into()))
        }
    }
}

/// A byte an access key id may hold under any rules: printable, and not a
/// separator of the SigV4 `Credential=<id>/<date>/...` field.
pub fn is_access_key_id_byte(b: u8) -> bool {
    b.is_ascii_graphic() && b != b'/' && b != b','
}

/// An access key pair the caller chose, with the rules it must meet.
pub struct GivenCredentials {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Zeroizing<String>,
    /// The rules both must meet.
    pub rules: CredentialRules,
}

/// Creates an access key for `account_id`: random, or the pair given
/// (AWS's rules).
pub async fn create_access_key(
    store: &dyn Store,
    hsm: &HsmClient,
    account_id: &str,
    given: Option<(String, Zeroizing<String>)>,
) -> Result<NewAccessKey, AdminError> {
    let given = given.map(|(access_key_id, secret_access_key)| GivenCredentials {
        access_key_id,
        secret_access_key,
        rules: CredentialRules::Aws,
    });
    issue_access_key(store, hsm, account_id, None, None, None, given).await
}

/// Creates an access key for `account_id` with the pair given, under `rules`.
pub async fn create_given_access_key(
    store: &dyn Store,
    hsm: &HsmClient,
    account_id: &str,
    given: GivenCredentials,
) -> Result<NewAccessKey, AdminError> {
    issue_access_key(store, hsm, account_id, None, None, None, Some(given)).await
}

/// Creates an access key for a principal of `account_id` (`None`: its
/// root); temporary if `expires_at` is set (then `ASIA…`, with the hash of
/// its session token).
pub(crate) async fn issue_access_key(
    store: &dyn Store,
    hsm: &HsmClient,
    account_id: &str,
    principal_arn: Option<String>,
    expires_at: Option<i64>,
    session_token_hash: Option<Vec<u8>>,
    given: Option<GivenCredentials>,
) -> Result<NewAccessKey, AdminError> {
    if store.get_account(account_id).await?.is_none() {
        return Err(AdminError::NoSuchAccount(account_id.to_owned()));
    }
    let (id, secret, rules) = match given {
        Some(g) => (g.access_key_id, g.secret_access_key, g.rules),
        None if expires_at.is_some() => (
            random_access_key_id()?.replacen("AKIA", "ASIA", 1),
            random_secret()?,
            CredentialRules::Aws,
        ),
        None => (
            random_access_key_id()?,
            random_secret()?,
            CredentialRules::Aws,
        ),
    };
    rules.check(&id, &secret)?;
    let sealed = hsm.seal_credential(id.clone(), secret.clone()).await?;
    store
        .put_access_key(&AccessKeyRecord {
            access_key_id: id.clone(),
            account_id: account_id.to_owned(),
            sealed_secret: sealed,
            created_at: now_epoch(),
            active: true,
            principal_arn,
            expires_at,
            session_token_hash,
        })
        .await?;
    Ok(NewAccessKey {
        access_key_id: id,
        secret_access_key: secret,
    })
}

/// Whether `secret` is the secret of stored access key `rec`: compares a
/// signing key derived here with one the module derives from the sealed copy.
pub async fn secret_matches(
    hsm: &HsmClient,
    rec: &AccessKeyRecord,
    secret: &str,
) -> Result<bool, AdminError> {
    let scope = SigV4Scope {
        date: "20000101".into(),
        region: "check".into(),
        service: "kms".into(),
    };
    let theirs = hsm
        .derive_sigv4_key(
            rec.access_key_id.clone(),
            rec.sealed_secret.clone(),
            scope.clone(),
        )
        .await?;
    let ours = sigv4::derive_signing_key(secret, &scope.date, &scope.region, &scope.service);
    Ok(strongroom_crypto::constant_time_eq(&*theirs.0, &*ours))
}

#[cfg(test)]
mod tests {
    use super::CredentialRules::{Aws, Testing};

    #[test]
    fn test_suites_fixed_credentials_pass_only_the_testing_rules() {
        for (id, secret) in [
            ("test", "test"),
            ("FOOBARKEY", "FOOBARSECRET"),
            ("x", "y"),
            ("dev-key_1.a", "a secret with spaces"),
        ] {
            assert!(Testing.check(id, secret).is_ok(), "{id}");
            assert!(Aws.check(id, secret).is_err(), "{id}");
        }
        assert!(
            Aws.check(
                "AKIAIOSFODNN7EXAMPLE",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
            )
            .is_ok()
        );
    }

    #[test]
    fn credentials_no_sigv4_header_can_carry_are_refused_by_both_rules() {
        let long = "k".repeat(129);
        for (id, secret) in [
            ("", "test"),
            ("test", ""),
            ("a/b", "test"),
            ("a,b", "test"),
            ("a b", "test"),
            ("tab\tid", "test"),
            ("caf\u{e9}", "test"),
            ("test", "line\nbreak"),
            (long.as_str(), "test"),
            ("test", long.as_str()),
        ] {
            assert!(Testing.check(id, secret).is_err(), "{id:?} / {secret:?}");
            assert!(Aws.check(id, secret).is_err(), "{id:?} / {secret:?}");
        }
    }
}
