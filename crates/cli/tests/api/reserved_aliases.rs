//! Aliases under `alias/aws/` belong to AWS managed keys: CreateAlias,
//! UpdateAlias and DeleteAlias answer NotAuthorizedException, as AWS does,
//! and nothing changes; a name without the `alias/` prefix is AWS's
//! ValidationException.

use aws_sdk_kms::error::ProvideErrorMetadata;

use crate::common::*;

async fn alias_names(c: &aws_sdk_kms::Client) -> Vec<String> {
    c.list_aliases()
        .send()
        .await
        .unwrap()
        .aliases
        .unwrap_or_default()
        .into_iter()
        .filter_map(|a| a.alias_name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_alias_names_are_not_authorized_for_create_update_or_delete() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let key = new_key(c).await;
    c.create_alias()
        .alias_name("alias/mine")
        .target_key_id(&key)
        .send()
        .await
        .unwrap();
    let before = alias_names(c).await;
    for name in ["alias/aws/s3", "alias/aws/ebs", "alias/aws/my-own"] {
        let e = c
            .create_alias()
            .alias_name(name)
            .target_key_id(&key)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "NotAuthorizedException", "CreateAlias {name}");
        assert_eq!(e.raw_response().unwrap().status().as_u16(), 400);
        let e = c
            .update_alias()
            .alias_name(name)
            .target_key_id(&key)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "NotAuthorizedException", "UpdateAlias {name}");
        let e = c.delete_alias().alias_name(name).send().await.unwrap_err();
        assert_eq!(code(&e), "NotAuthorizedException", "DeleteAlias {name}");
    }
    assert_eq!(alias_names(c).await, before);
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alias_names_without_the_prefix_or_with_bad_characters_get_awss_errors() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let key = new_key(c).await;
    let e = c
        .create_alias()
        .alias_name("mine")
        .target_key_id(&key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    assert!(
        e.message()
            .unwrap()
            .starts_with("Alias must start with the prefix \"alias/\".")
    );
    let e = c
        .create_alias()
        .alias_name("alias/a b")
        .target_key_id(&key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    assert_eq!(
        e.message().unwrap(),
        "1 validation error detected: Value 'alias/a b' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
    );
    let e = c
        .create_alias()
        .alias_name("alias/a:b")
        .target_key_id(&key)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidAliasNameException");
    assert!(alias_names(c).await.is_empty());
    env.stop().await;
}
