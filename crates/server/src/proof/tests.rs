//! Proof checks that need no server: the claims a presenter must match,
//! and the store record a proof must be honoured against.

use std::sync::Arc;

use strongroom_store::prelude::*;
use strongroom_store::{ProofMint, SqliteStore};

use super::*;
use crate::authz::operations::Effect;
use crate::identity::Identity;

fn service(arn: &str, name: &str) -> Caller {
    Caller {
        account_id: "111122223333".into(),
        access_key_id: "AKIASERVICE".into(),
        identity: Arc::new(Identity {
            kind: IdentityKind::Service,
            arn: arn.into(),
            session_arn: arn.into(),
            tags: Vec::new(),
            policy: None,
            service_name: Some(name.into()),
        }),
        via_service: None,
        region: crate::region::Region::aws_default(),
    }
}

const SVC_A: &str = "arn:aws:iam::111122223333:user/objectstore";

fn claims(digest: &str) -> ProofClaims {
    ProofClaims {
        v: CLAIMS_VERSION,
        id: "00112233445566778899aabbccddeeff".into(),
        issued_to: SVC_A.into(),
        principal: "arn:aws:iam::555566667777:root".into(),
        account: "555566667777".into(),
        access_key_id: "AKIACUSTOMER".into(),
        service: "objectstore.example.com".into(),
        iat: 1_000,
        exp: 1_300,
        uses: 1,
        digest: digest.into(),
    }
}

async fn store_with_mint(digest: &str, uses: u32) -> Arc<dyn Store> {
    let s = SqliteStore::open_in_memory().unwrap();
    assert!(
        s.record_proof_mint(&ProofMint {
            request_digest: digest.into(),
            proof_id: claims(digest).id,
            uses,
            expires_at: 1_300,
        })
        .await
        .unwrap()
    );
    Arc::new(s)
}

fn refusal(r: Result<(), KmsError>) -> String {
    match r {
        Err(KmsError::AccessDenied(m)) => m,
        other => panic!("expected AccessDenied, got {other:?}"),
    }
}

#[tokio::test]
async fn proof_whose_digest_differs_from_its_minting_record_is_refused_and_uses_nothing() {
    let store = store_with_mint("d-minted", 1).await;
    let m = refusal(consume(store.as_ref(), &claims("d-other"), 1_100).await);
    assert!(m.contains("no record of its minting"), "{m}");
    // The genuine proof still has its one use, then none.
    consume(store.as_ref(), &claims("d-minted"), 1_100)
        .await
        .unwrap();
    let m = refusal(consume(store.as_ref(), &claims("d-minted"), 1_101).await);
    assert!(m.contains("used as often as it allows"), "{m}");
}

#[tokio::test]
async fn proof_never_recorded_in_the_store_is_refused() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let m = refusal(consume(store.as_ref(), &claims("d"), 1_100).await);
    assert!(m.contains("no record of its minting"), "{m}");
}

#[test]
fn proof_for_service_a_presented_by_service_b_is_refused() {
    let c = claims("d");
    check_claims(&c, &service(SVC_A, "objectstore.example.com"), 1_100).unwrap();
    for presenter in [
        service(
            "arn:aws:iam::111122223333:user/backup",
            "backup.example.com",
        ),
        // Same service name, another principal (renamed or re-created).
        service(
            "arn:aws:iam::111122223333:user/impostor",
            "objectstore.example.com",
        ),
    ] {
        let m = refusal(check_claims(&c, &presenter, 1_100));
        assert!(m.contains("issued to another service"), "{m}");
    }
    // A service presenting while itself acting via a proof is refused too.
    let mut chained = service(SVC_A, "objectstore.example.com");
    chained.via_service = Some("objectstore.example.com".into());
    refusal(check_claims(&c, &chained, 1_100));
}

#[test]
fn expired_or_old_format_proof_is_refused() {
    let presenter = service(SVC_A, "objectstore.example.com");
    let m = refusal(check_claims(&claims("d"), &presenter, 1_300));
    assert!(m.contains("expired"), "{m}");
    let mut v1 = claims("d");
    v1.v = 1;
    let m = refusal(check_claims(&v1, &presenter, 1_100));
    assert!(m.contains("format"), "{m}");
}

#[test]
fn request_digest_names_key_and_signature_and_signing_service_binds_to_service_name() {
    let a = request_digest("AKIA1", &[1; 32]);
    assert_ne!(a, request_digest("AKIA2", &[1; 32]));
    assert_ne!(a, request_digest("AKIA1", &[2; 32]));
    assert_eq!(a, request_digest("AKIA1", &[1; 32]));
    assert!(signing_service_matches(
        "objectstore.example.com",
        "objectstore.example.com"
    ));
    // Exact: no first label, prefix or suffix of the name is enough.
    for near in [
        "objectstore",
        "objectstore.example",
        "object",
        "objectstore.example.com.",
        "OBJECTSTORE.example.com",
    ] {
        assert!(
            !signing_service_matches("objectstore.example.com", near),
            "{near}"
        );
    }
    assert!(!signing_service_matches(
        "objectstore.attacker",
        "objectstore"
    ));
    assert!(!signing_service_matches(
        "backup.example.com",
        "objectstore.example.com"
    ));
}

#[test]
fn proofs_are_accepted_only_for_rows_marked_via_proof() {
    let mut marked = Vec::new();
    for row in crate::ops::OPERATIONS {
        let checked = check_operation(Some(row.name));
        assert_eq!(checked.is_ok(), row.via_proof, "{}", row.name);
        if row.via_proof {
            // A proof never reaches an operation that changes state or
            // names no key of the customer's.
            assert_eq!(row.effect, Effect::Reads, "{}", row.name);
            assert!(!row.is_keyless(), "{}", row.name);
            marked.push(row.name);
        } else {
            let e = checked.unwrap_err();
            assert_eq!(e.type_name(), "AccessDeniedException", "{}", row.name);
        }
    }
    assert_eq!(
        marked,
        [
            "DescribeKey",
            "Encrypt",
            "Decrypt",
            "ReEncrypt",
            "GenerateDataKey",
            "GenerateDataKeyWithoutPlaintext",
            "GenerateDataKeyPair",
            "GenerateDataKeyPairWithoutPlaintext",
            "Sign",
            "Verify",
            "GetPublicKey",
            "GenerateMac",
            "VerifyMac",
        ]
    );
    for op in [
        None,
        Some("CreateAuthenticationProof"),
        Some("NoSuchOperation"),
    ] {
        assert!(check_operation(op).is_err(), "{op:?}");
    }
}

#[test]
fn sealed_claims_open_only_under_their_key_unchanged_and_within_the_size_limit() {
    let key = [7u8; 32];
    let c = claims(&"ab".repeat(32));
    let proof = seal_claims(&key, &c).unwrap();
    assert_eq!(open_claims(&key, &proof).unwrap(), c);
    assert!(open_claims(&[8u8; 32], &proof).is_err());
    let (body, mac) = proof.split_once('.').unwrap();
    let mut other = c.clone();
    other.uses += 1;
    let swapped = format!(
        "{}.{mac}",
        seal_claims(&key, &other)
            .unwrap()
            .split_once('.')
            .unwrap()
            .0
    );
    assert!(open_claims(&key, &swapped).is_err());
    assert!(open_claims(&key, body).is_err());
    let long = format!("{proof}{}", "A".repeat(MAX_PROOF_BYTES));
    assert!(open_claims(&key, &long).is_err());
}
