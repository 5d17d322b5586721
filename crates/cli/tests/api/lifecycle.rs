use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType, OriginType, Tag};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_describe_update_enable_disable() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let created = c
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
    assert_eq!(
        arn,
        format!("arn:aws:kms:us-east-1:{}:key/{uuid}", env.dev.account_id)
    );
    assert_eq!(
        created.aws_account_id.as_deref(),
        Some(env.dev.account_id.as_str())
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

    // Tags are stored with the key (ListResourceTags comes with the tags API).
    let stored = env
        .dev
        .store
        .get_key(uuid.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.tags.len(), 1);
    assert_eq!(
        (stored.tags[0].key.as_str(), stored.tags[0].value.as_str()),
        ("team", "payments")
    );

    // DescribeKey by UUID, by ARN.
    for id in [uuid.clone(), arn.clone()] {
        let d = c
            .describe_key()
            .key_id(id)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap();
        assert_eq!(d.key_id, uuid);
        assert_eq!(d.arn.as_deref(), Some(arn.as_str()));
    }

    c.update_key_description()
        .key_id(&uuid)
        .description("orders v2")
        .send()
        .await
        .unwrap();
    c.disable_key().key_id(&arn).send().await.unwrap();
    let d = c
        .describe_key()
        .key_id(&uuid)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(d.description.as_deref(), Some("orders v2"));
    assert_eq!(d.key_state, Some(KeyState::Disabled));
    assert!(!d.enabled);

    let e = c
        .encrypt()
        .key_id(&uuid)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "DisabledException");
    c.enable_key().key_id(&uuid).send().await.unwrap();
    c.encrypt()
        .key_id(&uuid)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap();

    env.stop().await;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedule_cancel_and_real_deletion() {
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

    for bad in [6, 31] {
        let e = c
            .schedule_key_deletion()
            .key_id(&arn)
            .pending_window_in_days(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "ValidationException", "window {bad}");
    }
    let e = c
        .cancel_key_deletion()
        .key_id(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");

    let s = c
        .schedule_key_deletion()
        .key_id(&arn)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    assert_eq!(s.key_id.as_deref(), Some(arn.as_str()));
    assert_eq!(s.key_state, Some(KeyState::PendingDeletion));
    assert_eq!(s.pending_window_in_days, Some(7));
    let now = aws_sdk_kms::primitives::DateTime::from(std::time::SystemTime::now()).secs();
    let due = s.deletion_date.unwrap().secs();
    assert!((due - now - 7 * 86_400).abs() < 60);

    let d = c
        .describe_key()
        .key_id(&arn)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(d.key_state, Some(KeyState::PendingDeletion));
    assert_eq!(d.pending_deletion_window_in_days, Some(7));
    let e = c
        .decrypt()
        .ciphertext_blob(ct.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    let e = c
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    let e = c.enable_key().key_id(&arn).send().await.unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    let e = c
        .schedule_key_deletion()
        .key_id(&arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");

    // Cancel: the key comes back Disabled, and works once enabled.
    let r = c.cancel_key_deletion().key_id(&arn).send().await.unwrap();
    assert_eq!(r.key_id.as_deref(), Some(arn.as_str()));
    let d = c
        .describe_key()
        .key_id(&arn)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    assert_eq!(d.key_state, Some(KeyState::Disabled));
    assert!(d.deletion_date.is_none());
    c.enable_key().key_id(&arn).send().await.unwrap();
    assert_eq!(
        c.decrypt()
            .ciphertext_blob(ct.clone())
            .send()
            .await
            .unwrap()
            .plaintext
            .unwrap()
            .into_inner(),
        b"secret"
    );

    // Schedule again, and let the sweeper run as if the window had passed.
    c.schedule_key_deletion()
        .key_id(&arn)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let processor = env.dev.server.processor().clone();
    assert_eq!(
        processor.sweep_deletions(now + 6 * 86_400).await.unwrap(),
        0,
        "not due yet"
    );
    c.describe_key().key_id(&arn).send().await.unwrap();
    assert_eq!(
        processor.sweep_deletions(now + 8 * 86_400).await.unwrap(),
        1
    );

    let e = c.describe_key().key_id(&arn).send().await.unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    let e = c.decrypt().ciphertext_blob(ct).send().await.unwrap_err();
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
    let uuid: uuid::Uuid = arn.rsplit('/').next().unwrap().parse().unwrap();
    assert!(env.dev.store.get_key(uuid).await.unwrap().is_none());
    assert!(
        env.dev
            .store
            .get_key_version(uuid, 1)
            .await
            .unwrap()
            .is_none()
    );
    env.stop().await;
}
