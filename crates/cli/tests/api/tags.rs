//! TagResource, UntagResource, ListResourceTags through aws-sdk-kms.

use aws_sdk_kms::types::Tag;

use crate::common::*;

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().tag_key(k).tag_value(v).build().unwrap()
}

async fn tags_of(c: &aws_sdk_kms::Client, key: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pages = c
        .list_resource_tags()
        .key_id(key)
        .limit(2)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for t in page.unwrap().tags.unwrap_or_default() {
            out.push((t.tag_key, t.tag_value));
        }
    }
    out
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_added_replaced_removed_and_paged() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let key = c
        .create_key()
        .tags(tag("team", "payments"))
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap()
        .key_id;
    assert_eq!(tags_of(c, &key).await, pairs(&[("team", "payments")]));

    c.tag_resource()
        .key_id(&key)
        .tags(tag("team", "risk"))
        .tags(tag("env", "prod"))
        .tags(tag("cost", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(c, &key).await,
        pairs(&[("team", "risk"), ("env", "prod"), ("cost", "")])
    );
    c.untag_resource()
        .key_id(&key)
        .tag_keys("env")
        .tag_keys("absent")
        .send()
        .await
        .unwrap();
    assert_eq!(
        tags_of(c, &key).await,
        pairs(&[("team", "risk"), ("cost", "")])
    );

    // One page with the default limit; an invalid marker is refused.
    let page = c.list_resource_tags().key_id(&key).send().await.unwrap();
    assert!(!page.truncated && page.tags.unwrap().len() == 2);
    let e = c
        .list_resource_tags()
        .key_id(&key)
        .marker("zz")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidMarkerException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tag_limits_and_refusals_change_nothing() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let key = new_key(c).await;
    let mut req = c.tag_resource().key_id(&key);
    for i in 0..50 {
        req = req.tags(tag(&format!("k{i}"), "v"));
    }
    req.send().await.unwrap();
    let before = tags_of(c, &key).await;
    assert_eq!(before.len(), 50);

    let e = c
        .tag_resource()
        .key_id(&key)
        .tags(tag("k50", "v"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "LimitExceededException");
    // Replacing a value of an existing tag stays within the limit.
    c.tag_resource()
        .key_id(&key)
        .tags(tag("k0", "w"))
        .send()
        .await
        .unwrap();
    // Lengths are AWS's model (ValidationException); the prefix is the
    // service's rule (TagException).
    for (bad, want, why) in [
        (tag("aws:reserved", "v"), "TagException", "reserved prefix"),
        (
            tag(&"x".repeat(129), "v"),
            "ValidationException",
            "key too long",
        ),
        (
            tag("k", &"v".repeat(257)),
            "ValidationException",
            "value too long",
        ),
    ] {
        let e = c
            .tag_resource()
            .key_id(&key)
            .tags(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), want, "{why}");
    }
    let e = c
        .tag_resource()
        .key_id(&key)
        .tags(tag("dup", "1"))
        .tags(tag("dup", "2"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "TagException");
    let after = tags_of(c, &key).await;
    assert_eq!(after.len(), 50);
    assert_eq!(after[0], ("k0".to_string(), "w".to_string()));
    assert_eq!(&after[1..], &before[1..]);

    // Aliases, other accounts' keys and keys pending deletion are refused.
    c.create_alias()
        .alias_name("alias/t")
        .target_key_id(&key)
        .send()
        .await
        .unwrap();
    // As for EnableKey and friends, a key id or ARN is required (not an alias).
    let e = c
        .tag_resource()
        .key_id("alias/t")
        .tags(tag("a", "b"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let c2 = other_account_client(&env, "999988887777").await;
    let e = c2
        .list_resource_tags()
        .key_id(&key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    c.schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let e = c
        .untag_resource()
        .key_id(&key)
        .tag_keys("k1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    assert_eq!(tags_of(c, &key).await.len(), 50);
}
