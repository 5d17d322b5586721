//! Optional mTLS for the XKS proxy API (docs/xks.md): with a client CA and
//! subject configured, a certificate from that CA with that subject CN
//! passes; one with another subject, or from another CA, ends the TLS
//! handshake; an XKS request without a certificate is
//! AuthenticationFailedException; the KMS API on the same listener still
//! needs no certificate.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
};
use serde_json::json;
use strongroom_cli::client::KmsHttpClient;
use strongroom_cli::xks_client::XksHttpClient;
use strongroom_server::xks::admin;

use crate::common::*;

const KMS_SUBJECT: &str = "cks.kms.eu-west-1.amazonaws.com";

struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> Ca {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let key = KeyPair::generate().unwrap();
    let cert = p.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(p, key),
    }
}

/// A client certificate and key (PEM, as reqwest's Identity reads them).
fn client_identity(ca: &Ca, subject: &str) -> reqwest::Identity {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, subject);
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, &ca.issuer).unwrap();
    reqwest::Identity::from_pem(format!("{}{}", cert.pem(), key.serialize_pem()).as_bytes())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_configured_ca_and_subject_reach_the_xks_api() {
    let dir = tempfile::tempdir().unwrap();
    let amazon = ca("Amazon Trust Services test root");
    let other = ca("Someone else's root");
    let ca_file = dir.path().join("client-ca.pem");
    std::fs::write(&ca_file, &amazon.pem).unwrap();
    let data = dir.path().join("data");
    let dev = start_in(&data, |o| {
        o.tls = true;
        o.xks_client_auth = Some((ca_file.clone(), KMS_SUBJECT.into()));
    })
    .await;
    let server_ca = std::fs::read(dev.ca_bundle.as_ref().unwrap()).unwrap();
    let (ks, cred) = admin::create_keystore(dev.store.as_ref(), &dev.hsm, &dev.account_id, "ks")
        .await
        .unwrap();
    let client = |identity: Option<reqwest::Identity>| {
        let mut b = reqwest::Client::builder()
            .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&server_ca).unwrap());
        if let Some(i) = identity {
            b = b.identity(i);
        }
        XksHttpClient::with_http_client(
            b.build().unwrap(),
            &dev.endpoint(),
            &ks.prefix,
            "eu-west-1",
            &cred.access_key_id,
            cred.secret_access_key.clone(),
        )
        .unwrap()
    };
    let health =
        json!({"requestMetadata": {"kmsRequestId": "r", "kmsOperation": "KmsHealthCheck"}});

    let kms_cert = client(Some(client_identity(&amazon, KMS_SUBJECT)));
    let (s, h) = kms_cert.call("health", &health).await.unwrap();
    assert_eq!(s, 200, "{h}");

    let (s, e) = client(None).call("health", &health).await.unwrap();
    assert_eq!(s, 401, "{e}");
    assert_eq!(e["errorName"], "AuthenticationFailedException");

    for wrong in [
        client_identity(&amazon, "cks.kms.attacker.example.com"),
        client_identity(&other, KMS_SUBJECT),
    ] {
        assert!(
            client(Some(wrong)).call("health", &health).await.is_err(),
            "the handshake must fail"
        );
    }

    // The KMS API on the same listener needs no client certificate.
    let kms = KmsHttpClient::new(
        &dev.endpoint(),
        &dev.region,
        &dev.access_key_id,
        dev.secret_access_key.clone(),
        dev.ca_bundle.as_ref(),
    )
    .unwrap();
    kms.call_json("ListKeys", json!({})).await.unwrap();
    dev.shutdown().await;
}
