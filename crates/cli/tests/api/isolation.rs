use strongroom_server::admin;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_cannot_see_each_others_keys() {
    let env = TestEnv::start().await;
    let c1 = &env.client;
    let other = admin::create_account(env.dev.store.as_ref(), Some("222233334444".into()))
        .await
        .unwrap();
    let k = admin::create_access_key(env.dev.store.as_ref(), &env.dev.hsm, &other.id, None)
        .await
        .unwrap();
    let c2 = client_for(&env.dev, &k.access_key_id, &k.secret_access_key);

    let arn1 = new_key(c1).await;
    let uuid1 = arn1.rsplit('/').next().unwrap().to_owned();
    c1.create_alias()
        .alias_name("alias/app")
        .target_key_id(&arn1)
        .send()
        .await
        .unwrap();
    let ct1 = c1
        .encrypt()
        .key_id(&arn1)
        .plaintext(blob(b"mine"))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();

    // A bare id or alias names the caller's own keys: not found. The full
    // ARN reaches the key, and its (default) policy refuses, as in AWS.
    for (id, expected) in [
        (arn1.clone(), "AccessDeniedException"),
        (uuid1.clone(), "NotFoundException"),
        ("alias/app".into(), "NotFoundException"),
    ] {
        let e = c2.describe_key().key_id(&id).send().await.unwrap_err();
        assert_eq!(code(&e), expected, "{id}");
        let e = c2
            .encrypt()
            .key_id(&id)
            .plaintext(blob(b"x"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), expected, "{id}");
    }
    let e = c2
        .decrypt()
        .ciphertext_blob(ct1.clone())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidCiphertextException");
    let e = c2.disable_key().key_id(&uuid1).send().await.unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    let e = c2
        .schedule_key_deletion()
        .key_id(&uuid1)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    assert!(c2.list_keys().send().await.unwrap().keys().is_empty());
    assert!(c2.list_aliases().send().await.unwrap().aliases().is_empty());

    // Alias names are per account; account 2's key has account 2's ARN.
    let arn2 = new_key(&c2).await;
    assert!(arn2.contains(":222233334444:key/"));
    c2.create_alias()
        .alias_name("alias/app")
        .target_key_id(&arn2)
        .send()
        .await
        .unwrap();
    let r = c2
        .encrypt()
        .key_id("alias/app")
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.key_id.as_deref(), Some(arn2.as_str()));
    // Account 1 still has its own key, enabled and usable.
    let d = c1.decrypt().ciphertext_blob(ct1).send().await.unwrap();
    assert_eq!(d.plaintext.unwrap().into_inner(), b"mine");
    env.stop().await;
}
