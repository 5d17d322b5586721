//! The worker pool: private-key work on worker threads gives the same
//! answers as on the module's thread, and state changes interleaved with
//! it (ForgetKey, rotation, erasure) stay serialized: once they answer, no
//! worker holds the material they removed.

use std::sync::mpsc;

use strongroom_crypto::{AsymmetricSpec, SignInput, SigningAlgorithm, verify_signature};
use strongroom_hsm_proto::{Caller, Ekt, HsmError, KeyRef, KeySpecCode, Request, Response};
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::{DomainKey, Module, ModuleConfig};

type Answers = mpsc::Receiver<(usize, Result<Response, HsmError>, Option<String>)>;
type Sender = mpsc::Sender<(usize, Result<Response, HsmError>, Option<String>)>;

const ALG: SigningAlgorithm = SigningAlgorithm::RsaPssSha256;

fn dev_module(workers: usize) -> Module {
    Module::new(
        DomainKey::generate().unwrap(),
        ModuleConfig {
            vault_capacity: 16,
            workers,
            ..Default::default()
        },
    )
}

fn call(m: &mut Module, request: Request) -> Result<Response, HsmError> {
    use strongroom_hsm_proto::ModuleHandler;
    m.handle(&Caller::InProcess, request)
}

/// Hands `request` to the module the way its request loop does; the answer
/// arrives on `tx` tagged with `tag` and the name of the answering thread.
fn dispatch(m: &mut Module, request: Request, tx: &Sender, tag: usize) {
    use strongroom_hsm_proto::ModuleHandler;
    let tx = tx.clone();
    m.dispatch(
        &Caller::InProcess,
        request,
        Box::new(move |answer| {
            let thread = std::thread::current().name().map(str::to_owned);
            tx.send((tag, answer, thread)).unwrap();
        }),
    );
}

/// A new RSA-2048 signing key version: its reference, token and public key.
fn rsa_version(m: &mut Module, key: KeyRef) -> (Ekt, Vec<u8>) {
    let Ok(Response::Ekt(ekt)) = call(
        m,
        Request::GenerateBackingKey {
            key,
            spec: KeySpecCode::Rsa2048,
        },
    ) else {
        panic!("no EKT")
    };
    let Ok(Response::PublicKey(spki)) = call(
        m,
        Request::GetPublicKey {
            key,
            ekt: ekt.clone(),
        },
    ) else {
        panic!("no public key")
    };
    (ekt, spki)
}

fn message(i: usize) -> Vec<u8> {
    format!("message number {i}").into_bytes()
}

fn sign(key: KeyRef, ekt: &Ekt, i: usize) -> Request {
    Request::Sign {
        key,
        ekt: ekt.clone(),
        message: Zeroizing::new(message(i)),
        digest: false,
        algorithm: ALG.aws_name().into(),
    }
}

fn verifies(spki: &[u8], i: usize, signature: &[u8]) -> bool {
    verify_signature(
        AsymmetricSpec::Rsa2048,
        spki,
        ALG,
        SignInput::Raw(&message(i)),
        signature,
    )
}

fn first_version() -> KeyRef {
    KeyRef {
        key_id: Uuid::new_v4(),
        version: 1,
    }
}

#[test]
fn concurrent_signs_on_two_workers_each_verify() {
    let mut m = dev_module(2);
    let key = first_version();
    let (ekt, spki) = rsa_version(&mut m, key);
    let (tx, rx): (Sender, Answers) = mpsc::channel();
    const N: usize = 200;
    for i in 0..N {
        dispatch(&mut m, sign(key, &ekt, i), &tx, i);
    }
    let mut on_workers = 0;
    for _ in 0..N {
        let (i, answer, thread) = rx.recv().unwrap();
        let Ok(Response::Signature(s)) = answer else {
            panic!("sign {i}: {answer:?}")
        };
        assert!(verifies(&spki, i, &s), "signature {i} does not verify");
        if thread.is_some_and(|t| t.starts_with("hsm-worker-")) {
            on_workers += 1;
        }
    }
    assert!(on_workers > 0, "no sign ran on a worker");
    // Once the jobs have ended, only the cache holds the key pair.
    m.workers.in_flight().wait_released(None);
    let handles = m.asymmetric.handles(key.key_id);
    assert_eq!(handles.len(), 1);
    assert_eq!(handles[0].strong_count(), 1, "a worker kept a copy");
}

#[test]
fn forget_key_amid_signs_answers_after_them_and_leaves_no_handle_alive() {
    let mut m = dev_module(2);
    let key = first_version();
    let (ekt, spki) = rsa_version(&mut m, key);
    let other = first_version();
    let (other_ekt, _) = rsa_version(&mut m, other);
    let handles = m.asymmetric.handles(key.key_id);
    assert_eq!(handles.len(), 1);
    let (tx, rx): (Sender, Answers) = mpsc::channel();
    for i in 0..40 {
        dispatch(&mut m, sign(key, &ekt, i), &tx, i);
    }
    const FORGET: usize = usize::MAX;
    dispatch(
        &mut m,
        Request::ForgetKey { key_id: key.key_id },
        &tx,
        FORGET,
    );
    // ForgetKey has answered: no worker, queue or cache still holds the pair.
    assert!(
        handles.iter().all(|h| h.strong_count() == 0),
        "a forgotten key pair is still alive"
    );
    assert!(m.asymmetric.handles(key.key_id).is_empty());
    // Every sign handed out before it answered first, each correctly.
    let answers: Vec<_> = rx.try_iter().collect();
    assert_eq!(answers.len(), 41);
    assert_eq!(answers.last().unwrap().0, FORGET);
    assert!(matches!(answers.last().unwrap().1, Ok(Response::Done)));
    for (i, answer, _) in &answers[..40] {
        let Ok(Response::Signature(s)) = answer else {
            panic!("sign {i}: {answer:?}")
        };
        assert!(verifies(&spki, *i, s));
    }
    // The other key was not touched.
    assert_eq!(m.asymmetric.handles(other.key_id).len(), 1);
    let Ok(Response::Signature(_)) = call(&mut m, sign(other, &other_ekt, 0)) else {
        panic!("the other key stopped signing")
    };
}

#[test]
fn rotation_amid_signs_keeps_each_version_signing_with_its_own_key() {
    let mut m = dev_module(2);
    let v1 = first_version();
    let (ekt1, spki1) = rsa_version(&mut m, v1);
    let v2 = KeyRef { version: 2, ..v1 };
    let (tx, rx): (Sender, Answers) = mpsc::channel();
    for i in 0..20 {
        dispatch(&mut m, sign(v1, &ekt1, i), &tx, i);
    }
    dispatch(
        &mut m,
        Request::RotateBackingKey {
            key: v2,
            previous: ekt1.clone(),
        },
        &tx,
        1000,
    );
    let mut answers = Vec::new();
    let ekt2 = loop {
        let (tag, answer, _) = rx.recv().unwrap();
        if tag == 1000 {
            let Ok(Response::Ekt(ekt2)) = answer else {
                panic!("rotation: {answer:?}")
            };
            break ekt2;
        }
        answers.push((tag, answer));
    };
    let Ok(Response::PublicKey(spki2)) = call(
        &mut m,
        Request::GetPublicKey {
            key: v2,
            ekt: ekt2.clone(),
        },
    ) else {
        panic!("no public key")
    };
    assert_ne!(spki1, spki2);
    for i in 20..40 {
        dispatch(&mut m, sign(v2, &ekt2, i), &tx, i);
        dispatch(&mut m, sign(v1, &ekt1, i), &tx, 100 + i);
    }
    drop(tx);
    answers.extend(rx.iter().map(|(tag, answer, _)| (tag, answer)));
    assert_eq!(answers.len(), 60);
    for (tag, answer) in answers {
        let Ok(Response::Signature(s)) = answer else {
            panic!("sign {tag}: {answer:?}")
        };
        let (spki, i) = match tag {
            0..20 => (&spki1, tag),
            20..40 => (&spki2, tag),
            _ => (&spki1, tag - 100),
        };
        assert!(verifies(spki, i, &s), "signature {tag} under the wrong key");
    }
}

#[test]
fn erase_amid_signs_leaves_no_material_and_nothing_signs_after_it() {
    let mut m = dev_module(1);
    let key = first_version();
    let (ekt, spki) = rsa_version(&mut m, key);
    let handles = m.asymmetric.handles(key.key_id);
    let (tx, rx): (Sender, Answers) = mpsc::channel();
    const N: usize = 60;
    for i in 0..N {
        dispatch(&mut m, sign(key, &ekt, i), &tx, i);
    }
    m.erase("test: tamper while signing");
    // Erasure has returned: every sign was answered already (signed before
    // it, or refused), and no copy of the private key is alive.
    assert!(handles.iter().all(|h| h.strong_count() == 0));
    assert_eq!(m.workers_in_flight(), 0);
    let answers: Vec<_> = rx.try_iter().collect();
    assert_eq!(answers.len(), N, "a sign was still running after erasure");
    for (i, answer, _) in &answers {
        match answer {
            Ok(Response::Signature(s)) => assert!(verifies(&spki, *i, s)),
            Err(HsmError::WrongMode(_)) => {}
            other => panic!("sign {i}: {other:?}"),
        }
    }
    // Nothing signs afterwards, on workers or here.
    dispatch(&mut m, sign(key, &ekt, 0), &tx, 0);
    let (_, after, _) = rx.recv().unwrap();
    assert!(matches!(after, Err(HsmError::WrongMode(_))), "{after:?}");
    assert!(matches!(
        call(&mut m, sign(key, &ekt, 0)),
        Err(HsmError::WrongMode(_))
    ));
}

#[test]
fn a_data_key_pair_on_a_worker_opens_with_its_backing_key() {
    let mut m = dev_module(2);
    let key = first_version();
    let Ok(Response::Ekt(ekt)) = call(
        &mut m,
        Request::GenerateBackingKey {
            key,
            spec: KeySpecCode::SymmetricDefault,
        },
    ) else {
        panic!("no EKT")
    };
    let (tx, rx): (Sender, Answers) = mpsc::channel();
    dispatch(
        &mut m,
        Request::GenerateDataKeyPair {
            key,
            ekt: ekt.clone(),
            context: vec![],
            pair_spec: KeySpecCode::EccNistP256,
            with_plaintext: true,
        },
        &tx,
        0,
    );
    let (_, answer, _) = rx.recv().unwrap();
    let Ok(Response::DataKeyPair {
        private_plaintext: Some(private),
        private_ciphertext,
        ..
    }) = answer
    else {
        panic!("{answer:?}")
    };
    let Ok(Response::Plaintext { plaintext, .. }) = call(
        &mut m,
        Request::Decrypt {
            ekt,
            ciphertext: private_ciphertext,
            context: vec![],
        },
    ) else {
        panic!("the private key does not decrypt")
    };
    assert_eq!(*plaintext, *private);
}
