//! Key rotation through aws-sdk-kms: status, on-demand rotation and its
//! limit, history, every past version still decrypting, and the automatic
//! scheduler (with a shortened day) across a restart. The on-demand
//! claims are each a test over a fresh [`Fixture`].

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_kms::types::RotationType;

use crate::common::*;

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The key version a ciphertext blob names (docs/formats.md: bytes 17..21).
fn version_of(blob: &[u8]) -> u32 {
    u32::from_be_bytes(blob[17..21].try_into().unwrap())
}

async fn rotations(c: &aws_sdk_kms::Client, key: &str) -> Vec<(RotationType, f64)> {
    let mut out = Vec::new();
    let mut pages = c
        .list_key_rotations()
        .key_id(key)
        .limit(3)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for r in page.unwrap().rotations.unwrap_or_default() {
            out.push((
                r.rotation_type.unwrap(),
                r.rotation_date.unwrap().as_secs_f64(),
            ));
        }
    }
    out
}

/// A key (rotation off); [`Fixture::rotate_ten_times`] seals something
/// under each of its eleven versions.
struct Fixture {
    env: TestEnv,
    key: String,
}

/// (ciphertext, plaintext, the context's `version` value), one per version.
type Sealed = Vec<(Vec<u8>, Vec<u8>, String)>;

impl Fixture {
    async fn start() -> Self {
        let env = TestEnv::start().await;
        let key = new_key(&env.client).await;
        Self { env, key }
    }

    fn c(&self) -> &aws_sdk_kms::Client {
        &self.env.client
    }

    async fn enable_90_days(&self) {
        self.c()
            .enable_key_rotation()
            .key_id(&self.key)
            .rotation_period_in_days(90)
            .send()
            .await
            .unwrap();
    }

    async fn status(
        &self,
    ) -> aws_sdk_kms::operation::get_key_rotation_status::GetKeyRotationStatusOutput {
        self.c()
            .get_key_rotation_status()
            .key_id(&self.key)
            .send()
            .await
            .unwrap()
    }

    /// Seals something under every version, each with its own context,
    /// rotating on demand between them (ten times).
    async fn rotate_ten_times(&self) -> Sealed {
        let (c, key) = (self.c(), &self.key);
        let mut sealed = Vec::new();
        for v in 1..=11u32 {
            if v > 1 {
                c.rotate_key_on_demand().key_id(key).send().await.unwrap();
            }
            let pt = format!("sealed under version {v}").into_bytes();
            let ctx = format!("v{v}");
            let ct = c
                .encrypt()
                .key_id(key)
                .plaintext(blob(&pt))
                .encryption_context("version", &ctx)
                .send()
                .await
                .unwrap()
                .ciphertext_blob
                .unwrap()
                .into_inner();
            assert_eq!(version_of(&ct), v, "new ciphertexts use the newest version");
            sealed.push((ct, pt, ctx));
        }
        sealed
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_starts_off_and_periods_outside_90_to_2560_days_are_refused() {
    let f = Fixture::start().await;
    let status = f.status().await;
    assert!(!status.key_rotation_enabled && status.next_rotation_date.is_none());
    for bad in [89, 2561] {
        let e = f
            .c()
            .enable_key_rotation()
            .key_id(&f.key)
            .rotation_period_in_days(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "ValidationException", "{bad}");
    }
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enabled_rotation_reports_its_period_and_next_date() {
    let f = Fixture::start().await;
    f.enable_90_days().await;
    let status = f.status().await;
    assert!(status.key_rotation_enabled);
    assert_eq!(status.rotation_period_in_days, Some(90));
    let next = status.next_rotation_date.unwrap().as_secs_f64();
    assert!((next - (now() + 90.0 * 86_400.0)).abs() < 60.0, "{next}");
    f.env.stop().await;
}

/// New ciphertexts use the newest version; an eleventh on-demand rotation
/// is over the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_on_demand_rotation_makes_the_newest_version_and_ten_is_the_limit() {
    let f = Fixture::start().await;
    f.rotate_ten_times().await;
    let e = f
        .c()
        .rotate_key_on_demand()
        .key_id(&f.key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "LimitExceededException");
    f.env.stop().await;
}

/// Every past version still decrypts; ReEncrypt moves an old ciphertext to
/// the newest version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_past_version_still_decrypts_and_re_encrypt_moves_to_the_newest() {
    let f = Fixture::start().await;
    let (c, key) = (f.c(), &f.key);
    let sealed = f.rotate_ten_times().await;
    for (ct, pt, ctx) in &sealed {
        let out = c
            .decrypt()
            .ciphertext_blob(blob(ct))
            .encryption_context("version", ctx)
            .send()
            .await
            .unwrap();
        assert_eq!(out.plaintext.unwrap().as_ref(), &pt[..]);
    }
    let re = c
        .re_encrypt()
        .ciphertext_blob(blob(&sealed[0].0))
        .source_encryption_context("version", "v1")
        .destination_key_id(key)
        .send()
        .await
        .unwrap();
    assert_eq!(version_of(re.ciphertext_blob.unwrap().as_ref()), 11);
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rotation_history_lists_every_on_demand_rotation_in_order() {
    let f = Fixture::start().await;
    f.rotate_ten_times().await;
    let history = rotations(f.c(), &f.key).await;
    assert_eq!(history.len(), 10);
    assert!(history.iter().all(|(t, _)| *t == RotationType::OnDemand));
    assert!(history.windows(2).all(|w| w[0].1 <= w[1].1));
    let e = f
        .c()
        .list_key_rotations()
        .key_id(&f.key)
        .marker("x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidMarkerException");
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_rotation_reports_no_period() {
    let f = Fixture::start().await;
    f.enable_90_days().await;
    f.c()
        .disable_key_rotation()
        .key_id(&f.key)
        .send()
        .await
        .unwrap();
    let status = f.status().await;
    assert!(!status.key_rotation_enabled && status.rotation_period_in_days.is_none());
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_key_neither_takes_automatic_rotation_nor_rotates_on_demand() {
    let f = Fixture::start().await;
    let c = f.c();
    c.disable_key().key_id(&f.key).send().await.unwrap();
    let e = c
        .enable_key_rotation()
        .key_id(&f.key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "DisabledException");
    let fresh = new_key(c).await;
    c.disable_key().key_id(&fresh).send().await.unwrap();
    let e = c
        .rotate_key_on_demand()
        .key_id(&fresh)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "DisabledException");
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_account_sees_nothing_of_a_keys_rotation() {
    let f = Fixture::start().await;
    let c2 = other_account_client(&f.env, "555566667777").await;
    let e = c2
        .get_key_rotation_status()
        .key_id(&f.key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_rotates_and_its_schedule_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // A "day" of 20 ms: a 90-day period is 1.8 s.
    let tweak = |o: &mut strongroom_cli::dev::DevOptions| {
        o.rotation_day = Duration::from_millis(20);
        o.deletion_sweep_interval = Duration::from_millis(100);
    };
    let dev = start_in(dir.path(), tweak).await;
    let c = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    let key = new_key(&c).await;
    let first = c
        .encrypt()
        .key_id(&key)
        .plaintext(blob(b"before"))
        .send()
        .await
        .unwrap();
    c.enable_key_rotation()
        .key_id(&key)
        .rotation_period_in_days(90)
        .send()
        .await
        .unwrap();
    // Stop before it is due; the schedule is in the store.
    dev.shutdown().await;
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let dev = start_in(dir.path(), tweak).await;
    let c = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    let start = Instant::now();
    while rotations(&c, &key).await.is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no automatic rotation"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let history = rotations(&c, &key).await;
    assert!(history.iter().all(|(t, _)| *t == RotationType::Automatic));
    let status = c
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .unwrap();
    assert!(
        status.next_rotation_date.unwrap().as_secs_f64() > history[0].1,
        "the next rotation is scheduled"
    );
    let after = c
        .encrypt()
        .key_id(&key)
        .plaintext(blob(b"after"))
        .send()
        .await
        .unwrap();
    let after = after.ciphertext_blob.unwrap().into_inner();
    assert!(version_of(&after) >= 2);
    for (ct, pt) in [
        (first.ciphertext_blob.unwrap().into_inner(), &b"before"[..]),
        (after, &b"after"[..]),
    ] {
        let out = c.decrypt().ciphertext_blob(blob(&ct)).send().await.unwrap();
        assert_eq!(out.plaintext.unwrap().as_ref(), pt);
    }
    dev.shutdown().await;
}

/// Property: for random numbers of rotations and random payloads and
/// contexts, everything sealed under any past version still decrypts, and
/// a ReEncrypt moves it to the newest version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_past_version_decrypts_after_random_rotations() {
    let env = TestEnv::start().await;
    let c = &env.client;
    for _trial in 0..3 {
        let key = new_key(c).await;
        let [n] = strongroom_crypto::random_array::<1>().unwrap();
        let rotations = 1 + u32::from(n % 9);
        let mut sealed = Vec::new();
        for v in 1..=rotations + 1 {
            if v > 1 {
                c.rotate_key_on_demand().key_id(&key).send().await.unwrap();
            }
            for _ in 0..2 {
                let [len] = strongroom_crypto::random_array::<1>().unwrap();
                let mut pt = vec![0u8; 1 + usize::from(len)];
                strongroom_crypto::fill_random(&mut pt).unwrap();
                let tag = hex::encode(strongroom_crypto::random_array::<4>().unwrap());
                let ct = c
                    .encrypt()
                    .key_id(&key)
                    .plaintext(blob(&pt))
                    .encryption_context("t", &tag)
                    .send()
                    .await
                    .unwrap()
                    .ciphertext_blob
                    .unwrap()
                    .into_inner();
                assert_eq!(version_of(&ct), v);
                sealed.push((ct, pt, tag));
            }
        }
        for (ct, pt, tag) in &sealed {
            let out = c
                .decrypt()
                .ciphertext_blob(blob(ct))
                .encryption_context("t", tag)
                .send()
                .await
                .unwrap();
            assert_eq!(out.plaintext.unwrap().as_ref(), &pt[..]);
            let moved = c
                .re_encrypt()
                .ciphertext_blob(blob(ct))
                .source_encryption_context("t", tag)
                .destination_key_id(&key)
                .send()
                .await
                .unwrap();
            assert_eq!(
                version_of(moved.ciphertext_blob.unwrap().as_ref()),
                rotations + 1
            );
        }
    }
}
