//! Two frontends on one PostgreSQL store, after a suspension owner change
//! made through one of them: the other must not act on the EKTs it cached
//! before the change. SuspendKey through it to the previous owner is
//! refused (that owner could otherwise open the handed-out material), and
//! a rotation through it binds the new version to the new owner.

use std::time::Duration;

use base64::Engine;
use strongroom_cli::client::KmsHttpClient;
use strongroom_cli::dev::DevEnvironment;
use strongroom_crypto::{AsymmetricKey, AsymmetricSpec, SignInput, SigningAlgorithm};

use crate::common::*;
use crate::material_release::{open_blob, refused, releasing_policy};

const TTL: Duration = Duration::from_millis(300);
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn raw(dev: &DevEnvironment) -> KmsHttpClient {
    KmsHttpClient::new(
        &dev.endpoint(),
        &dev.region,
        &dev.access_key_id,
        dev.secret_access_key.clone(),
        None,
    )
    .unwrap()
}

fn b64(k: &AsymmetricKey) -> String {
    B64.encode(k.public_key())
}

/// Frontends A and B on one fresh PostgreSQL store, sharing the dev domain.
struct TwoFrontends {
    a: DevEnvironment,
    b: DevEnvironment,
    _dir: tempfile::TempDir,
}

impl TwoFrontends {
    /// `None` when there is no PostgreSQL here (said once).
    async fn start() -> Option<Self> {
        let url = fresh_postgres_url().await?;
        let dir = tempfile::tempdir().unwrap();
        let mut envs = Vec::new();
        for i in 0..2 {
            let url = url.clone();
            envs.push(
                start_in(dir.path(), |o| {
                    o.store_url = Some(url);
                    o.metadata_cache_ttl = Some(TTL);
                    // One data directory: each frontend needs its own chain.
                    o.audit.audit_chain = Some(format!("fe-{i}"));
                })
                .await,
            );
        }
        let b = envs.pop().unwrap();
        let a = envs.pop().unwrap();
        Some(Self { a, b, _dir: dir })
    }

    async fn stop(self) {
        self.a.shutdown().await;
        self.b.shutdown().await;
    }
}

/// A key owned by `owner`, made through A and used once through B (so B
/// caches its metadata and EKTs), then handed from `owner` to `heir`
/// through A. Returns the key's ARN and id.
async fn key_handed_over_behind_bs_back(
    f: &TwoFrontends,
    owner: &AsymmetricKey,
    heir: &AsymmetricKey,
) -> (String, uuid::Uuid) {
    let (ra, cb) = (
        raw(&f.a),
        client_for(&f.b, &f.b.access_key_id, &f.b.secret_access_key),
    );
    let arn = ra
        .call_json(
            "CreateKey",
            serde_json::json!({"SuspensionOwnerPublicKey": b64(owner),
                "Policy": releasing_policy(&f.a.account_id)}),
        )
        .await
        .unwrap()["KeyMetadata"]["Arn"]
        .as_str()
        .unwrap()
        .to_string();
    let id: uuid::Uuid = arn.rsplit('/').next().unwrap().parse().unwrap();
    cb.encrypt()
        .key_id(&arn)
        .plaintext(blob(b"cached in B"))
        .send()
        .await
        .unwrap();
    let valid_to = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 300;
    let statement =
        strongroom_hsm::owner_change_statement(id, owner.public_key(), heir.public_key(), valid_to);
    let signature = owner
        .sign(SigningAlgorithm::RsaPssSha256, SignInput::Raw(&statement))
        .unwrap();
    let out = ra
        .call_json(
            "UpdateSuspensionOwner",
            serde_json::json!({"KeyId": arn, "CurrentOwnerPublicKey": b64(owner),
                "NewOwnerPublicKey": b64(heir), "ValidTo": valid_to,
                "Signature": B64.encode(signature)}),
        )
        .await
        .unwrap();
    assert_eq!(out["Versions"], 1);
    (arn, id)
}

async fn key_state(raw: &KmsHttpClient, arn: &str) -> String {
    raw.call_json("DescribeKey", serde_json::json!({"KeyId": arn}))
        .await
        .unwrap()["KeyMetadata"]["KeyState"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn suspend(
    raw: &KmsHttpClient,
    arn: &str,
    to: &AsymmetricKey,
) -> anyhow::Result<serde_json::Value> {
    raw.call_json(
        "SuspendKey",
        serde_json::json!({"KeyId": arn, "PublicKey": b64(to)}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_through_a_stale_frontend_to_the_previous_owner_is_refused() {
    let Some(f) = TwoFrontends::start().await else {
        return;
    };
    let (owner, heir) = (
        AsymmetricKey::generate(AsymmetricSpec::Rsa2048).unwrap(),
        AsymmetricKey::generate(AsymmetricSpec::Rsa2048).unwrap(),
    );
    let (arn, id) = key_handed_over_behind_bs_back(&f, &owner, &heir).await;
    let (ra, rb) = (raw(&f.a), raw(&f.b));

    // At once (B's metadata still cached) and long after: the previous
    // owner is refused through either frontend, and nothing changed.
    assert_eq!(
        refused(suspend(&rb, &arn, &owner).await),
        "ValidationException"
    );
    tokio::time::sleep(TTL * 4).await;
    assert_eq!(
        refused(suspend(&ra, &arn, &owner).await),
        "ValidationException"
    );
    assert_eq!(
        refused(suspend(&rb, &arn, &owner).await),
        "ValidationException"
    );
    assert_eq!(key_state(&ra, &arn).await, "Enabled");
    assert_eq!(key_state(&rb, &arn).await, "Enabled");
    let cb = client_for(&f.b, &f.b.access_key_id, &f.b.secret_access_key);
    cb.encrypt()
        .key_id(&arn)
        .plaintext(blob(b"still usable"))
        .send()
        .await
        .unwrap();

    // The heir suspends through B; only the heir opens the material.
    let s = suspend(&rb, &arn, &heir).await.unwrap();
    let material = B64
        .decode(s["SuspendedKeyMaterial"].as_str().unwrap())
        .unwrap();
    assert!(open_blob(&owner, id, &material).is_none());
    assert_eq!(open_blob(&heir, id, &material).unwrap(), [1]);
    f.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_through_a_stale_frontend_keeps_the_heir_as_owner() {
    let Some(f) = TwoFrontends::start().await else {
        return;
    };
    let (owner, heir) = (
        AsymmetricKey::generate(AsymmetricSpec::Rsa2048).unwrap(),
        AsymmetricKey::generate(AsymmetricSpec::Rsa2048).unwrap(),
    );
    let (arn, id) = key_handed_over_behind_bs_back(&f, &owner, &heir).await;
    let (ra, rb) = (raw(&f.a), raw(&f.b));

    // B rotates at once, while its copy of the key predates the handover.
    rb.call_json("RotateKeyOnDemand", serde_json::json!({"KeyId": arn}))
        .await
        .unwrap();
    tokio::time::sleep(TTL * 4).await;

    // The previous owner is refused; the heir suspends both versions.
    assert_eq!(
        refused(suspend(&ra, &arn, &owner).await),
        "ValidationException"
    );
    assert_eq!(key_state(&ra, &arn).await, "Enabled");
    let s = suspend(&ra, &arn, &heir).await.unwrap();
    let material = B64
        .decode(s["SuspendedKeyMaterial"].as_str().unwrap())
        .unwrap();
    assert!(open_blob(&owner, id, &material).is_none());
    assert_eq!(open_blob(&heir, id, &material).unwrap(), [1, 2]);
    f.stop().await;
}
