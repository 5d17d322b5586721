//! Getting key material out (issue 10, finding 4): `kms:*` never allows the
//! extensions that release material; SuspendKey wraps only to the owner the
//! module bound at creation; and a compromised frontend, holding the module
//! client, cannot use an import wrapping key or a VOLATILE key's transient
//! token as a key.

use base64::Engine;
use serde::Deserialize;
use strongroom_cli::client::{KmsCallError, KmsHttpClient};
use strongroom_crypto::{AsymmetricKey, AsymmetricSpec, OaepHash, SignInput, SigningAlgorithm};
use strongroom_hsm_proto::{Ekt, HsmError, KeyRef, KeySpecCode, Request, Response};

use crate::common::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A key policy that allows the account root everything, naming the
/// material-releasing actions that `kms:*` does not cover.
pub fn releasing_policy(account: &str) -> String {
    format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},
          "Action":["kms:*","kms:SuspendKey","kms:UpdateSuspensionOwner","kms:ExposeKeyMaterial","kms:RevealDerivedKey"],
          "Resource":"*"}}]}}"#
    )
}

pub(crate) fn kms_star_policy(account: &str) -> String {
    format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{account}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
    )
}

pub(crate) fn raw(env: &TestEnv) -> KmsHttpClient {
    KmsHttpClient::new(
        &env.dev.endpoint(),
        &env.dev.region,
        &env.dev.access_key_id,
        env.dev.secret_access_key.clone(),
        None,
    )
    .unwrap()
}

/// The AWS error type of a refused call.
pub(crate) fn refused(r: anyhow::Result<serde_json::Value>) -> String {
    let e = r.expect_err("the call was allowed");
    e.downcast_ref::<KmsCallError>()
        .map(|e| e.error_type.clone())
        .unwrap_or_else(|| format!("{e}"))
}

fn rsa() -> AsymmetricKey {
    AsymmetricKey::generate(AsymmetricSpec::Rsa2048).unwrap()
}

async fn state(raw: &KmsHttpClient, arn: &str) -> serde_json::Value {
    raw.call_json("DescribeKey", serde_json::json!({"KeyId": arn}))
        .await
        .unwrap()["KeyMetadata"]
        .clone()
}

async fn create(raw: &KmsHttpClient, body: serde_json::Value) -> String {
    raw.call_json("CreateKey", body).await.unwrap()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_star_does_not_allow_suspend_expose_or_reveal_but_naming_the_action_does() {
    let env = TestEnv::start().await;
    let raw = raw(&env);
    let me = env.dev.account_id.clone();
    let owner = rsa();
    let owner_b64 = B64.encode(owner.public_key());
    let keys_before = env
        .client
        .list_keys()
        .send()
        .await
        .unwrap()
        .keys
        .unwrap()
        .len();

    // kms:* (the default policy, and one written out) allows none of them.
    for policy in [None, Some(kms_star_policy(&me))] {
        let mut body = serde_json::json!({"SuspensionOwnerPublicKey": owner_b64});
        if let Some(p) = &policy {
            body["Policy"] = p.clone().into();
        }
        let arn = create(&raw, body).await;
        let r = raw
            .call_json(
                "SuspendKey",
                serde_json::json!({"KeyId": arn, "PublicKey": owner_b64}),
            )
            .await;
        assert_eq!(refused(r), "AccessDeniedException");
        assert_eq!(state(&raw, &arn).await["KeyState"], "Enabled");
        let r = raw
            .call_json(
                "DeriveKey",
                serde_json::json!({"KeyId": arn, "DerivationContext": {"t": "a"}, "ReturnDerivedKey": true}),
            )
            .await;
        assert_eq!(refused(r), "AccessDeniedException");
        assert!(state(&raw, &arn).await.get("Exposed").is_none());
        let mut body = serde_json::json!({"ExposeKeyMaterial": true});
        if let Some(p) = &policy {
            body["Policy"] = p.clone().into();
        }
        let r = raw.call_json("CreateKey", body).await;
        assert_eq!(refused(r), "AccessDeniedException");
    }
    // Only the two keys made above exist: the refused CreateKeys made none.
    let keys_after = env
        .client
        .list_keys()
        .send()
        .await
        .unwrap()
        .keys
        .unwrap()
        .len();
    assert_eq!(keys_after, keys_before + 2);

    // A wildcard Deny still denies an action the Allow names.
    let deny = format!(
        r#"{{"Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{me}:root"}},"Action":["kms:*","kms:SuspendKey"],"Resource":"*"}},
          {{"Effect":"Deny","Principal":"*","Action":"kms:Sus*","Resource":"*"}}]}}"#
    );
    let arn = create(
        &raw,
        serde_json::json!({"SuspensionOwnerPublicKey": owner_b64, "Policy": deny}),
    )
    .await;
    let r = raw
        .call_json(
            "SuspendKey",
            serde_json::json!({"KeyId": arn, "PublicKey": owner_b64}),
        )
        .await;
    assert_eq!(refused(r), "AccessDeniedException");

    // Named explicitly, each is allowed.
    let policy = releasing_policy(&me);
    let created = raw
        .call_json(
            "CreateKey",
            serde_json::json!({"ExposeKeyMaterial": true, "Policy": policy}),
        )
        .await
        .unwrap();
    assert!(created["KeyMaterial"].is_string());
    let arn = create(
        &raw,
        serde_json::json!({"SuspensionOwnerPublicKey": owner_b64, "Policy": policy}),
    )
    .await;
    let d = raw
        .call_json(
            "DeriveKey",
            serde_json::json!({"KeyId": arn, "DerivationContext": {"t": "a"}, "ReturnDerivedKey": true}),
        )
        .await
        .unwrap();
    assert!(d["DerivedKey"].is_string());
    let s = raw
        .call_json(
            "SuspendKey",
            serde_json::json!({"KeyId": arn, "PublicKey": owner_b64}),
        )
        .await
        .unwrap();
    assert!(s["SuspendedKeyMaterial"].is_string());
    assert_eq!(state(&raw, &arn).await["KeyState"], "Suspended");
}

#[derive(Deserialize)]
struct Bundle {
    #[allow(dead_code)]
    format: u8,
    #[allow(dead_code)]
    key_id: uuid::Uuid,
    #[allow(dead_code)]
    owner: Option<[u8; 32]>,
    versions: Vec<(u32, u8, Vec<u8>)>,
}

/// The versions in a suspended blob, if `private` opens it.
pub fn open_blob(private: &AsymmetricKey, key_id: uuid::Uuid, blob: &[u8]) -> Option<Vec<u32>> {
    let l = u16::from_be_bytes([blob[0], blob[1]]) as usize;
    let aes = private.decrypt(OaepHash::Sha256, &blob[2..2 + l]).ok()?;
    let aes = strongroom_crypto::Aes256GcmKey::new(
        &strongroom_crypto::SecretKey256::from_slice(&aes).ok()?,
    );
    let iv: [u8; 12] = blob[2 + l..14 + l].try_into().unwrap();
    let mut aad = b"strongroom suspended key v1".to_vec();
    aad.extend_from_slice(key_id.as_bytes());
    let mut body = blob[14 + l..].to_vec();
    let n = aes.open_in_place(iv, &aad, &mut body).ok()?.len();
    let b: Bundle = strongroom_hsm_proto::admin::decode(&body[..n]).ok()?;
    Some(b.versions.iter().map(|v| v.0).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_key_to_any_key_but_the_owner_fixed_at_creation_is_refused() {
    let env = TestEnv::start().await;
    let raw = raw(&env);
    let c = &env.client;
    let (owner, attacker, heir) = (rsa(), rsa(), rsa());
    let b64 = |k: &AsymmetricKey| B64.encode(k.public_key());
    let policy = releasing_policy(&env.dev.account_id);
    let arn = create(
        &raw,
        serde_json::json!({"SuspensionOwnerPublicKey": b64(&owner), "Policy": policy}),
    )
    .await;
    let id: uuid::Uuid = arn.rsplit('/').next().unwrap().parse().unwrap();
    c.rotate_key_on_demand().key_id(&arn).send().await.unwrap();
    let ct = c
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(b"kept"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();

    // Another public key at SuspendKey: refused, and the key still works.
    let r = raw
        .call_json(
            "SuspendKey",
            serde_json::json!({"KeyId": arn, "PublicKey": b64(&attacker)}),
        )
        .await;
    assert_eq!(refused(r), "ValidationException");
    assert_eq!(state(&raw, &arn).await["KeyState"], "Enabled");
    c.decrypt()
        .ciphertext_blob(ct.clone())
        .send()
        .await
        .unwrap();

    // Re-binding without the owner's signature: refused, nothing changed.
    let valid_to = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 300;
    let sign = |signer: &AsymmetricKey, new: &AsymmetricKey| {
        let statement = strongroom_hsm::owner_change_statement(
            id,
            signer.public_key(),
            new.public_key(),
            valid_to,
        );
        B64.encode(
            signer
                .sign(SigningAlgorithm::RsaPssSha256, SignInput::Raw(&statement))
                .unwrap(),
        )
    };
    let change = |current: &AsymmetricKey, new: &AsymmetricKey, signature: String| {
        serde_json::json!({"KeyId": arn, "CurrentOwnerPublicKey": b64(current),
            "NewOwnerPublicKey": b64(new), "ValidTo": valid_to, "Signature": signature})
    };
    let r = raw
        .call_json(
            "UpdateSuspensionOwner",
            change(&owner, &attacker, sign(&attacker, &attacker)),
        )
        .await;
    assert_eq!(refused(r), "ValidationException");
    // kms:* alone does not allow the call even with a valid signature.
    c.put_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .policy(kms_star_policy(&env.dev.account_id))
        .send()
        .await
        .unwrap();
    let r = raw
        .call_json(
            "UpdateSuspensionOwner",
            change(&owner, &heir, sign(&owner, &heir)),
        )
        .await;
    assert_eq!(refused(r), "AccessDeniedException");
    c.put_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .policy(&policy)
        .send()
        .await
        .unwrap();
    // The owner's signed change goes through; the old owner is then refused.
    let handover = sign(&owner, &heir);
    let out = raw
        .call_json(
            "UpdateSuspensionOwner",
            change(&owner, &heir, handover.clone()),
        )
        .await
        .unwrap();
    assert_eq!(out["Versions"], 2);
    // The same signed change replayed within its hour: refused (it names
    // the owner it hands over from, who no longer owns the key).
    let r = raw
        .call_json("UpdateSuspensionOwner", change(&owner, &heir, handover))
        .await;
    assert_eq!(refused(r), "ValidationException");
    c.decrypt().ciphertext_blob(ct).send().await.unwrap();
    let r = raw
        .call_json(
            "SuspendKey",
            serde_json::json!({"KeyId": arn, "PublicKey": b64(&owner)}),
        )
        .await;
    assert_eq!(refused(r), "ValidationException");
    let s = raw
        .call_json(
            "SuspendKey",
            serde_json::json!({"KeyId": arn, "PublicKey": b64(&heir)}),
        )
        .await
        .unwrap();
    let blob = B64
        .decode(s["SuspendedKeyMaterial"].as_str().unwrap())
        .unwrap();
    assert!(open_blob(&attacker, id, &blob).is_none());
    assert!(open_blob(&owner, id, &blob).is_none());
    assert_eq!(open_blob(&heir, id, &blob).unwrap(), [1, 2]);
}

#[derive(Deserialize)]
struct ImportTokenBody {
    #[allow(dead_code)]
    key_id: uuid::Uuid,
    #[allow(dead_code)]
    algorithm: String,
    #[allow(dead_code)]
    valid_to: u64,
    wrapping_key: Vec<u8>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compromised_frontend_cannot_use_an_import_wrapping_key_or_a_transient_token_as_a_key() {
    use aws_sdk_kms::types::{AlgorithmSpec, OriginType, WrappingKeySpec};
    let env = TestEnv::start().await;
    let c = &env.client;
    let raw = raw(&env);
    let arn = c
        .create_key()
        .origin(OriginType::External)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .arn
        .unwrap();
    let key_id: uuid::Uuid = arn.rsplit('/').next().unwrap().parse().unwrap();
    let p = c
        .get_parameters_for_import()
        .key_id(&arn)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await
        .unwrap();
    let token = p.import_token.unwrap().into_inner();
    let public = p.public_key.unwrap().into_inner();
    let material = [0x5au8; 32];
    let wrapped =
        strongroom_crypto::rsa_oaep_encrypt(&public, OaepHash::Sha256, &material).unwrap();
    // The frontend lifts the wrapping key out of the token it relays.
    let body: ImportTokenBody =
        strongroom_hsm_proto::admin::decode(&token[..token.len() - 32]).unwrap();
    let stolen = Ekt(body.wrapping_key);
    let hsm = &env.dev.hsm;
    for version in [0, 1] {
        let key = KeyRef { key_id, version };
        let r = hsm
            .call(Request::AsymmetricDecrypt {
                key,
                ekt: stolen.clone(),
                ciphertext: wrapped.clone(),
                algorithm: "RSAES_OAEP_SHA_256".into(),
            })
            .await;
        assert!(matches!(r, Err(HsmError::InvalidKeyToken)), "{r:?}");
        let r = hsm
            .call(Request::Sign {
                key,
                ekt: stolen.clone(),
                message: zeroize::Zeroizing::new(b"m".to_vec()),
                digest: false,
                algorithm: "RSASSA_PSS_SHA_256".into(),
            })
            .await;
        assert!(matches!(r, Err(HsmError::InvalidKeyToken)), "{r:?}");
    }
    // The customer's import is untouched and works.
    c.import_key_material()
        .key_id(&arn)
        .import_token(blob(&token))
        .encrypted_key_material(blob(&wrapped))
        .expiration_model(aws_sdk_kms::types::ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
        .unwrap();

    // A VOLATILE key's transient token, kept and used as a durable EKT.
    let vol = create(&raw, serde_json::json!({"StorageClass": "VOLATILE"})).await;
    let vol_id: uuid::Uuid = vol.rsplit('/').next().unwrap().parse().unwrap();
    let key = KeyRef {
        key_id: vol_id,
        version: 1,
    };
    let Ok(Response::TransientEkt(transient)) = hsm
        .call(Request::GenerateVolatileKey {
            key,
            spec: KeySpecCode::SymmetricDefault,
        })
        .await
    else {
        panic!("no transient token")
    };
    let as_ekt = Ekt(transient.0);
    let r = hsm
        .call(Request::Encrypt {
            key,
            ekt: as_ekt.clone(),
            plaintext: zeroize::Zeroizing::new(b"x".to_vec()),
            context: vec![],
        })
        .await;
    assert!(matches!(r, Err(HsmError::InvalidKeyToken)), "{r:?}");
    let r = hsm.call(Request::RewrapKeys { ekts: vec![as_ekt] }).await;
    assert!(matches!(r, Err(HsmError::InvalidKeyToken)), "{r:?}");
}
