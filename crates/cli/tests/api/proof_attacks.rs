//! Attacks on authentication proofs (docs/extensions.md), with real
//! frontends on one store: a captured CreateAuthenticationProof request
//! replayed (to the same frontend, another one, or one restarted), a proof
//! presented by a service it was not minted for, a service minting from a
//! request the customer signed for another service, a proof outliving the
//! customer's temporary credentials, a proof used more often than it allows
//! by spreading its uses over frontends.

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use strongroom_cli::client::KmsHttpClient;
use strongroom_cli::dev::DevEnvironment;
use strongroom_server::sigv4::{self, RequestParts};
use strongroom_server::{RunningServer, admin};
use strongroom_store::PrincipalKind;
use zeroize::Zeroizing;

use crate::common::*;

pub(crate) const CUSTOMER_ACCOUNT: &str = "555566667777";
pub(crate) const OBJECTSTORE: &str = "objectstore.example.com";
const BACKUP: &str = "backup.example.com";

/// A customer whose SigV4 requests to a data service get forwarded.
pub(crate) struct Customer {
    pub(crate) access_key_id: String,
    pub(crate) secret: Zeroizing<String>,
    pub(crate) session_token: Option<String>,
    pub(crate) region: String,
}

impl Customer {
    /// A request signed for SigV4 service `service`, forwarded as
    /// CreateAuthenticationProof input.
    pub(crate) fn forwarded(&self, service: &str, path: &str, uses: u32) -> Value {
        let amz_date = sigv4::format_amz_date(time::OffsetDateTime::now_utc());
        let payload = hex::encode(strongroom_crypto::sha256(b"object"));
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("data.example"));
        h.insert("x-amz-date", HeaderValue::from_str(&amz_date).unwrap());
        h.insert(
            "x-amz-content-sha256",
            HeaderValue::from_str(&payload).unwrap(),
        );
        let mut signed = vec!["host", "x-amz-content-sha256", "x-amz-date"];
        if let Some(t) = &self.session_token {
            h.insert("x-amz-security-token", HeaderValue::from_str(t).unwrap());
            signed.push("x-amz-security-token");
        }
        let signed: Vec<String> = signed.into_iter().map(String::from).collect();
        let key = sigv4::derive_signing_key(&self.secret, &amz_date[..8], &self.region, service);
        let parts = RequestParts {
            method: "PUT",
            path,
            query: "",
            headers: &h,
            authority: None,
            payload_sha256_hex: &payload,
        };
        let auth = sigv4::authorization_header(
            &parts,
            &signed,
            &self.access_key_id,
            &key,
            &amz_date,
            &self.region,
            service,
        )
        .unwrap();
        h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        let headers: serde_json::Map<String, Value> = h
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap())))
            .collect();
        json!({"Method": "PUT", "Path": path, "Headers": headers,
               "PayloadSha256": payload, "SigningService": service, "MaxUses": uses})
    }
}

/// The customer account (root key) and two service principals.
pub(crate) struct World {
    pub(crate) customer: Customer,
    pub(crate) key_arn: String,
    pub(crate) objectstore: (String, Zeroizing<String>),
    pub(crate) backup: (String, Zeroizing<String>),
}

pub(crate) async fn world(dev: &DevEnvironment) -> World {
    let store = dev.store.as_ref();
    strongroom_server::admin::create_account(store, Some(CUSTOMER_ACCOUNT.into()))
        .await
        .unwrap();
    let ck = strongroom_server::admin::create_access_key(store, &dev.hsm, CUSTOMER_ACCOUNT, None)
        .await
        .unwrap();
    let mut services = Vec::new();
    for (name, service) in [("objectstore", OBJECTSTORE), ("backup", BACKUP)] {
        let p = admin::create_principal(
            store,
            &dev.account_id,
            PrincipalKind::Service,
            name,
            None,
            Vec::new(),
            Some(service.into()),
        )
        .await
        .unwrap();
        let k = admin::create_principal_access_key(store, &dev.hsm, &p.arn)
            .await
            .unwrap();
        services.push((k.access_key_id, k.secret_access_key));
    }
    // The customer's key, usable by the customer through any service.
    let customer = client_for(dev, &ck.access_key_id, &ck.secret_access_key);
    let key_arn = new_key(&customer).await;
    let backup = services.pop().unwrap();
    let objectstore = services.pop().unwrap();
    World {
        customer: Customer {
            access_key_id: ck.access_key_id,
            secret: ck.secret_access_key,
            session_token: None,
            region: dev.region.clone(),
        },
        key_arn,
        objectstore,
        backup,
    }
}

pub(crate) fn kms_at(
    endpoint: &str,
    dev: &DevEnvironment,
    creds: &(String, Zeroizing<String>),
) -> KmsHttpClient {
    KmsHttpClient::new(endpoint, &dev.region, &creds.0, creds.1.clone(), None).unwrap()
}

/// A second frontend on the same store and modules.
async fn second_frontend(dev: &DevEnvironment) -> RunningServer {
    strongroom_server::start(
        second_frontend_config(dev).await,
        dev.store.clone(),
        dev.hsm.clone(),
    )
    .await
    .unwrap()
}

pub(crate) async fn mint(kms: &KmsHttpClient, req: &Value) -> Result<String, String> {
    kms.call_json("CreateAuthenticationProof", req.clone())
        .await
        .map(|v| v["Proof"].as_str().unwrap().to_string())
        .map_err(|e| e.to_string())
}

pub(crate) async fn use_proof(
    kms: &KmsHttpClient,
    key_arn: &str,
    proof: &str,
) -> Result<(), String> {
    kms.call_json_with_headers(
        "GenerateDataKey",
        json!({"KeyId": key_arn, "KeySpec": "AES_256"}),
        &[("x-strongroom-auth-proof", proof)],
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_create_authentication_proof_mints_once_across_frontends_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |_| {}).await;
    let w = world(&dev).await;
    let second = second_frontend(&dev).await;
    let svc = kms_at(&dev.endpoint(), &dev, &w.objectstore);
    let svc2 = kms_at(&second.endpoint(), &dev, &w.objectstore);

    let captured = w.customer.forwarded(OBJECTSTORE, "/b/k", 1);
    let proof = mint(&svc, &captured).await.unwrap();
    // The same signed request again: on this frontend, on another one.
    for kms in [&svc, &svc2] {
        let e = mint(kms, &captured).await.unwrap_err();
        assert!(e.contains("already been used to create"), "{e}");
    }
    // Nothing changed: the one proof minted still has its one use.
    use_proof(&svc2, &w.key_arn, &proof).await.unwrap();
    let e = use_proof(&svc, &w.key_arn, &proof).await.unwrap_err();
    assert!(e.contains("used as often as it allows"), "{e}");

    // Uses are counted in the store: two uses spread over two frontends.
    let twice = mint(&svc, &w.customer.forwarded(OBJECTSTORE, "/b/two", 2))
        .await
        .unwrap();
    use_proof(&svc, &w.key_arn, &twice).await.unwrap();
    use_proof(&svc2, &w.key_arn, &twice).await.unwrap();
    for kms in [&svc, &svc2] {
        let e = use_proof(kms, &w.key_arn, &twice).await.unwrap_err();
        assert!(e.contains("used as often as it allows"), "{e}");
    }

    // And across a restart of the frontend.
    let after_restart = w.customer.forwarded(OBJECTSTORE, "/b/restart", 2);
    let kept = mint(&svc, &after_restart).await.unwrap();
    use_proof(&svc, &w.key_arn, &kept).await.unwrap();
    second.shutdown().await;
    dev.shutdown().await;
    let dev = start_in(dir.path(), |_| {}).await;
    let svc = kms_at(&dev.endpoint(), &dev, &w.objectstore);
    for req in [&captured, &after_restart] {
        let e = mint(&svc, req).await.unwrap_err();
        assert!(e.contains("already been used to create"), "{e}");
    }
    use_proof(&svc, &w.key_arn, &kept).await.unwrap();
    let e = use_proof(&svc, &w.key_arn, &kept).await.unwrap_err();
    assert!(e.contains("used as often as it allows"), "{e}");
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proof_minted_for_service_a_is_refused_when_service_b_presents_it() {
    let env = TestEnv::start().await;
    let w = world(&env.dev).await;
    let a = kms_at(&env.dev.endpoint(), &env.dev, &w.objectstore);
    let b = kms_at(&env.dev.endpoint(), &env.dev, &w.backup);
    let proof = mint(&a, &w.customer.forwarded(OBJECTSTORE, "/b/k", 1))
        .await
        .unwrap();
    let e = use_proof(&b, &w.key_arn, &proof).await.unwrap_err();
    assert!(e.contains("issued to another service"), "{e}");
    // Nothing changed: B's attempt took no use; A still has it.
    use_proof(&a, &w.key_arn, &proof).await.unwrap();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_b_cannot_mint_from_a_request_the_customer_signed_for_service_a() {
    let env = TestEnv::start().await;
    let w = world(&env.dev).await;
    let a = kms_at(&env.dev.endpoint(), &env.dev, &w.objectstore);
    let b = kms_at(&env.dev.endpoint(), &env.dev, &w.backup);
    let captured = w.customer.forwarded(OBJECTSTORE, "/b/k", 1);
    let e = mint(&b, &captured).await.unwrap_err();
    assert!(
        e.contains("AccessDeniedException")
            && e.contains("signed for service 'objectstore.example.com'"),
        "{e}"
    );
    // Nothing changed: the request was not consumed, so A can still mint.
    let proof = mint(&a, &captured).await.unwrap();
    use_proof(&a, &w.key_arn, &proof).await.unwrap();
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proof_from_temporary_credentials_is_refused_once_they_expire() {
    let env = TestEnv::start().await;
    let w = world(&env.dev).await;
    let store = env.dev.store.as_ref();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;
    admin::create_principal(
        store,
        CUSTOMER_ACCOUNT,
        PrincipalKind::Role,
        "app",
        Some(policy.into()),
        Vec::new(),
        None,
    )
    .await
    .unwrap();
    let role = format!("arn:aws:iam::{CUSTOMER_ACCOUNT}:role/app");
    let t = admin::assume_role(store, &env.dev.hsm, &role, "short", 900)
        .await
        .unwrap();
    // The session expires in eight seconds (as if issued long ago).
    let cred_exp = time::OffsetDateTime::now_utc().unix_timestamp() + 8;
    let db = rusqlite::Connection::open(env.dir.path().join("strongroom.db")).unwrap();
    db.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    db.execute(
        "UPDATE access_keys SET expires_at = ?2 WHERE access_key_id = ?1",
        rusqlite::params![t.key.access_key_id, cred_exp],
    )
    .unwrap();
    let session = Customer {
        access_key_id: t.key.access_key_id.clone(),
        secret: t.key.secret_access_key.clone(),
        session_token: Some(t.session_token.to_string()),
        region: env.dev.region.clone(),
    };
    let svc = kms_at(&env.dev.endpoint(), &env.dev, &w.objectstore);
    let mut req = session.forwarded(OBJECTSTORE, "/b/k", 5);
    req["LifetimeSeconds"] = json!(300);
    let minted = svc
        .call_json("CreateAuthenticationProof", req)
        .await
        .unwrap();
    // The proof asked for five minutes but ends with the credentials.
    assert!(
        minted["Expiration"].as_i64().unwrap() <= cred_exp,
        "{minted}"
    );
    let proof = minted["Proof"].as_str().unwrap();
    // Good while the credentials are (the key policy defers to the role's
    // identity policy, which allows it).
    use_proof(&svc, &w.key_arn, proof).await.unwrap();
    let wait = cred_exp - time::OffsetDateTime::now_utc().unix_timestamp() + 1;
    tokio::time::sleep(std::time::Duration::from_secs(wait.max(0) as u64)).await;
    let e = use_proof(&svc, &w.key_arn, proof).await.unwrap_err();
    assert!(
        e.contains("AccessDeniedException") && e.contains("expired"),
        "{e}"
    );
    env.stop().await;
}
