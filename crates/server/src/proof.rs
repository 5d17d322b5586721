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

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use dashmap::DashMap;
use serde::{Deserialize, Serialize};
use strongroom_crypto::{constant_time_eq, hmac_sha256, random_array};
use strongroom_hsm_proto::{HsmClient, HsmError, SigV4Scope};
use strongroom_store::Store;
use tokio::sync::OnceCell;
use zeroize::Zeroizing;

use crate::auth::{Authenticator, Caller};
use crate::error::KmsError;
use crate::identity::IdentityKind;
use crate::processor::now_epoch;

/// The header a service presents a proof in.
pub const PROOF_HEADER: &str = "x-strongroom-auth-proof";
/// Longest life of a proof (the bound: five minutes).
pub const MAX_LIFETIME_SECS: i64 = 300;
/// Most uses one proof may allow.
pub const MAX_USES: u32 = 100;
const SECRET_NAME: &str = "auth-proof-key";

/// What a proof asserts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProofClaims {
    /// Format version (1).
    pub v: u8,
    /// Random id (hex), for the use count.
    pub id: String,
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
    /// Hex SHA-256 of the customer's canonical request.
    pub digest: String,
}

/// CreateAuthenticationProof input: the customer's request as received.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateProofRequest {
    pub method: Option<String>,
    pub path: Option<String>,
    pub query: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    /// Hex SHA-256 of the customer's request body.
    pub payload_sha256: Option<String>,
    /// The SigV4 service name the customer signed for.
    pub signing_service: Option<String>,
    pub lifetime_seconds: Option<i64>,
    pub max_uses: Option<u32>,
}

/// CreateAuthenticationProof output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateProofResponse {
    pub proof: String,
    pub principal: String,
    pub account: String,
    pub expiration: i64,
}

/// Issues and checks proofs.
pub struct Proofs {
    store: Arc<dyn Store>,
    hsm: HsmClient,
    region: String,
    key: OnceCell<Zeroizing<[u8; 32]>>,
    /// Uses left per proof id, with its expiry (pruned as they expire).
    uses: DashMap<String, (u32, i64)>,
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

/// Checks a presented proof's shape and MAC under `key` and decodes its
/// claims. Expiry, service and use count are [`Proofs::accept`]'s checks.
pub fn open_claims(key: &[u8; 32], proof: &str) -> Result<ProofClaims, KmsError> {
    if proof.len() > 4096 {
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
            uses: DashMap::new(),
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

    /// CreateAuthenticationProof: `caller` (a service principal) forwards
    /// a customer's signed request.
    pub async fn create(
        &self,
        auth: &Authenticator,
        caller: &Caller,
        req: CreateProofRequest,
    ) -> Result<CreateProofResponse, KmsError> {
        let service = match (&caller.identity.kind, &caller.identity.service_name) {
            (IdentityKind::Service, Some(s)) if caller.via_service.is_none() => s.clone(),
            _ => {
                return Err(KmsError::AccessDenied(format!(
                    "User: {} is not authorized to perform: strongroom:CreateAuthenticationProof: only service principals may",
                    caller.identity.session_arn
                )));
            }
        };
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
                .map_err(|_| bad(format!("bad header name {k}")))?;
            let value =
                HeaderValue::from_str(&v).map_err(|_| bad(format!("bad value of header {k}")))?;
            headers.append(name, value);
        }
        let payload = req
            .payload_sha256
            .filter(|p| p.len() == 64 && p.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| bad("PayloadSha256 must be 64 hex digits."))?
            .to_ascii_lowercase();
        let signing_service = req
            .signing_service
            .filter(|s| !s.is_empty() && s.len() <= 64 && s != "kms")
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
        let now = time::OffsetDateTime::now_utc();
        let key = auth
            .verify(&method, &uri, &headers, &payload, now, &signing_service)
            .await
            .map_err(|e| {
                KmsError::AccessDenied(format!("The customer's request does not authenticate: {e}"))
            })?;
        let customer = auth.caller_for(&key).await?;
        let digest = hex::encode(strongroom_crypto::sha256(
            format!(
                "{method}\n{uri}\n{payload}\n{}",
                headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
            )
            .as_bytes(),
        ));
        let id: [u8; 16] =
            random_array().map_err(|_| KmsError::Internal("no randomness".into()))?;
        let iat = now.unix_timestamp();
        let claims = ProofClaims {
            v: 1,
            id: hex::encode(id),
            principal: customer.identity.session_arn.clone(),
            account: customer.account_id.clone(),
            access_key_id: customer.access_key_id.clone(),
            service,
            iat,
            exp: iat + lifetime,
            uses,
            digest,
        };
        let proof = seal_claims(self.key().await?, &claims)?;
        Ok(CreateProofResponse {
            proof,
            principal: claims.principal,
            account: claims.account,
            expiration: claims.exp,
        })
    }

    /// Checks a proof presented by `service_caller`; returns the customer
    /// as the caller, via that service. Each accepted check uses one of the
    /// proof's uses.
    pub async fn accept(
        &self,
        auth: &Authenticator,
        service_caller: &Caller,
        proof: &str,
    ) -> Result<Caller, KmsError> {
        let claims = open_claims(self.key().await?, proof)?;
        let now = now_epoch();
        if claims.v != 1 || claims.exp <= now {
            return Err(invalid_proof("it has expired"));
        }
        match (
            &service_caller.identity.kind,
            &service_caller.identity.service_name,
        ) {
            (IdentityKind::Service, Some(s)) if *s == claims.service => {}
            _ => return Err(invalid_proof("it was issued to another service")),
        }
        // Count the use; forget expired proofs now and then.
        {
            let mut entry = self
                .uses
                .entry(claims.id.clone())
                .or_insert((claims.uses, claims.exp));
            if entry.0 == 0 {
                return Err(invalid_proof("it has been used as often as it allows"));
            }
            entry.0 -= 1;
        }
        if self.uses.len() > 100_000 {
            self.uses.retain(|_, (_, exp)| *exp > now);
        }
        let key = auth.active_key(&claims.access_key_id).await?;
        let mut customer = auth.caller_for(&key).await?;
        customer.via_service = Some(claims.service);
        Ok(customer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> ProofClaims {
        ProofClaims {
            v: 1,
            id: "00".repeat(16),
            principal: "arn:aws:iam::111122223333:user/alice".into(),
            account: "111122223333".into(),
            access_key_id: "AKIDEXAMPLE".into(),
            service: "s3.amazonaws.com".into(),
            iat: 1,
            exp: 301,
            uses: 1,
            digest: "ab".repeat(32),
        }
    }

    #[test]
    fn sealed_claims_open_under_the_same_key_only() {
        let proof = seal_claims(&[1; 32], &claims()).unwrap();
        assert_eq!(open_claims(&[1; 32], &proof).unwrap(), claims());
        assert!(matches!(
            open_claims(&[2; 32], &proof),
            Err(KmsError::AccessDenied(_))
        ));
    }

    #[test]
    fn tampered_malformed_or_oversized_proofs_are_refused() {
        let proof = seal_claims(&[1; 32], &claims()).unwrap();
        let (body, mac) = proof.split_once('.').unwrap();
        let text = String::from_utf8(B64.decode(body).unwrap()).unwrap();
        let forged = format!(
            "{}.{mac}",
            B64.encode(text.replace("\"uses\":1", "\"uses\":9"))
        );
        for bad in [
            forged.as_str(),
            body,
            "",
            ".",
            "!.!",
            &format!("{proof}x"),
            &"a.".repeat(3000),
        ] {
            assert!(
                matches!(open_claims(&[1; 32], bad), Err(KmsError::AccessDenied(_))),
                "{bad}"
            );
        }
    }
}
