//! Key lifecycle through aws-sdk-kms: create and describe, update, disable
//! and enable, creation refusals, listing, and scheduled deletion (its
//! window, cancelling, and the sweeper). Each claim is its own test over a
//! fresh [`Orders`] or [`Doomed`] key.

use aws_sdk_kms::types::{KeyMetadata, KeySpec, KeyState, KeyUsageType, OriginType, Tag};

use crate::common::*;

/// A key made with a description ("orders"), usage, spec and a tag, and
/// the metadata CreateKey answered.
struct Orders {
    env: TestEnv,
    created: KeyMetadata,
    arn: String,
    uuid: String,
}

impl Orders {
    async fn start() -> Self {
        let env = TestEnv::start().await;
        let created = env
            .client
            .create_key()
            .description("orders")
            .key_usage(KeyUsageType::EncryptDecrypt)
            .key_spec(KeySpec::SymmetricDefault)
            .tags(
                Tag::builder()
                    .tag_key("team")
                    .tag_value("payments")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        let arn = created.arn.clone().unwrap();
        let uuid = created.key_id.clone();
        Self {
            env,
            created,
            arn,
            uuid,
        }
    }

    fn c(&self) -> &aws_sdk_kms::Client {
        &self.env.client
    }

    async fn describe(&self, id: &str) -> KeyMetadata {
        self.c()
            .describe_key()
            .key_id(id)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_key_answers_the_metadata_of_an_enabled_symmetric_key() {
    let f = Orders::start().await;
    let (created, uuid) = (&f.created, &f.uuid);
    assert_eq!(
        f.arn,
        format!("arn:aws:kms:us-east-1:{}:key/{uuid}", f.env.dev.account_id)
    );
    assert_eq!(
        created.aws_account_id.as_deref(),
        Some(f.env.dev.account_id.as_str())
    );
    assert_eq!(created.key_state, Some(KeyState::Enabled));
    assert!(created.enabled);
    assert_eq!(created.description.as_deref(), Some("orders"));
    assert_eq!(created.origin, Some(OriginType::AwsKms));
    assert_eq!(created.key_spec, Some(KeySpec::SymmetricDefault));
    assert_eq!(created.encryption_algorithms().len(), 1);
    let age = aws_sdk_kms::primitives::DateTime::from(std::time::SystemTime::now()).secs()
        - created.creation_date.unwrap().secs();
    assert!((0..60).contains(&age), "creation date {age}s ago");
    f.env.stop().await;
}

/// Tags are stored with the key (ListResourceTags comes with the tags API).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_key_stores_its_tags_with_the_key() {
    let f = Orders::start().await;
    let stored = f
        .env
        .dev
        .store
        .get_key(f.uuid.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.tags.len(), 1);
    assert_eq!(
        (stored.tags[0].key.as_str(), stored.tags[0].value.as_str()),
        ("team", "payments")
    );
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_key_by_uuid_or_arn_answers_the_same_key() {
    let f = Orders::start().await;
    for id in [&f.uuid, &f.arn] {
        let d = f.describe(id).await;
        assert_eq!(d.key_id, f.uuid);
        assert_eq!(d.arn.as_deref(), Some(f.arn.as_str()));
    }
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_updated_description_and_a_disabled_state_show_in_describe_key() {
    let f = Orders::start().await;
    f.c()
        .update_key_description()
        .key_id(&f.uuid)
        .description("orders v2")
        .send()
        .await
        .unwrap();
    f.c().disable_key().key_id(&f.arn).send().await.unwrap();
    let d = f.describe(&f.uuid).await;
    assert_eq!(d.description.as_deref(), Some("orders v2"));
    assert_eq!(d.key_state, Some(KeyState::Disabled));
    assert!(!d.enabled);
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_key_refuses_encrypt_until_enabled_again() {
    let f = Orders::start().await;
    let (c, uuid) = (f.c(), &f.uuid);
    c.disable_key().key_id(&f.arn).send().await.unwrap();
    let e = c
        .encrypt()
        .key_id(uuid)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "DisabledException");
    c.enable_key().key_id(uuid).send().await.unwrap();
    c.encrypt()
        .key_id(uuid)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap();
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_key_rejects_what_it_cannot_honour() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let e = c
        .create_key()
        .key_spec(KeySpec::Sm2)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnsupportedOperationException");
    let e = c.create_key().policy("{}").send().await.unwrap_err();
    assert_eq!(code(&e), "MalformedPolicyDocumentException");
    let e = c
        .create_key()
        .description("d".repeat(8193))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let e = c
        .create_key()
        .tags(
            Tag::builder()
                .tag_key("aws:reserved")
                .tag_value("x")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "TagException");
    let dup = Tag::builder().tag_key("a").tag_value("1").build().unwrap();
    let e = c
        .create_key()
        .tags(dup.clone())
        .tags(dup)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "TagException");
    // Nothing was created by any refused call.
    assert!(c.list_keys().send().await.unwrap().keys().is_empty());
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_keys_pages() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let mut made = Vec::new();
    for _ in 0..7 {
        made.push(new_key(c).await);
    }
    made.sort();
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = c
            .list_keys()
            .limit(3)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        assert!(page.keys().len() <= 3);
        seen.extend(page.keys().iter().map(|k| k.key_arn.clone().unwrap()));
        if !page.truncated {
            assert!(page.next_marker.is_none());
            break;
        }
        marker = page.next_marker.clone();
        assert!(marker.is_some());
    }
    assert_eq!(pages, 3);
    seen.sort();
    assert_eq!(seen, made);

    // The SDK's paginator sees the same keys.
    let all: Vec<_> = c
        .list_keys()
        .limit(2)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(all.len(), 7);

    let e = c.list_keys().limit(0).send().await.unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let e = c.list_keys().limit(1001).send().await.unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let e = c
        .list_keys()
        .marker("not-a-marker")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidMarkerException");
    env.stop().await;
}

/// A key with a ciphertext of "secret" and the alias `alias/doomed`, for
/// the deletion tests.
struct Doomed {
    env: TestEnv,
    arn: String,
    ct: aws_sdk_kms::primitives::Blob,
}

impl Doomed {
    async fn start() -> Self {
        let env = TestEnv::start().await;
        let c = &env.client;
        let arn = new_key(c).await;
        let ct = c
            .encrypt()
            .key_id(&arn)
            .plaintext(blob(b"secret"))
            .send()
            .await
            .unwrap()
            .ciphertext_blob
            .unwrap();
        c.create_alias()
            .alias_name("alias/doomed")
            .target_key_id(&arn)
            .send()
            .await
            .unwrap();
        Self { env, arn, ct }
    }

    fn c(&self) -> &aws_sdk_kms::Client {
        &self.env.client
    }

    /// Schedules the key's deletion in 7 days.
    async fn schedule(
        &self,
    ) -> aws_sdk_kms::operation::schedule_key_deletion::ScheduleKeyDeletionOutput {
        self.c()
            .schedule_key_deletion()
            .key_id(&self.arn)
            .pending_window_in_days(7)
            .send()
            .await
            .unwrap()
    }

    async fn describe(&self) -> KeyMetadata {
        self.c()
            .describe_key()
            .key_id(&self.arn)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
    }
}

fn now_secs() -> i64 {
    aws_sdk_kms::primitives::DateTime::from(std::time::SystemTime::now()).secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_outside_7_to_30_days_and_cancelling_an_active_key_are_refused() {
    let f = Doomed::start().await;
    for bad in [6, 31] {
        let e = f
            .c()
            .schedule_key_deletion()
            .key_id(&f.arn)
            .pending_window_in_days(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "ValidationException", "window {bad}");
    }
    let e = f
        .c()
        .cancel_key_deletion()
        .key_id(&f.arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduling_deletion_answers_the_state_window_and_due_date() {
    let f = Doomed::start().await;
    let s = f.schedule().await;
    assert_eq!(s.key_id.as_deref(), Some(f.arn.as_str()));
    assert_eq!(s.key_state, Some(KeyState::PendingDeletion));
    assert_eq!(s.pending_window_in_days, Some(7));
    let due = s.deletion_date.unwrap().secs();
    assert!((due - now_secs() - 7 * 86_400).abs() < 60);
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_pending_deletion_refuses_use_enabling_and_rescheduling() {
    let f = Doomed::start().await;
    let (c, arn) = (f.c(), &f.arn);
    f.schedule().await;
    let d = f.describe().await;
    assert_eq!(d.key_state, Some(KeyState::PendingDeletion));
    assert_eq!(d.pending_deletion_window_in_days, Some(7));
    let e = c
        .decrypt()
        .ciphertext_blob(f.ct.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    let e = c
        .encrypt()
        .key_id(arn)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    let e = c.enable_key().key_id(arn).send().await.unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    let e = c
        .schedule_key_deletion()
        .key_id(arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    f.env.stop().await;
}

/// Cancel: the key comes back Disabled, and works once enabled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_deletion_leaves_the_key_disabled_and_usable_once_enabled() {
    let f = Doomed::start().await;
    let (c, arn) = (f.c(), &f.arn);
    f.schedule().await;
    let r = c.cancel_key_deletion().key_id(arn).send().await.unwrap();
    assert_eq!(r.key_id.as_deref(), Some(arn.as_str()));
    let d = f.describe().await;
    assert_eq!(d.key_state, Some(KeyState::Disabled));
    assert!(d.deletion_date.is_none());
    c.enable_key().key_id(arn).send().await.unwrap();
    assert_eq!(
        c.decrypt()
            .ciphertext_blob(f.ct.clone())
            .send()
            .await
            .unwrap()
            .plaintext
            .unwrap()
            .into_inner(),
        b"secret"
    );
    f.env.stop().await;
}

/// The sweeper, run as if the window had passed, deletes the key, its
/// alias and every EKT; a day early it deletes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_deletes_a_due_key_with_its_aliases_and_every_ekt() {
    let f = Doomed::start().await;
    let (c, arn) = (f.c(), &f.arn);
    f.schedule().await;
    let now = now_secs();
    let processor = f.env.dev.server.processor().clone();
    assert_eq!(
        processor.sweep_deletions(now + 6 * 86_400).await.unwrap(),
        0,
        "not due yet"
    );
    c.describe_key().key_id(arn).send().await.unwrap();
    assert_eq!(
        processor.sweep_deletions(now + 8 * 86_400).await.unwrap(),
        1
    );
    let e = c.describe_key().key_id(arn).send().await.unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    let e = c
        .decrypt()
        .ciphertext_blob(f.ct.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidCiphertextException");
    let e = c
        .describe_key()
        .key_id("alias/doomed")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    assert!(c.list_aliases().send().await.unwrap().aliases().is_empty());
    // The store holds neither the key nor any EKT of it.
    let store = &f.env.dev.store;
    let uuid: uuid::Uuid = arn.rsplit('/').next().unwrap().parse().unwrap();
    assert!(store.get_key(uuid).await.unwrap().is_none());
    assert!(store.get_key_version(uuid, 1).await.unwrap().is_none());
    f.env.stop().await;
}
