//! Every module request through every narrowed client: which are sent and
//! which are refused before they leave the frontend. The expectations are
//! written out here, apart from `scope`, in a match with no wildcard arm, so
//! a new `Request` variant fails to compile until it is decided, and fails
//! `every_request_variant_has_a_sample` until it is tried.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use strongroom_hsm_proto::admin::SignedCommand;
use strongroom_hsm_proto::{
    Caller, Ekt, HsmClient, HsmError, KeyRef, KeySpecCode, ModuleHandler, Request, Response,
    SigV4Scope, TransientEkt, spawn_module_task,
};
use uuid::Uuid;
use zeroize::Zeroizing;

use super::super::change_module::ChangeModule;
use super::super::key_module::{KeyModule, keyless_row_may_use_module};
use crate::ops::OPERATIONS;

/// Which narrowed client may send a request (as this test states it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allowed {
    /// The authorized key's client (`KeyModule::call`), for that key.
    KeyUse,
    /// The change's client (`ChangeModule`), for keys the change covers.
    Change,
    /// Neither.
    Neither,
}

/// How many variants `Request` has; `decision` numbers them 0.. this.
const VARIANTS: u8 = 46;

/// Each variant's number and which client may send it.
fn decision(request: &Request) -> (u8, Allowed) {
    use Allowed::{Change, KeyUse, Neither};
    match request {
        Request::GenerateBackingKey { .. } => (0, Change),
        Request::GenerateVolatileKey { .. } => (1, Change),
        Request::InstallVolatileKey { .. } => (2, Change),
        Request::GenerateExposedKey { .. } => (3, Change),
        Request::Encrypt { .. } => (4, KeyUse),
        // Typed `KeyModule::decrypt` only: the request names no key.
        Request::Decrypt { .. } => (5, Neither),
        Request::ReEncrypt { .. } => (6, KeyUse),
        Request::GenerateDataKey { .. } => (7, KeyUse),
        // Answers the derived key in clear: a release of material.
        Request::DeriveKey { .. } => (8, Change),
        // Typed `KeylessModule::generate_random` only.
        Request::GenerateRandom { .. } => (9, Neither),
        Request::SealCredential { .. } => (10, Neither),
        Request::DeriveSigV4Key { .. } => (11, Neither),
        Request::GenerateMac { .. } => (12, KeyUse),
        Request::VerifyMac { .. } => (13, KeyUse),
        Request::Sign { .. } => (14, KeyUse),
        Request::Verify { .. } => (15, KeyUse),
        Request::GetPublicKey { .. } => (16, KeyUse),
        Request::AsymmetricDecrypt { .. } => (17, KeyUse),
        Request::AsymmetricEncrypt { .. } => (18, KeyUse),
        Request::DeriveSharedSecret { .. } => (19, KeyUse),
        Request::GenerateDataKeyPair { .. } => (20, KeyUse),
        Request::PrepareImport { .. } => (21, Change),
        Request::ImportKeyMaterial { .. } => (22, Change),
        Request::ForgetKey { .. } => (23, Change),
        Request::ShredKey { .. } => (24, Change),
        Request::SuspendKey { .. } => (25, Change),
        Request::ReinstateKey { .. } => (26, Change),
        Request::Status => (27, Neither),
        Request::Command(_) => (28, Neither),
        Request::GetDomainToken { .. } => (29, Neither),
        Request::ListDomains => (30, Neither),
        Request::Attest { .. } => (31, Neither),
        Request::ListLogs => (32, Neither),
        Request::DescribeLog { .. } => (33, Neither),
        Request::GetLog { .. } => (34, Neither),
        Request::RewrapKeys { .. } => (35, Neither),
        Request::RewrapCredentials { .. } => (36, Neither),
        // The client wraps requests in their domain itself.
        Request::InDomain { .. } => (37, Neither),
        Request::GenerateOwnedBackingKey { .. } => (38, Change),
        Request::RotateBackingKey { .. } => (39, Change),
        Request::UpdateSuspensionOwner { .. } => (40, Change),
        Request::RevealDerivedKey { .. } => (41, Change),
        // The audit writer's sealer calls the module itself, never a handler.
        Request::SignAuditSeal { .. } => (42, Neither),
        Request::AuditSealKeys => (43, Neither),
        Request::XksEncrypt { .. } => (44, KeyUse),
        Request::XksDecrypt { .. } => (45, KeyUse),
    }
}

/// One request of every variant, each naming key `k` wherever it names a key.
fn samples(k: Uuid) -> Vec<Request> {
    let v = KeyRef {
        key_id: k,
        version: 1,
    };
    let spec = KeySpecCode::SymmetricDefault;
    let ekt = || Ekt(vec![1]);
    let bytes = || vec![2u8];
    let secret = || Zeroizing::new(vec![3u8]);
    vec![
        Request::GenerateBackingKey { key: v, spec },
        Request::GenerateVolatileKey { key: v, spec },
        Request::InstallVolatileKey {
            key: v,
            ekt: TransientEkt(bytes()),
        },
        Request::GenerateExposedKey { key: v, spec },
        Request::Encrypt {
            key: v,
            ekt: ekt(),
            plaintext: secret(),
            context: bytes(),
        },
        Request::Decrypt {
            ekt: ekt(),
            ciphertext: bytes(),
            context: bytes(),
        },
        Request::ReEncrypt {
            source_ekt: ekt(),
            ciphertext: bytes(),
            source_context: bytes(),
            destination: v,
            destination_ekt: ekt(),
            destination_context: bytes(),
        },
        Request::GenerateDataKey {
            key: v,
            ekt: ekt(),
            context: bytes(),
            length: 32,
            with_plaintext: true,
        },
        Request::DeriveKey {
            key: v,
            ekt: ekt(),
            context: bytes(),
            length: 32,
        },
        Request::GenerateRandom { length: 8 },
        Request::SealCredential {
            access_key_id: "AKIDTEST".into(),
            secret: Zeroizing::new("secret".into()),
        },
        Request::DeriveSigV4Key {
            access_key_id: "AKIDTEST".into(),
            sealed: bytes(),
            scope: SigV4Scope {
                date: "20261130".into(),
                region: "us-east-1".into(),
                service: "kms".into(),
            },
        },
        Request::GenerateMac {
            key: v,
            ekt: ekt(),
            message: secret(),
        },
        Request::VerifyMac {
            key: v,
            ekt: ekt(),
            message: secret(),
            mac: bytes(),
        },
        Request::Sign {
            key: v,
            ekt: ekt(),
            message: secret(),
            digest: false,
            algorithm: "ECDSA_SHA_256".into(),
        },
        Request::Verify {
            key: v,
            ekt: ekt(),
            message: secret(),
            digest: false,
            algorithm: "ECDSA_SHA_256".into(),
            signature: bytes(),
        },
        Request::GetPublicKey { key: v, ekt: ekt() },
        Request::AsymmetricDecrypt {
            key: v,
            ekt: ekt(),
            ciphertext: bytes(),
            algorithm: "RSAES_OAEP_SHA_256".into(),
        },
        Request::AsymmetricEncrypt {
            key: v,
            ekt: ekt(),
            plaintext: secret(),
            algorithm: "RSAES_OAEP_SHA_256".into(),
        },
        Request::DeriveSharedSecret {
            key: v,
            ekt: ekt(),
            peer_public_key: bytes(),
        },
        Request::GenerateDataKeyPair {
            key: v,
            ekt: ekt(),
            context: bytes(),
            pair_spec: KeySpecCode::EccNistP256,
            with_plaintext: true,
        },
        Request::PrepareImport {
            key_id: k,
            wrapping_spec: KeySpecCode::Rsa2048,
            algorithm: "RSAES_OAEP_SHA_256".into(),
            valid_to: 0,
        },
        Request::ImportKeyMaterial {
            key: v,
            import_token: bytes(),
            encrypted_material: bytes(),
        },
        Request::ForgetKey { key_id: k },
        Request::ShredKey { key_id: k },
        Request::SuspendKey {
            key_id: k,
            versions: vec![(v, ekt())],
            owner_public_key: bytes(),
        },
        Request::ReinstateKey {
            key_id: k,
            import_token: bytes(),
            encrypted_bundle: bytes(),
            expected_fingerprint: bytes(),
        },
        Request::Status,
        Request::Command(SignedCommand {
            body: bytes(),
            signatures: Vec::new(),
        }),
        Request::GetDomainToken { domain_id: k },
        Request::ListDomains,
        Request::Attest { nonce: bytes() },
        Request::ListLogs,
        Request::DescribeLog { log_id: 1 },
        Request::GetLog {
            log_id: 1,
            offset: 0,
            length: 1,
        },
        Request::RewrapKeys { ekts: vec![ekt()] },
        Request::RewrapCredentials {
            credentials: vec![("AKIDTEST".into(), bytes())],
        },
        Request::InDomain {
            domain: k,
            request: Box::new(Request::ShredKey { key_id: k }),
        },
        Request::GenerateOwnedBackingKey {
            key: v,
            spec,
            suspension_owner: bytes(),
        },
        Request::RotateBackingKey {
            key: v,
            previous: ekt(),
        },
        Request::UpdateSuspensionOwner {
            key_id: k,
            versions: vec![(v, ekt())],
            current_owner: bytes(),
            new_owner: bytes(),
            valid_to: 0,
            signature: bytes(),
        },
        Request::RevealDerivedKey {
            key: v,
            ekt: ekt(),
            token: bytes(),
            context: bytes(),
        },
        Request::SignAuditSeal { message: bytes() },
        Request::AuditSealKeys,
        Request::XksEncrypt {
            key: v,
            ekt: ekt(),
            plaintext: secret(),
            aad: bytes(),
            with_cdiv: true,
        },
        Request::XksDecrypt {
            key: v,
            ekt: ekt(),
            sealed: strongroom_hsm_proto::xks::XksSealed {
                metadata: bytes(),
                iv: bytes(),
                ciphertext: bytes(),
                tag: bytes(),
            },
            aad: bytes(),
        },
    ]
}

/// A stand-in module that records what reached it (by operation name).
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl ModuleHandler for Recorder {
    fn handle(&mut self, _: &Caller, request: Request) -> Result<Response, HsmError> {
        let answer = match &request {
            Request::GenerateRandom { length } => Response::Random(vec![0; *length as usize]),
            _ => Response::Done,
        };
        self.0.lock().unwrap().push(format!("{request:?}"));
        Ok(answer)
    }
}

impl Recorder {
    /// A client of this module, and what reached it.
    fn client() -> (HsmClient, Self) {
        let recorder = Self::default();
        (spawn_module_task(recorder.clone(), 8), recorder)
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

fn assert_refused_unsent<T: std::fmt::Debug>(
    answer: Result<T, HsmError>,
    recorder: &Recorder,
    what: &str,
) {
    assert!(
        matches!(answer, Err(HsmError::Internal(_))),
        "{what}: not refused: {answer:?}"
    );
    assert_eq!(
        recorder.take(),
        Vec::<String>::new(),
        "{what}: reached the module"
    );
}

#[test]
fn every_request_variant_has_a_sample() {
    let tried: BTreeSet<u8> = samples(Uuid::new_v4())
        .iter()
        .map(|r| decision(r).0)
        .collect();
    assert_eq!(tried, (0..VARIANTS).collect::<BTreeSet<u8>>());
}

#[tokio::test]
async fn key_client_sends_only_uses_of_its_own_key_and_refuses_every_other_request_unsent() {
    let (client, recorder) = Recorder::client();
    let (mine, other) = (Uuid::new_v4(), Uuid::new_v4());
    let module = KeyModule::narrowed_to(&client, mine);
    for request in samples(mine) {
        let what = format!("{request:?} for the client's own key");
        let allowed = decision(&request).1;
        let answer = module.call(request).await;
        if allowed == Allowed::KeyUse {
            assert!(answer.is_ok(), "{what}: {answer:?}");
            assert_eq!(recorder.take().len(), 1, "{what}");
        } else {
            assert_refused_unsent(answer, &recorder, &what);
        }
    }
    for request in samples(other) {
        let what = format!("{request:?} for another key");
        assert_refused_unsent(module.call(request).await, &recorder, &what);
    }
}

#[tokio::test]
async fn key_client_of_a_reads_row_cannot_derive_or_reveal_key_material() {
    let (client, recorder) = Recorder::client();
    let key = Uuid::new_v4();
    let module = KeyModule::narrowed_to(&client, key);
    for request in samples(key).into_iter().filter(|r| {
        matches!(
            r,
            Request::DeriveKey { .. }
                | Request::RevealDerivedKey { .. }
                | Request::GenerateExposedKey { .. }
        )
    }) {
        let what = format!("{request:?}");
        assert_refused_unsent(module.call(request).await, &recorder, &what);
    }
}

#[tokio::test]
async fn key_client_typed_calls_for_another_key_are_refused_unsent() {
    let (client, recorder) = Recorder::client();
    let (mine, other) = (Uuid::new_v4(), Uuid::new_v4());
    let module = KeyModule::narrowed_to(&client, mine);
    let v = KeyRef {
        key_id: other,
        version: 1,
    };
    let secret = || Zeroizing::new(vec![3u8]);
    assert_refused_unsent(
        module.encrypt(v, Ekt(vec![1]), secret(), Vec::new()).await,
        &recorder,
        "encrypt",
    );
    assert_refused_unsent(
        module
            .generate_data_key(v, Ekt(vec![1]), Vec::new(), 32, true)
            .await,
        &recorder,
        "generate_data_key",
    );
    assert_refused_unsent(
        module.generate_mac(v, Ekt(vec![1]), secret()).await,
        &recorder,
        "generate_mac",
    );
    assert_refused_unsent(
        module.verify_mac(v, Ekt(vec![1]), secret(), vec![0]).await,
        &recorder,
        "verify_mac",
    );
    let other_destination = samples(other)
        .into_iter()
        .find(|r| matches!(r, Request::ReEncrypt { .. }))
        .unwrap();
    assert_refused_unsent(
        module.re_encrypt(other_destination).await,
        &recorder,
        "re_encrypt to another key",
    );
    let not_re_encrypt = Request::ShredKey { key_id: mine };
    assert_refused_unsent(
        module.re_encrypt(not_re_encrypt).await,
        &recorder,
        "re_encrypt of a ShredKey",
    );
}

#[tokio::test]
async fn change_client_sends_only_changes_of_its_keys_and_refuses_every_other_request_unsent() {
    let (client, recorder) = Recorder::client();
    let (mine, other) = (Uuid::new_v4(), Uuid::new_v4());
    let covered = [mine];
    let module = ChangeModule::narrowed_to(&client, &covered);
    for request in samples(mine) {
        let what = format!("{request:?} for a covered key");
        let allowed = decision(&request).1;
        let one = module.call(request.clone()).await;
        let all = module.call_all(request).await;
        if allowed == Allowed::Change {
            assert!(one.is_ok(), "{what}: {one:?}");
            assert!(all.is_ok(), "{what}: {all:?}");
            assert_eq!(recorder.take().len(), 2, "{what}");
        } else {
            assert_refused_unsent(one, &recorder, &what);
            assert_refused_unsent(all, &recorder, &what);
        }
    }
    for request in samples(other) {
        let what = format!("{request:?} for a key the change does not cover");
        assert_refused_unsent(module.call(request.clone()).await, &recorder, &what);
        assert_refused_unsent(module.call_all(request).await, &recorder, &what);
    }
}

#[tokio::test]
async fn change_for_one_key_cannot_shred_forget_suspend_or_make_another() {
    let (client, recorder) = Recorder::client();
    let (tagged, victim) = (Uuid::new_v4(), Uuid::new_v4());
    // What TagResource's change for `tagged` covers.
    let covered = [tagged];
    let module = ChangeModule::narrowed_to(&client, &covered);
    let victim_version = KeyRef {
        key_id: victim,
        version: 1,
    };
    assert_refused_unsent(
        module.call_all(Request::ShredKey { key_id: victim }).await,
        &recorder,
        "ShredKey of another key",
    );
    assert_refused_unsent(
        module.call_all(Request::ForgetKey { key_id: victim }).await,
        &recorder,
        "ForgetKey of another key",
    );
    assert_refused_unsent(
        module.forget_key(victim).await,
        &recorder,
        "forget_key of another key",
    );
    assert_refused_unsent(
        module
            .generate_backing_key(victim_version, KeySpecCode::SymmetricDefault)
            .await,
        &recorder,
        "a backing key for another key",
    );
    // A covered key_id does not smuggle another key's versions.
    for request in [
        Request::SuspendKey {
            key_id: tagged,
            versions: vec![(victim_version, Ekt(vec![1]))],
            owner_public_key: vec![2],
        },
        Request::UpdateSuspensionOwner {
            key_id: tagged,
            versions: vec![(victim_version, Ekt(vec![1]))],
            current_owner: vec![2],
            new_owner: vec![3],
            valid_to: 0,
            signature: vec![4],
        },
    ] {
        let what = format!("{request:?} with another key's versions");
        assert_refused_unsent(module.call(request).await, &recorder, &what);
    }
    // Its own key still goes through.
    assert!(
        module
            .call_all(Request::ForgetKey { key_id: tagged })
            .await
            .is_ok()
    );
    assert_eq!(recorder.take(), ["ForgetKey"]);
}

#[test]
fn only_a_satisfied_keyless_row_marked_random_gets_the_keyless_module() {
    let mut given = Vec::new();
    for row in OPERATIONS {
        assert!(!keyless_row_may_use_module(row, false), "{}", row.name);
        if keyless_row_may_use_module(row, true) {
            given.push(row.name);
        }
    }
    assert_eq!(given, ["GenerateRandom"]);
}
