//! Authentication proofs (the seed's forwarded authentication): a data
//! service forwards a customer's SigV4-signed request; we verify it and
//! answer a short-lived proof that the customer made it. The service then
//! presents the proof (header `X-Strongroom-Auth-Proof`) with its own
//! signed crypto request, which is evaluated as the customer's, via that
//! service (`kms:ViaService`).
//!
//! A proof is `base64url(JSON claims) "." base64url(HMAC-SHA256)`. The MAC
//! key is derived inside a security module from a secret sealed under the
//! domain key and kept in the store, so every frontend of the domain (the
//! authentication service and the crypto service alike) derives the same
//! key and nobody else can.
//!
//! The MAC alone does not make a proof good. Each signed customer request
//! mints at most one proof, and each proof's uses are counted, in the store
//! (`auth_proofs`), so the limits hold across every frontend of the store
//! and across restarts: a proof is honoured only while the store holds the
//! record of its minting, under the digest of the request it came from.
//! A proof is bound to the service principal that minted it, the customer
//! must have signed for exactly that service's name, and a proof never
//! outlives the customer's temporary credentials. It is honoured only for
//! the operations marked `#[via_proof]` in the operation table (using the
//! customer's keys, never managing them): [`check_operation`], the first
//! check of [`Proofs::accept`].

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};
use strongroom_crypto::{constant_time_eq, hmac_sha256, random_array};
use strongroom_hsm_proto::{HsmClient, HsmError, SigV4Scope};
use strongroom_store::{ProofMint, ProofUse, Store};
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use crate::auth::{Authenticator, Caller, MAX_SKEW};
use crate::clock::now_epoch;
use crate::error::KmsError;
use crate::identity::IdentityKind;

/// The header a service presents a proof in.
pub const PROOF_HEADER: &str = "x-strongroom-auth-proof";
/// Longest life of a proof (the bound: five minutes).
pub const MAX_LIFETIME_SECS: i64 = 300;
/// Most uses one proof may allow.
pub const MAX_USES: u32 = 100;
/// The claims format this frontend mints and accepts.
pub const CLAIMS_VERSION: u8 = 2;
/// Longest proof accepted, in bytes (checked before any work).
const MAX_PROOF_BYTES: usize = 4096;
const SECRET_NAME: &str = "auth-proof-key";
/// Longest service name (as `admin::create_principal` allows).
const MAX_SERVICE_NAME_LEN: usize = 128;

/// What a proof asserts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProofClaims {
    /// Format version ([`CLAIMS_VERSION`]).
    pub v: u8,
    /// Random id (hex), for the use count.
    pub id: String,
    /// The service principal the proof was issued to (only it may present it).
    pub issued_to: String,
    /// The customer's principal ARN (as shown in the audit trail).
    pub principal: String,
    /// The customer's account.
    pub account: String,
    /// The access key the customer signed with.
    pub access_key_id: String,
    /// The service the proof was issued to (its `kms:ViaService` name).
    pub service: String,
    /// Issued at (epoch seconds).
    pub iat: i64,
    /// Expires at (epoch seconds).
    pub exp: i64,
    /// How many crypto requests it may authorise.
    pub uses: u32,
    /// The customer's signed request: [`request_digest`] of its access
    /// key id and SigV4 signature (the store's record of the minting).
    pub digest: String,
}

/// Names a signed request: its access key id and SigV4 signature, which
/// commits to everything signed (method, path, query, signed headers,
/// payload hash, time). Two forwardings of one request share it however
/// their unsigned parts differ.
pub fn request_digest(access_key_id: &str, signature: &[u8; 32]) -> String {
    hex::encode(strongroom_crypto::sha256(
        format!(
            "strongroom-proof-request/2\n{access_key_id}\n{}",
            hex::encode(signature)
        )
        .as_bytes(),
    ))
}

/// Whether a customer signing for SigV4 service `signing` may be acted for
/// by the service principal known as `service_name`: only if the two are
/// the same name, exactly. Service names are unique in the store, so a
/// customer's signature names the one service principal that may forward
/// it, and that name is the `kms:ViaService` its key policy sees. (A
/// prefix or first-label rule would let `objectstore.attacker` mint from
/// requests signed for `objectstore.example.com`.)
pub fn signing_service_matches(service_name: &str, signing: &str) -> bool {
    service_name == signing
}

/// Whether operation `op` may be run with an authentication proof: only a
/// row of the operation table marked `#[via_proof]` (the data-plane
/// operations a service needs for a customer's data). Anything else
/// (managing keys, policies, grants, aliases, tags; an unknown operation;
/// CreateAuthenticationProof itself) is refused before the proof is looked
/// at, so the refusal changes nothing, not even the proof's use count.
pub fn check_operation(op: Option<&str>) -> Result<(), KmsError> {
    let row = op.and_then(|op| crate::authz::operations::find(crate::ops::OPERATIONS, op));
    match row {
        Some(row) if row.via_proof => Ok(()),
        _ => Err(KmsError::AccessDenied(format!(
            "The authentication proof is not valid for {}: a service acting for a customer may \
             only use the customer's keys for its data, not manage them.",
            op.unwrap_or("this request")
        ))),
    }
}

/// CreateAuthenticationProof input: the customer's request as received.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateProofRequest {
    /// The customer's HTTP method.
    pub method: Option<String>,
    /// The customer's request path.
    pub path: Option<String>,
    /// The customer's query string.
    pub query: Option<String>,
    /// The customer's headers, including its SigV4 `Authorization`.
    pub headers: Option<BTreeMap<String, String>>,
    /// Hex SHA-256 of the customer's request body.
    pub payload_sha256: Option<String>,
    /// The SigV4 service name the customer signed for.
    pub signing_service: Option<String>,
    /// How long the proof is valid, in seconds.
    pub lifetime_seconds: Option<i64>,
    /// How many requests may present the proof.
    pub max_uses: Option<u32>,
}

/// CreateAuthenticationProof output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateProofResponse {
    /// The proof token to present.
    pub proof: String,
    /// The customer principal's ARN the proof acts for.
    pub principal: String,
    /// The customer's account.
    pub account: String,
    /// When the proof expires (Unix seconds).
    pub expiration: i64,
}

/// Issues and checks proofs.
pub struct Proofs {
    store: Arc<dyn Store>,
    hsm: HsmClient,
    region: String,
    key: OnceCell<Zeroizing<[u8; 32]>>,
}

fn bad(msg: impl Into<String>) -> KmsError {
    KmsError::Validation(msg.into())
}

fn invalid_proof(why: &str) -> KmsError {
    KmsError::AccessDenied(format!("The authentication proof is not valid: {why}."))
}

/// Encodes `claims` as a proof MACed under `key`:
/// `base64url(JSON claims) "." base64url(HMAC-SHA256)`.
pub fn seal_claims(key: &[u8; 32], claims: &ProofClaims) -> Result<String, KmsError> {
    let text = serde_json::to_string(claims).map_err(|e| KmsError::Internal(e.to_string()))?;
    let mac = hmac_sha256(key, text.as_bytes());
    Ok(format!("{}.{}", B64.encode(&text), B64.encode(mac)))
}

/// Checks a presented proof's length, shape and MAC under `key` and
/// decodes its claims. Version, expiry, presenter, credentials and the use
/// count are [`Proofs::accept`]'s later checks.
pub fn open_claims(key: &[u8; 32], proof: &str) -> Result<ProofClaims, KmsError> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(invalid_proof("too long"));
    }
    let (body, mac) = proof
        .split_once('.')
        .ok_or_else(|| invalid_proof("malformed"))?;
    let text = B64.decode(body).map_err(|_| invalid_proof("malformed"))?;
    let mac = B64.decode(mac).map_err(|_| invalid_proof("malformed"))?;
    let text = String::from_utf8(text).map_err(|_| invalid_proof("malformed"))?;
    if !constant_time_eq(&hmac_sha256(key, text.as_bytes()), &mac) {
        return Err(invalid_proof("its signature does not verify"));
    }
    serde_json::from_str(&text).map_err(|_| invalid_proof("malformed"))
}

impl Proofs {
    /// Proofs for a frontend over `store`, with MAC keys from `hsm`.
    pub fn new(store: Arc<dyn Store>, hsm: HsmClient, region: String) -> Self {
        Self {
            store,
            hsm,
            region,
            key: OnceCell::new(),
        }
    }

    async fn derive(&self, sealed: Vec<u8>) -> Result<Zeroizing<[u8; 32]>, HsmError> {
        let scope = SigV4Scope {
            date: "20000101".into(),
            region: self.region.clone(),
            service: "strongroom-auth-proof".into(),
        };
        Ok(self
            .hsm
            .derive_sigv4_key(SECRET_NAME.into(), sealed, scope)
            .await?
            .0)
    }

    /// The MAC key, made (and sealed into the store) on first use.
    async fn key(&self) -> Result<&Zeroizing<[u8; 32]>, KmsError> {
        self.key
            .get_or_try_init(|| async {
                let sealed = match self.store.get_service_secret(SECRET_NAME).await? {
                    Some(s) => s,
                    None => {
                        let secret: Zeroizing<[u8; 32]> = Zeroizing::new(
                            random_array()
                                .map_err(|_| KmsError::Internal("no randomness".into()))?,
                        );
                        let text = Zeroizing::new(hex::encode(&secret[..]));
                        let sealed = self.hsm.seal_credential(SECRET_NAME.into(), text).await?;
                        self.store.put_service_secret(SECRET_NAME, &sealed).await?
                    }
                };
                match self.derive(sealed.clone()).await {
                    // Sealed under a retired generation: proofs live five
                    // minutes, so a fresh secret loses nothing.
                    Err(HsmError::NoDomainKey(_)) => {
                        let text = Zeroizing::new(hex::encode(
                            random_array::<32>()
                                .map_err(|_| KmsError::Internal("no randomness".into()))?,
                        ));
                        let fresh = self.hsm.seal_credential(SECRET_NAME.into(), text).await?;
                        let stored = self
                            .store
                            .replace_service_secret(SECRET_NAME, &sealed, &fresh)
                            .await?;
                        Ok(self.derive(stored).await?)
                    }
                    r => Ok(r?),
                }
            })
            .await
    }

    /// CreateAuthenticationProof: `caller` (a service principal, calling
    /// from `source`) forwards a customer's signed request; it mints one
    /// proof, once. An unknown customer access key costs a store lookup
    /// only within `source`'s budget, as for any request.
    pub async fn create(
        &self,
        auth: &Authenticator,
        caller: &Caller,
        source: Option<std::net::IpAddr>,
        req: CreateProofRequest,
    ) -> Result<CreateProofResponse, KmsError> {
        let service = minting_service(caller)?;
        let forwarded = Forwarded::parse(req)?;
        let now = time::OffsetDateTime::now_utc();
        let key = forwarded.verify_for(auth, &service, now, source).await?;
        let customer = auth.caller_for(&key).await?;
        // The signature verified, so these parse; read what names the request.
        let (signature, signed_at) = forwarded
            .signature_and_time()
            .ok_or_else(|| KmsError::Internal("verified request without a signature".into()))?;
        let iat = now.unix_timestamp();
        // Never outlive the customer's temporary credentials.
        let exp = match key.expires_at {
            Some(cred_exp) => (iat + forwarded.lifetime).min(cred_exp),
            None => iat + forwarded.lifetime,
        };
        if exp <= iat {
            return Err(KmsError::ExpiredToken);
        }
        let id: [u8; 16] =
            random_array().map_err(|_| KmsError::Internal("no randomness".into()))?;
        let claims = ProofClaims {
            v: CLAIMS_VERSION,
            id: hex::encode(id),
            issued_to: caller.identity.arn.clone(),
            principal: customer.identity.session_arn.clone(),
            account: customer.account_id.clone(),
            access_key_id: customer.access_key_id.clone(),
            service,
            iat,
            exp,
            uses: forwarded.uses,
            digest: request_digest(&key.access_key_id, &signature),
        };
        let proof = seal_claims(self.key().await?, &claims)?;
        // The record outlives both the proof and the request's own validity
        // (a signature is good through the second `signed_at + MAX_SKEW`),
        // so the request can never mint again while its signature is good.
        let mint = ProofMint {
            request_digest: claims.digest.clone(),
            proof_id: claims.id.clone(),
            uses: claims.uses,
            expires_at: exp.max((signed_at + MAX_SKEW).unix_timestamp() + 1),
        };
        if !self.store.record_proof_mint(&mint).await? {
            return Err(KmsError::AccessDenied(
                "The customer's request has already been used to create an authentication proof."
                    .into(),
            ));
        }
        Ok(CreateProofResponse {
            proof,
            principal: claims.principal,
            account: claims.account,
            expiration: claims.exp,
        })
    }

    /// Checks a proof presented by `service_caller` for operation `op`;
    /// returns the customer as the caller, via that service. Each accepted
    /// check uses one of the proof's uses, in the store; a refused one
    /// uses none.
    pub async fn accept(
        &self,
        auth: &Authenticator,
        service_caller: &Caller,
        op: Option<&str>,
        proof: &str,
    ) -> Result<Caller, KmsError> {
        check_operation(op)?;
        let claims = open_claims(self.key().await?, proof)?;
        let now = now_epoch();
        check_claims(&claims, service_caller, now)?;
        let key = auth.active_key(&claims.access_key_id).await?;
        if key.expires_at.is_some_and(|e| e <= now) {
            return Err(invalid_proof(
                "the customer's temporary credentials have expired",
            ));
        }
        consume(self.store.as_ref(), &claims, now).await?;
        let mut customer = auth.caller_for(&key).await?;
        customer.via_service = Some(claims.service);
        Ok(customer)
    }
}

/// The service `caller` speaks for, if it is a service principal calling
/// directly: only those may mint proofs.
fn minting_service(caller: &Caller) -> Result<String, KmsError> {
    match (&caller.identity.kind, &caller.identity.service_name) {
        (IdentityKind::Service, Some(s)) if caller.via_service.is_none() => Ok(s.clone()),
        _ => Err(KmsError::AccessDenied(format!(
            "User: {} is not authorized to perform: strongroom:CreateAuthenticationProof: only service principals may",
            caller.identity.session_arn
        ))),
    }
}

/// The customer's request as forwarded, checked for shape.
struct Forwarded {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    payload: String,
    signing_service: String,
    lifetime: i64,
    uses: u32,
}

impl Forwarded {
    /// The customer's access key, once this request is signed for
    /// `service` and its signature verifies (any failure is AccessDenied).
    async fn verify_for(
        &self,
        auth: &Authenticator,
        service: &str,
        now: time::OffsetDateTime,
        source: Option<std::net::IpAddr>,
    ) -> Result<Arc<strongroom_store::AccessKeyRecord>, KmsError> {
        if !signing_service_matches(service, &self.signing_service) {
            return Err(KmsError::AccessDenied(format!(
                "The customer's request is signed for service '{}', which is not {service}.",
                self.signing_service
            )));
        }
        auth.verify(
            &self.method,
            &self.uri,
            &self.headers,
            &self.payload,
            now,
            &self.signing_service,
            source,
        )
        .await
        .map_err(|e| {
            KmsError::AccessDenied(format!("The customer's request does not authenticate: {e}"))
        })
    }

    fn parse(req: CreateProofRequest) -> Result<Self, KmsError> {
        let method = Method::from_bytes(req.method.as_deref().unwrap_or("").as_bytes())
            .map_err(|_| bad("Method is not an HTTP method."))?;
        let path = req
            .path
            .as_deref()
            .filter(|p| p.starts_with('/'))
            .ok_or_else(|| bad("Path must start with '/'."))?;
        let uri: Uri = match req.query.as_deref().filter(|q| !q.is_empty()) {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        }
        .parse()
        .map_err(|_| bad("Path and Query do not form a URI."))?;
        let mut headers = HeaderMap::new();
        for (k, v) in req.headers.unwrap_or_default() {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| bad("A header name is not valid."))?;
            let value = HeaderValue::from_str(&v)
                .map_err(|_| bad(format!("The value of header {name} is not valid.")))?;
            headers.append(name, value);
        }
        let payload = req
            .payload_sha256
            .filter(|p| p.len() == 64 && p.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| bad("PayloadSha256 must be 64 hex digits."))?
            .to_ascii_lowercase();
        let signing_service = req
            .signing_service
            .filter(|s| !s.is_empty() && s.len() <= MAX_SERVICE_NAME_LEN && s != "kms")
            .ok_or_else(|| {
                bad("SigningService must name the service the customer signed for (not kms).")
            })?;
        let lifetime = req.lifetime_seconds.unwrap_or(MAX_LIFETIME_SECS);
        if !(1..=MAX_LIFETIME_SECS).contains(&lifetime) {
            return Err(bad(format!(
                "LifetimeSeconds must be 1 to {MAX_LIFETIME_SECS}."
            )));
        }
        let uses = req.max_uses.unwrap_or(1);
        if !(1..=MAX_USES).contains(&uses) {
            return Err(bad(format!("MaxUses must be 1 to {MAX_USES}.")));
        }
        Ok(Self {
            method,
            uri,
            headers,
            payload,
            signing_service,
            lifetime,
            uses,
        })
    }

    /// The SigV4 signature and signing time (once the request verified).
    fn signature_and_time(&self) -> Option<([u8; 32], time::OffsetDateTime)> {
        let auth = self.headers.get("authorization")?.to_str().ok()?;
        let signature = crate::sigv4::parse_authorization(auth).ok()?.signature;
        let date = self.headers.get("x-amz-date")?.to_str().ok()?;
        Some((signature, crate::sigv4::parse_amz_date(date)?))
    }
}

/// The checks on a proof's (authentic) claims that need no store: version,
/// expiry, and that the presenter is the service principal it was issued to.
fn check_claims(claims: &ProofClaims, presenter: &Caller, now: i64) -> Result<(), KmsError> {
    if claims.v != CLAIMS_VERSION {
        return Err(invalid_proof("its format is not supported"));
    }
    if claims.exp <= now {
        return Err(invalid_proof("it has expired"));
    }
    match (&presenter.identity.kind, &presenter.identity.service_name) {
        (IdentityKind::Service, Some(s))
            if *s == claims.service
                && presenter.identity.arn == claims.issued_to
                && presenter.via_service.is_none() => {}
        _ => return Err(invalid_proof("it was issued to another service")),
    }
    Ok(())
}

/// Takes one use of the proof in the store, which must hold the record of
/// its minting from the request its digest names.
async fn consume(store: &dyn Store, claims: &ProofClaims, now: i64) -> Result<(), KmsError> {
    match store.use_proof(&claims.id, &claims.digest, now).await? {
        ProofUse::Used { .. } => Ok(()),
        ProofUse::Exhausted => Err(invalid_proof("it has been used as often as it allows")),
        ProofUse::Unknown => Err(invalid_proof(
            "no record of its minting matches the request it names",
        )),
    }
}

#[cfg(test)]
mod tests;
