//! Attacks on the XKS proxy API found in review: each a refusal that must
//! leave nothing behind that a flood could use against other callers.

use serde_json::json;
use strongroom_cli::xks_client::{Signing, XksHttpClient};
use zeroize::Zeroizing;

use crate::common::*;
use crate::xks::{assert_error, key_store, meta};

/// An internet client knows a key store's access key id (it is no secret:
/// AWS shows it in DescribeCustomKeyStores, Strongroom in `xks list` and
/// the audit trail) but not its secret. XKS accepts any well-formed region
/// in the credential scope, so each forged request in a new region made
/// the module derive a signing key, which was cached before the signature
/// was checked: a flood filled the cache shared with the KMS API until it
/// was cleared, and every caller paid a module round trip again.
#[tokio::test]
async fn forged_signatures_in_made_up_regions_cache_no_signing_keys() {
    let env = TestEnv::start().await;
    let ks = key_store(&env, &env.dev.account_id, "ks").await;
    let body = json!({"requestMetadata": meta("KmsHealthCheck")});
    // The real credential works (and caches its own signing key).
    assert_eq!(ks.client.call("health", &body).await.unwrap().0, 200);
    let cached = env.dev.server.cached_signing_keys();
    for i in 0..40 {
        let forger = XksHttpClient::new(
            &env.dev.endpoint(),
            "/ks",
            &format!("zz-forged-{i}"),
            &ks.access_key_id,
            Zeroizing::new("x".repeat(44)),
        )
        .unwrap();
        let got = forger
            .send(
                "POST",
                &forger.path("health"),
                serde_json::to_vec(&body).unwrap(),
                &Signing::default(),
            )
            .await
            .unwrap();
        assert_error(got, 401, "AuthenticationFailedException");
    }
    assert_eq!(
        env.dev.server.cached_signing_keys(),
        cached,
        "forged requests left signing keys in the cache"
    );
    assert_eq!(ks.client.call("health", &body).await.unwrap().0, 200);
    env.stop().await;
}
