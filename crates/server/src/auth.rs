//! Who is calling: SigV4 verification against access keys whose secrets
//! only a security module can open.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, Method, Uri};
use dashmap::DashMap;
use strongroom_crypto::{constant_time_eq, sha256};
use strongroom_hsm_proto::{HsmClient, SigV4Scope};
use strongroom_store::{AccessKeyRecord, Store};
use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::admin::CredentialRules;
use crate::error::KmsError;
use crate::identity::{Identity, role_of_session};
use crate::region::{Region, RegionSet};
use crate::sigv4::{self, RequestParts};

pub mod account_keys;
mod request_checks;
mod source_budget;
pub mod unknown_keys;

use source_budget::SourceBudgets;
use unknown_keys::{Refusal, UnknownKeyBudget, UnknownKeys};

/// Headers a KMS request must sign when it carries them, besides
/// [`sigv4::ALWAYS_SIGNED`] and every `x-amz-*` / `x-strongroom-*` one
/// (which include `x-amz-target`): the body's type decides how it is read.
const KMS_SIGNED: &[&str] = &["content-type"];

/// Largest clock difference a signature may have (AWS: 5 minutes).
pub const MAX_SKEW: time::Duration = time::Duration::minutes(5);
const SIGNING_KEY_CACHE_MAX: usize = 10_000;

/// How long cached access keys and identities are trusted before they are
/// re-read from the store (so deactivations and policy changes made with
/// `strongroom admin` take effect within this time).
pub const IDENTITY_CACHE_TTL: Duration = Duration::from_secs(5);

/// (access key id, `YYYYMMDD`, region, SigV4 service) of a derived
/// signing key.
type SigningKeyId = (String, String, String, String);

/// Which regions a credential scope may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Regions<'a> {
    /// Only this one (the frontend's default: forwarded requests of
    /// authentication proofs).
    Only(&'a Region),
    /// The regions the frontend serves (the KMS API).
    Served(&'a RegionSet),
    /// Any well-formed region name: AWS KMS signs XKS requests with the
    /// region it calls from, which Strongroom does not know in advance
    /// (the signing key is derived from it, so it is still covered).
    AnyWellFormed,
}

/// The SigV4 service name the XKS proxy API is signed for.
pub const XKS_SERVICE: &str = "kms-xks-proxy";

fn well_formed_region(r: &str) -> bool {
    (1..=32).contains(&r.len())
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account the caller acts in.
    pub account_id: String,
    /// The access key that signed the request.
    pub access_key_id: String,
    /// Who that is, as policy sees it.
    pub identity: Arc<Identity>,
    /// The service acting for this caller (authentication proof).
    pub via_service: Option<String>,
    /// The region the request acts in: its credential scope's (the
    /// frontend's default for authentication proofs).
    pub region: Region,
}

impl Caller {
    /// A caller signing as `account_id`'s root, in `region`.
    pub fn root(account_id: &str, access_key_id: &str, region: Region) -> Self {
        Self {
            account_id: account_id.to_owned(),
            access_key_id: access_key_id.to_owned(),
            identity: Arc::new(Identity::root(account_id)),
            via_service: None,
            region,
        }
    }
}

/// The region a refused credential scope named, as AWS words it (cut short:
/// it comes from the request).
fn invalid_region(named: &str) -> KmsError {
    let shown: String = named.chars().take(64).collect();
    sig_error(format!(
        "Credential should be scoped to a valid region, not '{shown}'."
    ))
}

/// Verifies SigV4 signatures, caching access keys and derived signing keys
/// so a warm request costs two HMACs and a hash, not a module round trip.
pub struct Authenticator {
    store: Arc<dyn Store>,
    hsm: HsmClient,
    /// Where authentication proofs act.
    default_region: Region,
    /// Where KMS requests may act.
    regions: RegionSet,
    access_keys: DashMap<String, (Instant, Arc<AccessKeyRecord>)>,
    identities: DashMap<String, (Instant, Arc<Identity>)>,
    signing_keys: DashMap<SigningKeyId, Arc<Zeroizing<[u8; 32]>>>,
    /// Ids the store did not know, and what each source may still cost.
    unknown: UnknownKeys,
    /// What each source may still cost in derivations of signing keys for
    /// scopes no signature has verified yet.
    derivations: SourceBudgets,
    derived: std::sync::atomic::AtomicU64,
    /// `dev --account-from-access-key`: 12-digit ids name accounts.
    account_keys: Option<account_keys::AccountFromAccessKey>,
    /// Which access key ids may authenticate at all.
    rules: CredentialRules,
}

fn sig_error(msg: impl Into<String>) -> KmsError {
    KmsError::InvalidSignature(msg.into())
}

impl Authenticator {
    /// An authenticator for KMS requests scoped to one of `regions`
    /// (forwarded requests of authentication proofs: `default_region`),
    /// letting each source cause store lookups of unknown access keys
    /// within `budget`.
    pub fn new(
        store: Arc<dyn Store>,
        hsm: HsmClient,
        (default_region, regions): (Region, RegionSet),
        budget: UnknownKeyBudget,
    ) -> Self {
        Self {
            store,
            hsm,
            default_region,
            regions,
            access_keys: DashMap::new(),
            identities: DashMap::new(),
            signing_keys: DashMap::new(),
            unknown: UnknownKeys::new(budget),
            derivations: SourceBudgets::new(budget),
            derived: std::sync::atomic::AtomicU64::new(0),
            account_keys: None,
            rules: CredentialRules::Aws,
        }
    }

    /// Lets an unknown access key id of 12 digits act as that account's
    /// root, signing with access key `template`'s secret (`strongroom dev
    /// --account-from-access-key` only).
    pub fn with_account_from_access_key(mut self, template: Option<String>) -> Self {
        self.account_keys = template.map(account_keys::AccountFromAccessKey::new);
        self
    }

    /// Authenticates only access key ids `rules` allow (default: AWS's;
    /// `dev` admits the test suites' `test` too).
    pub fn with_credential_rules(mut self, rules: CredentialRules) -> Self {
        self.rules = rules;
        self
    }

    /// The region `name`, if KMS requests may act in it.
    pub fn served_region(&self, name: &str) -> Option<Region> {
        self.regions.serves(name)
    }

    /// Store lookups of access keys made so far.
    pub fn access_key_lookups(&self) -> u64 {
        self.unknown.store_lookups()
    }

    /// Derived signing keys held in the cache.
    pub fn cached_signing_keys(&self) -> usize {
        self.signing_keys.len()
    }

    /// Signing keys the module has derived so far.
    pub fn signing_key_derivations(&self) -> u64 {
        self.derived.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The access key `id`, from the cache or the store; a request from
    /// `source` looks an uncached id up only within the source's budget.
    async fn access_key(
        &self,
        id: &str,
        source: Option<IpAddr>,
    ) -> Result<Arc<AccessKeyRecord>, KmsError> {
        let known = match self.access_keys.get(id) {
            Some(k) if k.0.elapsed() < IDENTITY_CACHE_TTL => return Ok(k.1.clone()),
            Some(_) => true,
            None => false,
        };
        // Refreshing a key the store knew is never charged to the source:
        // a flood from a shared address must not throttle its real users.
        let source = if known { None } else { source };
        // Well-formed ids only reach the store; dev's test credentials
        // only where dev's rules apply (`crate::admin::CredentialRules`).
        if !self.rules.allows_id(id) {
            return Err(KmsError::UnrecognizedClient);
        }
        match self.unknown.before_lookup(id, source) {
            Ok(()) => {}
            Err(Refusal::Unknown) => return Err(KmsError::UnrecognizedClient),
            Err(Refusal::Throttled) => {
                return Err(KmsError::Throttling(
                    "Rate exceeded: too many requests with unknown access keys from this source."
                        .into(),
                ));
            }
        }
        let rec = match self.store.get_access_key(id).await {
            Ok(Some(rec)) => {
                self.unknown.found(id, source);
                rec
            }
            Ok(None) => {
                let named = match &self.account_keys {
                    Some(a) => a.record_for(self.store.as_ref(), id).await?,
                    None => None,
                };
                let Some(rec) = named else {
                    self.access_keys.remove(id);
                    self.unknown.not_found(id);
                    return Err(KmsError::UnrecognizedClient);
                };
                self.unknown.found(id, source);
                rec
            }
            Err(e) => {
                // Not the caller's doing: its unit is given back.
                self.unknown.found(id, source);
                return Err(e.into());
            }
        };
        let rec = Arc::new(rec);
        self.access_keys
            .insert(id.to_owned(), (Instant::now(), rec.clone()));
        Ok(rec)
    }

    /// The identity behind an access key (cached for a few seconds).
    async fn identity(&self, key: &AccessKeyRecord) -> Result<Arc<Identity>, KmsError> {
        let name = key
            .principal_arn
            .clone()
            .unwrap_or_else(|| format!("arn:aws:iam::{}:root", key.account_id));
        if let Some(i) = self.identities.get(&name)
            && i.0.elapsed() < IDENTITY_CACHE_TTL
        {
            return Ok(i.1.clone());
        }
        let identity = match &key.principal_arn {
            None => Identity::root(&key.account_id),
            Some(arn) => {
                let (principal, session) = match role_of_session(arn) {
                    Some(role) => (role, Some(arn.as_str())),
                    None => (arn.clone(), None),
                };
                let p = self
                    .store
                    .get_principal(&principal)
                    .await?
                    .filter(|p| p.account_id == key.account_id)
                    .ok_or(KmsError::UnrecognizedClient)?;
                Identity::of(&p, session).map_err(KmsError::Internal)?
            }
        };
        let identity = Arc::new(identity);
        if self.identities.len() >= SIGNING_KEY_CACHE_MAX {
            self.identities.clear();
        }
        self.identities
            .insert(name, (Instant::now(), identity.clone()));
        Ok(identity)
    }

    /// The signing key of a scope: from the cache, or derived by the module
    /// together with the id of the cache entry still to make.
    /// The signing key of `key` for a scope, from the cache or derived by
    /// the module; a derivation for a request from `charged` spends one
    /// unit of that source's budget (ThrottlingException when none is left).
    async fn signing_key(
        &self,
        key: &AccessKeyRecord,
        (date, region, service): (&str, &str, &str),
        charged: Option<IpAddr>,
    ) -> Result<(Arc<Zeroizing<[u8; 32]>>, Option<SigningKeyId>), KmsError> {
        let cache_key = (
            key.access_key_id.clone(),
            date.to_owned(),
            region.to_owned(),
            service.to_owned(),
        );
        if let Some(k) = self.signing_keys.get(&cache_key) {
            return Ok((k.clone(), None));
        }
        if let Some(source) = charged
            && !self.derivations.spend(source)
        {
            return Err(KmsError::Throttling(
                "Rate exceeded: too many requests with unverified signatures from this source."
                    .into(),
            ));
        }
        self.derived
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let scope = SigV4Scope {
            date: date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
        };
        let sealed_under = match &self.account_keys {
            Some(a) => a.sealed_under(key).to_owned(),
            None => key.access_key_id.clone(),
        };
        let derived = match self
            .hsm
            .derive_sigv4_key(sealed_under, key.sealed_secret.clone(), scope.clone())
            .await
        {
            // Sealed under a retired domain-key generation: the store has
            // the re-wrapped secret; drop the cached record and use that.
            Err(strongroom_hsm_proto::HsmError::NoDomainKey(_)) => {
                self.access_keys.remove(&key.access_key_id);
                let fresh = self.access_key(&key.access_key_id, None).await?;
                let sealed_under = match &self.account_keys {
                    Some(a) => a.sealed_under(&fresh).to_owned(),
                    None => fresh.access_key_id.clone(),
                };
                self.hsm
                    .derive_sigv4_key(sealed_under, fresh.sealed_secret.clone(), scope)
                    .await?
            }
            r => r?,
        };
        Ok((Arc::new(derived.0), Some(cache_key)))
    }

    /// Caches a signing key a signature has just verified with.
    fn remember_signing_key(&self, id: SigningKeyId, k: Arc<Zeroizing<[u8; 32]>>) {
        if self.signing_keys.len() >= SIGNING_KEY_CACHE_MAX {
            self.signing_keys.clear();
        }
        self.signing_keys.insert(id, k);
    }

    /// Verifies the request's signature at time `now`; a derivation for a
    /// scope not yet cached is charged to `source` (see `verify_signing`).
    pub async fn authenticate(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
        source: Option<IpAddr>,
    ) -> Result<Caller, KmsError> {
        // Hash the body ourselves: a client-supplied x-amz-content-sha256 is
        // signed as a header but never trusted as the payload hash.
        let payload = hex::encode(sha256(body));
        let (key, region) = self
            // `intake::check_headers` already looked the key up under the
            // source's budget and found it: here it comes from the cache
            // (or, after a slow body, is re-read as the known key it is).
            .verify_signing(
                method,
                uri,
                headers,
                &payload,
                now,
                ("kms", Regions::Served(&self.regions)),
                KMS_SIGNED,
                source,
            )
            .await?;
        if let Some(a) = &self.account_keys {
            a.provision(self.store.as_ref(), &key).await?;
        }
        let mut caller = self.caller_for(&key).await?;
        if let Some(region) = region {
            caller.region = region;
        }
        Ok(caller)
    }

    /// The caller an access key stands for, in the default region. An
    /// external key store's credentials sign XKS proxy requests only
    /// ([`Self::authenticate_xks`]): here they are unknown.
    pub async fn caller_for(&self, key: &AccessKeyRecord) -> Result<Caller, KmsError> {
        let identity = self.identity(key).await?;
        if identity.kind == crate::identity::IdentityKind::XksKeyStore {
            return Err(KmsError::UnrecognizedClient);
        }
        Ok(Caller {
            account_id: key.account_id.clone(),
            access_key_id: key.access_key_id.clone(),
            identity,
            via_service: None,
            region: self.default_region.clone(),
        })
    }

    /// Verifies an XKS proxy API request at time `now`: SigV4 for service
    /// `kms-xks-proxy` in any well-formed region, by a credential of an
    /// external key store (and nobody else). Returns that key store.
    pub async fn authenticate_xks(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        now: OffsetDateTime,
        source: Option<IpAddr>,
    ) -> Result<Caller, KmsError> {
        let payload = hex::encode(sha256(body));
        let (key, _) = self
            .verify_signing(
                method,
                uri,
                headers,
                &payload,
                now,
                (XKS_SERVICE, Regions::AnyWellFormed),
                &[],
                source,
            )
            .await?;
        let identity = self.identity(&key).await?;
        let revoked = identity.tags.iter().any(|(k, _)| {
            k.strip_prefix(crate::xks::admin::REVOKED_TAG_PREFIX) == Some(&*key.access_key_id)
        });
        if identity.kind != crate::identity::IdentityKind::XksKeyStore || revoked {
            return Err(KmsError::UnrecognizedClient);
        }
        Ok(Caller {
            account_id: key.account_id.clone(),
            access_key_id: key.access_key_id.clone(),
            identity,
            via_service: None,
            region: self.default_region.clone(),
        })
    }

    /// The access key record behind an access key id, if it is active.
    pub async fn active_key(&self, id: &str) -> Result<Arc<AccessKeyRecord>, KmsError> {
        self.active_key_from(id, None).await
    }

    /// [`Self::active_key`] for a request from `source`: an id not cached
    /// is looked up only within the source's budget (ThrottlingException
    /// past it).
    pub async fn active_key_from(
        &self,
        id: &str,
        source: Option<IpAddr>,
    ) -> Result<Arc<AccessKeyRecord>, KmsError> {
        let key = self.access_key(id, source).await?;
        if !key.active {
            return Err(KmsError::UnrecognizedClient);
        }
        Ok(key)
    }

    /// Verifies a SigV4 signature scoped to `service` in the default region, over a
    /// payload whose SHA-256 is `payload_sha256_hex`; returns the signer's
    /// access key. Every `x-amz-*` and `x-strongroom-*` header the request
    /// carries must be signed. An uncached access key is looked up within
    /// `source`'s budget.
    #[allow(clippy::too_many_arguments)]
    pub async fn verify(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        payload_sha256_hex: &str,
        now: OffsetDateTime,
        service: &str,
        source: Option<IpAddr>,
    ) -> Result<Arc<AccessKeyRecord>, KmsError> {
        let (key, _) = self
            .verify_signing(
                method,
                uri,
                headers,
                payload_sha256_hex,
                now,
                (service, Regions::Only(&self.default_region)),
                &[],
                source,
            )
            .await?;
        Ok(key)
    }

    /// [`Self::verify`], with headers `also_signed` that must be signed too
    /// when present; also returns the scope's region, when `regions` is
    /// one of ours (not for XKS, whose region is AWS's).
    #[allow(clippy::too_many_arguments)]
    async fn verify_signing(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        payload_sha256_hex: &str,
        now: OffsetDateTime,
        (service, regions): (&str, Regions<'_>),
        also_signed: &[&str],
        source: Option<IpAddr>,
    ) -> Result<(Arc<AccessKeyRecord>, Option<Region>), KmsError> {
        let auth = request_checks::signed_authorization(headers, also_signed)?;
        let amz_date = request_checks::signed_date(headers, &auth, now)?;
        let region = request_checks::scope_region(&auth, service, regions)?;
        let key = self.access_key(&auth.access_key_id, source).await?;
        request_checks::check_credential(&key, headers, now)?;
        let parts = RequestParts {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query().unwrap_or(""),
            headers,
            authority: uri.authority().map(|a| a.as_str()),
            payload_sha256_hex,
        };
        let creq = sigv4::canonical_request(&parts, &auth.signed_headers, true)
            .map_err(|e| KmsError::IncompleteSignature(e.to_string()))?;
        // In a listed region a key has at most two scopes (the dates within
        // the skew): cached at once, forged requests never cost a second
        // derivation. Scopes of any region (XKS, `dev` serving every
        // region) are cached only once a signature verified, or a flood of
        // made-up regions would evict every caller's keys; until then each
        // derivation is charged to the request's source.
        let bounded = match regions {
            Regions::Only(_) => true,
            Regions::Served(set) => set.bounded(),
            Regions::AnyWellFormed => false,
        };
        let charged = if bounded { None } else { source };
        let (signing_key, mut uncached) = self
            .signing_key(&key, (&auth.date, &auth.region, service), charged)
            .await?;
        if bounded && let Some(id) = uncached.take() {
            self.remember_signing_key(id, signing_key.clone());
        }
        let expected = sigv4::signature(
            &signing_key,
            &sigv4::string_to_sign(amz_date, &auth.scope(), &creq),
        );
        if !constant_time_eq(&expected, &auth.signature) {
            return Err(sig_error(
                "The request signature we calculated does not match the signature you provided. Check your AWS \
                 Secret Access Key and signing method. Consult the service documentation for details.",
            ));
        }
        if let Some(id) = uncached {
            self.remember_signing_key(id, signing_key);
            if let Some(source) = charged {
                self.derivations.give_back(source);
            }
        }
        Ok((key, region))
    }
}
