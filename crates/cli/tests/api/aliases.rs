//! Aliases through aws-sdk-kms: names taken once, every KeyId form,
//! bad targets and names, lifecycle calls that refuse an alias, moving,
//! paging, deleting, and keys pending deletion. Each claim is its own test
//! over a fresh [`Fixture`].

use aws_sdk_kms::Client;

use crate::common::*;

/// Two keys, and `alias/app` naming the first (made by its UUID).
struct Fixture {
    env: TestEnv,
    k1: String,
    k2: String,
    uuid2: String,
}

impl Fixture {
    async fn start() -> Self {
        let env = TestEnv::start().await;
        let k1 = new_key(&env.client).await;
        let k2 = new_key(&env.client).await;
        let uuid1 = k1.rsplit('/').next().unwrap().to_owned();
        let uuid2 = k2.rsplit('/').next().unwrap().to_owned();
        env.client
            .create_alias()
            .alias_name("alias/app")
            .target_key_id(&uuid1)
            .send()
            .await
            .unwrap();
        Self { env, k1, k2, uuid2 }
    }

    fn c(&self) -> &Client {
        &self.env.client
    }

    /// Points `alias/app` at the second key.
    async fn move_app_to_k2(&self) {
        self.c()
            .update_alias()
            .alias_name("alias/app")
            .target_key_id(&self.k2)
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_name_is_taken_once() {
    let f = Fixture::start().await;
    let e = f
        .c()
        .create_alias()
        .alias_name("alias/app")
        .target_key_id(&f.k2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AlreadyExistsException");
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_key_id_form_resolves_and_answers_with_the_full_key_arn() {
    let f = Fixture::start().await;
    let uuid1 = f.k1.rsplit('/').next().unwrap().to_owned();
    let alias_arn = format!("arn:aws:kms:us-east-1:{}:alias/app", f.env.dev.account_id);
    for id in [uuid1, f.k1.clone(), "alias/app".to_owned(), alias_arn] {
        let r = f
            .c()
            .encrypt()
            .key_id(&id)
            .plaintext(blob(b"p"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.key_id.as_deref(), Some(f.k1.as_str()), "{id}");
    }
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_cannot_target_an_alias_or_a_missing_key() {
    let f = Fixture::start().await;
    let e = f
        .c()
        .create_alias()
        .alias_name("alias/other")
        .target_key_id("alias/app")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let e = f
        .c()
        .create_alias()
        .alias_name("alias/other")
        .target_key_id("00000000-0000-0000-0000-000000000000")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alias_names_without_the_prefix_or_with_spaces_are_refused() {
    // (Reserved `alias/aws/` names: reserved_aliases.rs.)
    let f = Fixture::start().await;
    for bad in ["app", "alias/has space"] {
        let e = f
            .c()
            .create_alias()
            .alias_name(bad)
            .target_key_id(&f.k1)
            .send()
            .await
            .unwrap_err();
        assert!(
            ["InvalidAliasNameException", "ValidationException"].contains(&code(&e).as_str()),
            "{bad}: {}",
            code(&e)
        );
    }
    f.env.stop().await;
}

/// Lifecycle changes name the key itself, never an alias (as AWS).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_changes_refuse_an_alias_for_the_key() {
    let f = Fixture::start().await;
    let e = f
        .c()
        .schedule_key_deletion()
        .key_id("alias/app")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let e = f
        .c()
        .disable_key()
        .key_id("alias/app")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_alias_moves_an_existing_alias_to_another_key() {
    let f = Fixture::start().await;
    f.move_app_to_k2().await;
    let r = f
        .c()
        .encrypt()
        .key_id("alias/app")
        .plaintext(blob(b"p"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.key_id.as_deref(), Some(f.k2.as_str()), "alias moved");
    let e = f
        .c()
        .update_alias()
        .alias_name("alias/none")
        .target_key_id(&f.k2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    f.env.stop().await;
}

/// Every alias name on `c`, paging `limit` at a time; checks each entry's
/// ARN and dates.
async fn all_alias_names(c: &Client, limit: i32) -> Vec<String> {
    let mut names = Vec::new();
    let mut marker = None;
    loop {
        let page = c
            .list_aliases()
            .limit(limit)
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
            return names;
        }
        marker = page.next_marker;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_aliases_pages_through_every_alias_and_filters_by_key() {
    let f = Fixture::start().await;
    f.move_app_to_k2().await;
    for i in 0..4 {
        f.c()
            .create_alias()
            .alias_name(format!("alias/n{i}"))
            .target_key_id(&f.k1)
            .send()
            .await
            .unwrap();
    }
    // Paging over five aliases, two at a time.
    assert_eq!(
        all_alias_names(f.c(), 2).await,
        ["alias/app", "alias/n0", "alias/n1", "alias/n2", "alias/n3"]
    );
    let of_k2 = f.c().list_aliases().key_id(&f.k2).send().await.unwrap();
    assert_eq!(of_k2.aliases().len(), 1);
    assert_eq!(
        of_k2.aliases()[0].target_key_id.as_deref(),
        Some(f.uuid2.as_str())
    );
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_alias_is_gone_and_deleting_it_again_is_not_found() {
    let f = Fixture::start().await;
    f.c()
        .delete_alias()
        .alias_name("alias/app")
        .send()
        .await
        .unwrap();
    let e = f
        .c()
        .delete_alias()
        .alias_name("alias/app")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    let e = f
        .c()
        .encrypt()
        .key_id("alias/app")
        .plaintext(blob(b"p"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_pending_deletion_takes_no_new_alias() {
    let f = Fixture::start().await;
    f.c()
        .schedule_key_deletion()
        .key_id(&f.k2)
        .send()
        .await
        .unwrap();
    let e = f
        .c()
        .create_alias()
        .alias_name("alias/late")
        .target_key_id(&f.k2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMSInvalidStateException");
    f.env.stop().await;
}
