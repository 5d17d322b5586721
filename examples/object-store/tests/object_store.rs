//! The object store against a real `strongroom dev`: a customer's signed
//! PUT and GET work through authentication proofs; a key policy that lets
//! the service encrypt but not decrypt makes GET fail while PUT works; the
//! disk holds nothing useful without Strongroom; forged, expired, replayed
//! and misdirected proofs, and a second mint from one signed request, are
//! refused.

use std::path::Path;

use axum::http::{HeaderMap, HeaderValue};
use base64::Engine;
use serde_json::{Value, json};
use strongroom_cli::client::KmsHttpClient;
use strongroom_cli::dev::{self, DevOptions};
use strongroom_example_object_store as objstore;
use strongroom_server::admin;
use strongroom_server::sigv4::{self, RequestParts};
use strongroom_store::PrincipalKind;
use zeroize::Zeroizing;

const SERVICE: &str = objstore::SERVICE_NAME;
const SECRET_PHOTO: &[u8] = b"a very secret photograph of a cat, 0xC47";

/// A customer's SigV4-signed request to the object store.
struct Customer {
    access_key_id: String,
    secret: Zeroizing<String>,
    region: String,
}

impl Customer {
    fn sign(&self, method: &str, host: &str, path: &str, body: &[u8]) -> HeaderMap {
        let amz_date = sigv4::format_amz_date(time::OffsetDateTime::now_utc());
        let payload = hex::encode(strongroom_crypto::sha256(body));
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_str(host).unwrap());
        h.insert("x-amz-date", HeaderValue::from_str(&amz_date).unwrap());
        h.insert(
            "x-amz-content-sha256",
            HeaderValue::from_str(&payload).unwrap(),
        );
        let signed: Vec<String> = ["host", "x-amz-content-sha256", "x-amz-date"]
            .map(String::from)
            .to_vec();
        let key = sigv4::derive_signing_key(&self.secret, &amz_date[..8], &self.region, SERVICE);
        let parts = RequestParts {
            method,
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
            SERVICE,
        )
        .unwrap();
        h.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        h
    }

    async fn send(
        &self,
        http: &reqwest::Client,
        method: reqwest::Method,
        addr: std::net::SocketAddr,
        path: &str,
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let host = addr.to_string();
        let headers = self.sign(method.as_str(), &host, path, body);
        let r = http
            .request(method, format!("http://{host}{path}"))
            .headers(headers)
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.bytes().await.unwrap().to_vec())
    }
}

fn all_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// The forwarded form of a signed request, for CreateAuthenticationProof.
fn forwarded(h: &HeaderMap, method: &str, path: &str, body: &[u8]) -> Value {
    let headers: serde_json::Map<String, Value> = h
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap())))
        .collect();
    json!({"Method": method, "Path": path, "Headers": headers,
           "PayloadSha256": hex::encode(strongroom_crypto::sha256(body)),
           "SigningService": SERVICE})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn object_store_acts_for_customers_only_as_policy_allows() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = DevOptions::new(dir.path().join("strongroom"));
    opts.listen = "127.0.0.1:0".parse().unwrap();
    let env = dev::start(opts).await.unwrap();
    let store = env.store.as_ref();
    let endpoint = env.endpoint();
    let region = env.region.clone();

    // The customer: its own account and root key.
    let customer_account = "555566667777";
    strongroom_server::admin::create_account(store, Some(customer_account.into()))
        .await
        .unwrap();
    let ck = strongroom_server::admin::create_access_key(store, &env.hsm, customer_account, None)
        .await
        .unwrap();
    let customer = Customer {
        access_key_id: ck.access_key_id.clone(),
        secret: ck.secret_access_key.clone(),
        region: region.clone(),
    };
    let customer_kms = KmsHttpClient::new(
        &endpoint,
        &region,
        &ck.access_key_id,
        ck.secret_access_key.clone(),
        None,
    )
    .unwrap();
    let key_arn = customer_kms
        .call_json("CreateKey", json!({}))
        .await
        .unwrap()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();

    // The service: a service principal in the operator's account.
    let svc = admin::create_principal(
        store,
        &env.account_id,
        PrincipalKind::Service,
        "objectstore",
        None,
        Vec::new(),
        Some(SERVICE.into()),
    )
    .await
    .unwrap();
    let sk = admin::create_principal_access_key(store, &env.hsm, &svc.arn)
        .await
        .unwrap();
    let data_dir = dir.path().join("objects");
    let os = objstore::start(objstore::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: data_dir.clone(),
        kms_endpoint: endpoint.clone(),
        region: region.clone(),
        access_key_id: sk.access_key_id.clone(),
        secret_access_key: sk.secret_access_key.clone(),
        default_key_id: key_arn.clone(),
    })
    .await
    .unwrap();
    let http = reqwest::Client::new();
    use reqwest::Method;

    // PUT and GET as the customer.
    let (st, _) = customer
        .send(&http, Method::PUT, os.addr, "/photos/cat.jpg", SECRET_PHOTO)
        .await;
    assert_eq!(st, 200);
    let (st, got) = customer
        .send(&http, Method::GET, os.addr, "/photos/cat.jpg", b"")
        .await;
    assert_eq!(st, 200);
    assert_eq!(got, SECRET_PHOTO);
    // A wrong secret is refused by Strongroom, so by the store.
    let impostor = Customer {
        access_key_id: ck.access_key_id.clone(),
        secret: Zeroizing::new("not-the-secret-at-all".into()),
        region: region.clone(),
    };
    let (st, msg) = impostor
        .send(&http, Method::GET, os.addr, "/photos/cat.jpg", b"")
        .await;
    assert_eq!(st, 403, "{}", String::from_utf8_lossy(&msg));

    // The disk: no plaintext; the data key is a Strongroom ciphertext.
    let mut files = Vec::new();
    all_files(&data_dir, &mut files);
    assert_eq!(files.len(), 2, "{files:?}");
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !bytes.windows(SECRET_PHOTO.len()).any(|w| w == SECRET_PHOTO),
            "{f:?} holds the plaintext"
        );
    }
    let datakey = files
        .iter()
        .find(|f| f.extension().is_some_and(|e| e == "datakey"))
        .unwrap();
    let wrapped = std::fs::read(datakey).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&wrapped);
    // Only Strongroom opens it, and only for the key's owner and context.
    let stranger = KmsHttpClient::new(
        &endpoint,
        &region,
        &env.access_key_id,
        env.secret_access_key.clone(),
        None,
    )
    .unwrap();
    let e = stranger
        .call_json("Decrypt", json!({"CiphertextBlob": b64}))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("InvalidCiphertextException"), "{e}");

    // A policy that lets the service encrypt for the customer, not decrypt.
    let policy = json!({"Version": "2012-10-17", "Statement": [
        {"Sid": "direct", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{customer_account}:root")},
         "Action": "kms:*", "Resource": "*", "Condition": {"Null": {"kms:ViaService": "true"}}},
        {"Sid": "via-objectstore", "Effect": "Allow", "Principal": {"AWS": format!("arn:aws:iam::{customer_account}:root")},
         "Action": ["kms:GenerateDataKey", "kms:Encrypt"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": SERVICE}}}]});
    customer_kms
        .call_json(
            "PutKeyPolicy",
            json!({"KeyId": key_arn, "PolicyName": "default", "Policy": policy.to_string()}),
        )
        .await
        .unwrap();
    let (st, _) = customer
        .send(&http, Method::PUT, os.addr, "/photos/dog.jpg", b"woof")
        .await;
    assert_eq!(st, 200);
    let (st, msg) = customer
        .send(&http, Method::GET, os.addr, "/photos/dog.jpg", b"")
        .await;
    let msg = String::from_utf8_lossy(&msg);
    assert_eq!(st, 403, "{msg}");
    assert!(
        msg.contains("AccessDeniedException") && msg.contains("kms:Decrypt"),
        "{msg}"
    );
    // The customer itself, not via the service, still can.
    let pt = customer_kms
        .call_json(
            "Decrypt",
            json!({"CiphertextBlob": b64, "EncryptionContext": {"objectstore:bucket": "photos", "objectstore:key": "cat.jpg"}}),
        )
        .await
        .unwrap();
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(pt["Plaintext"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );

    // Proofs: forged, replayed beyond their uses, expired, misdirected, or
    // asked for by a non-service are refused.
    let svc_kms = KmsHttpClient::new(
        &endpoint,
        &region,
        &sk.access_key_id,
        sk.secret_access_key.clone(),
        None,
    )
    .unwrap();
    let signed = customer.sign("PUT", "objects.example", "/b/k", b"x");
    let mut req = forwarded(&signed, "PUT", "/b/k", b"x");
    req["MaxUses"] = json!(1);
    let proof = svc_kms
        .call_json("CreateAuthenticationProof", req.clone())
        .await
        .unwrap();
    assert_eq!(
        proof["Principal"],
        format!("arn:aws:iam::{customer_account}:root")
    );
    let proof = proof["Proof"].as_str().unwrap().to_string();
    let gdk = json!({"KeyId": key_arn, "KeySpec": "AES_256"});
    svc_kms
        .call_json_with_headers(
            "GenerateDataKey",
            gdk.clone(),
            &[("x-strongroom-auth-proof", &proof)],
        )
        .await
        .unwrap();
    let e = svc_kms
        .call_json_with_headers(
            "GenerateDataKey",
            gdk.clone(),
            &[("x-strongroom-auth-proof", &proof)],
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("used as often as it allows"), "{e}");
    let (claims, mac) = proof.split_once('.').unwrap();
    let mut forged_claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap(),
    )
    .unwrap();
    forged_claims["uses"] = json!(100);
    forged_claims["id"] = json!("00000000000000000000000000000000");
    let forged = format!(
        "{}.{mac}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged_claims.to_string())
    );
    let e = svc_kms
        .call_json_with_headers(
            "GenerateDataKey",
            gdk.clone(),
            &[("x-strongroom-auth-proof", &forged)],
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("signature does not verify"), "{e}");
    // Another service cannot use it.
    let other = admin::create_principal(
        store,
        &env.account_id,
        PrincipalKind::Service,
        "backup",
        None,
        Vec::new(),
        Some("backup.example.com".into()),
    )
    .await
    .unwrap();
    let ok = admin::create_principal_access_key(store, &env.hsm, &other.arn)
        .await
        .unwrap();
    let other_kms = KmsHttpClient::new(
        &endpoint,
        &region,
        &ok.access_key_id,
        ok.secret_access_key.clone(),
        None,
    )
    .unwrap();
    // Each signed request mints one proof: the same one again is refused.
    let e = svc_kms
        .call_json("CreateAuthenticationProof", req.clone())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("already been used to create"), "{e}");
    let signed2 = customer.sign("PUT", "objects.example", "/b/k2", b"x");
    let mut req2 = forwarded(&signed2, "PUT", "/b/k2", b"x");
    req2["MaxUses"] = json!(5);
    let fresh = svc_kms
        .call_json("CreateAuthenticationProof", req2)
        .await
        .unwrap()["Proof"]
        .as_str()
        .unwrap()
        .to_string();
    let e = other_kms
        .call_json_with_headers(
            "GenerateDataKey",
            gdk.clone(),
            &[("x-strongroom-auth-proof", &fresh)],
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("issued to another service"), "{e}");
    // Expired.
    let signed3 = customer.sign("PUT", "objects.example", "/b/k3", b"x");
    let mut short = forwarded(&signed3, "PUT", "/b/k3", b"x");
    short["LifetimeSeconds"] = json!(1);
    let short = svc_kms
        .call_json("CreateAuthenticationProof", short)
        .await
        .unwrap()["Proof"]
        .as_str()
        .unwrap()
        .to_string();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let e = svc_kms
        .call_json_with_headers(
            "GenerateDataKey",
            gdk.clone(),
            &[("x-strongroom-auth-proof", &short)],
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("expired"), "{e}");
    // Only service principals may ask for proofs; a tampered forwarded request fails.
    let e = customer_kms
        .call_json("CreateAuthenticationProof", req.clone())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("only service principals"), "{e}");
    let mut tampered = req.clone();
    tampered["Path"] = json!("/b/other");
    let e = svc_kms
        .call_json("CreateAuthenticationProof", tampered)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("does not authenticate"), "{e}");

    // The audit trail shows the customer, invoked by the service.
    let recs: Vec<Value> = env.audit_events().unwrap();
    assert!(recs.iter().any(|r| r["eventName"] == "GenerateDataKey"
        && r["userIdentity"]["accountId"] == customer_account
        && r["userIdentity"]["invokedBy"] == SERVICE
        && r["errorCode"].is_null()));
    assert!(recs.iter().any(|r| r["eventName"] == "Decrypt"
        && r["userIdentity"]["invokedBy"] == SERVICE
        && r["errorCode"] == "AccessDeniedException"));

    os.shutdown().await;
    env.shutdown().await;
}
