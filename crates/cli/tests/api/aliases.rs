use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alias_lifecycle_and_key_id_forms() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let k1 = new_key(c).await;
    let k2 = new_key(c).await;
    let uuid1 = k1.rsplit('/').next().unwrap().to_owned();
    let uuid2 = k2.rsplit('/').next().unwrap().to_owned();

    c.create_alias()
        .alias_name("alias/app")
        .target_key_id(&uuid1)
        .send()
        .await
        .unwrap();
    let e = c
        .create_alias()
        .alias_name("alias/app")
        .target_key_id(&k2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AlreadyExistsException");

    // Every KeyId form resolves, and responses carry the full key ARN.
    let alias_arn = format!("arn:aws:kms:us-east-1:{}:alias/app", env.dev.account_id);
    for id in [
        uuid1.clone(),
        k1.clone(),
        "alias/app".to_owned(),
        alias_arn.clone(),
    ] {
        let r = c
            .encrypt()
            .key_id(&id)
            .plaintext(blob(b"p"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.key_id.as_deref(), Some(k1.as_str()), "{id}");
    }

    // An alias cannot point at an alias; targets must exist.
    let e = c
        .create_alias()
        .alias_name("alias/other")
        .target_key_id("alias/app")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let e = c
        .create_alias()
        .alias_name("alias/other")
        .target_key_id("00000000-0000-0000-0000-000000000000")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    // (Reserved `alias/aws/` names: reserved_aliases.rs.)
    for bad in ["app", "alias/has space"] {
        let e = c
            .create_alias()
            .alias_name(bad)
            .target_key_id(&k1)
            .send()
            .await
            .unwrap_err();
        assert!(
            ["InvalidAliasNameException", "ValidationException"].contains(&code(&e).as_str()),
            "{bad}: {}",
            code(&e)
        );
    }

    // Lifecycle changes name the key itself, never an alias (as AWS).
    let e = c
        .schedule_key_deletion()
        .key_id("alias/app")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let e = c
        .disable_key()
        .key_id("alias/app")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");

    c.update_alias()
        .alias_name("alias/app")
        .target_key_id(&k2)
        .send()
        .await
        .unwrap();
    let r = c
        .encrypt()
        .key_id("alias/app")
        .plaintext(blob(b"p"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.key_id.as_deref(), Some(k2.as_str()), "alias moved");
    let e = c
        .update_alias()
        .alias_name("alias/none")
        .target_key_id(&k2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");

    for i in 0..4 {
        c.create_alias()
            .alias_name(format!("alias/n{i}"))
            .target_key_id(&k1)
            .send()
            .await
            .unwrap();
    }
    // Paging over five aliases, two at a time.
    let mut names = Vec::new();
    let mut marker = None;
    loop {
        let page = c
            .list_aliases()
            .limit(2)
            .set_marker(marker)
            .send()
            .await
            .unwrap();
        for a in page.aliases() {
            names.push(a.alias_name.clone().unwrap());
            assert!(
                a.alias_arn
                    .as_deref()
                    .unwrap()
                    .ends_with(a.alias_name.as_deref().unwrap())
            );
            assert!(a.creation_date.is_some() && a.last_updated_date.is_some());
        }
        if !page.truncated {
            break;
        }
        marker = page.next_marker;
    }
    assert_eq!(
        names,
        ["alias/app", "alias/n0", "alias/n1", "alias/n2", "alias/n3"]
    );
    let of_k2 = c.list_aliases().key_id(&k2).send().await.unwrap();
    assert_eq!(of_k2.aliases().len(), 1);
    assert_eq!(
        of_k2.aliases()[0].target_key_id.as_deref(),
        Some(uuid2.as_str())
    );

    c.delete_alias()
        .alias_name("alias/app")
        .send()
        .await
        .unwrap();
    let e = c
        .delete_alias()
        .alias_name("alias/app")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    let e = c
        .encrypt()
        .key_id("alias/app")
        .plaintext(blob(b"p"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");

    // A key pending deletion takes no new alias.
    c.schedule_key_deletion().key_id(&k2).send().await.unwrap();
    let e = c
        .create_alias()
        .alias_name("alias/late")
        .target_key_id(&k2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    env.stop().await;
}
