//! Grants through aws-sdk-kms: a partner account uses our key only for the
//! granted operations and encryption contexts; idempotent names, tokens
//! usable at once, listing and paging, retiring, revoking, sub-grants
//! without escalation, and an explicit deny that beats a grant. Each step
//! is its own test over a fresh [`Fixture`].

use aws_sdk_kms::Client;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::{DataKeySpec, GrantConstraints, GrantOperation};

use crate::common::*;

const PARTNER: &str = "222233334444";
const THIRD: &str = "333344445555";

fn root(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

/// A key of ours, a partner account and a third account.
struct Fixture {
    env: TestEnv,
    me: String,
    partner: Client,
    third: Client,
    arn: String,
}

impl Fixture {
    async fn start() -> Self {
        let env = TestEnv::start().await;
        let me = env.dev.account_id.clone();
        let partner = other_account_client(&env, PARTNER).await;
        let third = other_account_client(&env, THIRD).await;
        let arn = new_key(&env.client).await;
        Self {
            env,
            me,
            partner,
            third,
            arn,
        }
    }

    fn owner(&self) -> &Client {
        &self.env.client
    }

    /// Encrypt/Decrypt for the partner when the context holds dept=x,
    /// retirable by the partner: (grant id, grant token).
    async fn partner_rw_grant(&self) -> (String, String) {
        let g = self
            .owner()
            .create_grant()
            .key_id(&self.arn)
            .grantee_principal(root(PARTNER))
            .retiring_principal(root(PARTNER))
            .operations(GrantOperation::Encrypt)
            .operations(GrantOperation::Decrypt)
            .constraints(dept_x())
            .name("partner-rw")
            .send()
            .await
            .unwrap();
        (g.grant_id.unwrap(), g.grant_token.unwrap())
    }

    /// GenerateDataKey and CreateGrant for the partner with exactly the
    /// context app=1: the grant id.
    async fn partner_data_key_grant(&self) -> String {
        self.owner()
            .create_grant()
            .key_id(&self.arn)
            .grantee_principal(root(PARTNER))
            .operations(GrantOperation::GenerateDataKey)
            .operations(GrantOperation::CreateGrant)
            .constraints(app_1())
            .name("partner-rw")
            .send()
            .await
            .unwrap()
            .grant_id
            .unwrap()
    }

    /// The partner's GenerateDataKey under `ctx`.
    async fn partner_data_key(&self, ctx: &[(&str, &str)]) -> Result<(), String> {
        let mut r = self
            .partner
            .generate_data_key()
            .key_id(&self.arn)
            .key_spec(DataKeySpec::Aes256);
        for (k, v) in ctx {
            r = r.encryption_context(*k, *v);
        }
        r.send().await.map(drop).map_err(|e| code(&e))
    }

    /// The partner's Encrypt with dept=x (and more): the ciphertext.
    async fn partner_encrypt(&self, token: Option<&str>) -> aws_sdk_kms::primitives::Blob {
        self.partner
            .encrypt()
            .key_id(&self.arn)
            .plaintext(blob(b"granted"))
            .encryption_context("dept", "x")
            .encryption_context("extra", "y")
            .set_grant_tokens(token.map(|t| vec![t.to_owned()]))
            .send()
            .await
            .unwrap()
            .ciphertext_blob
            .unwrap()
    }

    /// The partner's Decrypt of `ct` under its context.
    async fn partner_decrypt(&self, ct: &aws_sdk_kms::primitives::Blob) -> Result<Vec<u8>, String> {
        self.partner
            .decrypt()
            .ciphertext_blob(ct.clone())
            .encryption_context("dept", "x")
            .encryption_context("extra", "y")
            .send()
            .await
            .map(|r| r.plaintext.unwrap().into_inner())
            .map_err(|e| code(&e))
    }

    async fn grant_count(&self) -> usize {
        self.owner()
            .list_grants()
            .key_id(&self.arn)
            .send()
            .await
            .unwrap()
            .grants
            .unwrap()
            .len()
    }
}

fn dept_x() -> GrantConstraints {
    GrantConstraints::builder()
        .encryption_context_subset("dept", "x")
        .build()
}

fn app_1() -> GrantConstraints {
    GrantConstraints::builder()
        .encryption_context_equals("app", "1")
        .build()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_grant_another_account_is_denied() {
    let f = Fixture::start().await;
    let e = f
        .partner
        .encrypt()
        .key_id(&f.arn)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_works_at_once_for_its_operations_within_its_context_and_nothing_else() {
    let f = Fixture::start().await;
    let (id, token) = f.partner_rw_grant().await;
    assert_eq!(id.len(), 64);
    // Usable at once, with or without the token.
    let ct = f.partner_encrypt(Some(&token)).await;
    assert_eq!(f.partner_decrypt(&ct).await.unwrap(), b"granted");
    // Outside the constraint, or outside the operations: denied, in AWS's words.
    for ctx in [None, Some("z")] {
        let mut req = f.partner.encrypt().key_id(&f.arn).plaintext(blob(b"x"));
        if let Some(v) = ctx {
            req = req.encryption_context("dept", v);
        }
        let e = req.send().await.unwrap_err();
        assert_eq!(code(&e), "AccessDeniedException", "{ctx:?}");
    }
    let e = f
        .partner
        .generate_data_key()
        .key_id(&f.arn)
        .key_spec(DataKeySpec::Aes256)
        .encryption_context("dept", "x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    assert_eq!(
        e.message().unwrap(),
        format!(
            "User: {} is not authorized to perform: kms:GenerateDataKey on resource: {} because no resource-based policy allows the kms:GenerateDataKey action",
            root(PARTNER),
            f.arn
        )
    );
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_name_and_parameters_give_the_same_grant_and_other_operations_a_new_one() {
    let f = Fixture::start().await;
    let (g1, _) = f.partner_rw_grant().await;
    let (again, _) = f.partner_rw_grant().await;
    assert_eq!(again, g1);
    let g2 = f.partner_data_key_grant().await;
    assert_ne!(g2, g1);
    assert_eq!(f.grant_count().await, 2);
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encryption_context_equals_allows_exactly_that_context() {
    let f = Fixture::start().await;
    f.partner_data_key_grant().await;
    f.partner_data_key(&[("app", "1")]).await.unwrap();
    for ctx in [&[("app", "1"), ("b", "2")][..], &[("app", "2")], &[]] {
        assert_eq!(
            f.partner_data_key(ctx).await.unwrap_err(),
            "AccessDeniedException",
            "{ctx:?}"
        );
    }
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grantee_may_pass_on_what_it_holds_and_no_more() {
    let f = Fixture::start().await;
    f.partner_data_key_grant().await;
    f.partner
        .create_grant()
        .key_id(&f.arn)
        .grantee_principal(root(THIRD))
        .operations(GrantOperation::GenerateDataKey)
        .constraints(app_1())
        .send()
        .await
        .unwrap();
    f.third
        .generate_data_key()
        .key_id(&f.arn)
        .key_spec(DataKeySpec::Aes128)
        .encryption_context("app", "1")
        .send()
        .await
        .unwrap();
    let before = f.grant_count().await;
    let e = f
        .partner
        .create_grant()
        .key_id(&f.arn)
        .grantee_principal(root(THIRD))
        .operations(GrantOperation::Decrypt)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    assert_eq!(
        f.grant_count().await,
        before,
        "the refused grant was not made"
    );
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_are_listed_paged_and_filtered_for_the_owner_only() {
    let f = Fixture::start().await;
    let (g1, _) = f.partner_rw_grant().await;
    let g2 = f.partner_data_key_grant().await;
    let mut ids = Vec::new();
    let mut marker = None;
    loop {
        let page = f
            .owner()
            .list_grants()
            .key_id(&f.arn)
            .limit(1)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        let grants = page.grants.unwrap();
        assert!(grants.len() <= 1, "pages of one");
        for g in grants {
            assert_eq!(g.key_id.as_deref(), Some(f.arn.as_str()));
            assert!(g.issuing_account.is_some());
            ids.push(g.grant_id.unwrap());
        }
        if !page.truncated {
            break;
        }
        marker = page.next_marker;
    }
    ids.sort();
    let mut want = vec![g1.clone(), g2];
    want.sort();
    assert_eq!(ids, want);
    let only = f
        .owner()
        .list_grants()
        .key_id(&f.arn)
        .grant_id(&g1)
        .send()
        .await
        .unwrap()
        .grants
        .unwrap();
    assert_eq!(only.len(), 1);
    let g = &only[0];
    assert_eq!(g.name.as_deref(), Some("partner-rw"));
    assert_eq!(g.grantee_principal.as_deref(), Some(root(PARTNER).as_str()));
    assert_eq!(g.issuing_account.as_deref(), Some(root(&f.me).as_str()));
    assert_eq!(
        g.operations(),
        &[GrantOperation::Encrypt, GrantOperation::Decrypt]
    );
    let subset = g
        .constraints
        .as_ref()
        .unwrap()
        .encryption_context_subset
        .as_ref();
    assert_eq!(subset.unwrap().get("dept").map(String::as_str), Some("x"));
    let e = f
        .partner
        .list_grants()
        .key_id(&f.arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retirable_grants_are_listed_for_the_retiring_principal_only() {
    let f = Fixture::start().await;
    let (g1, _) = f.partner_rw_grant().await;
    f.partner_data_key_grant().await;
    let retirable = f
        .partner
        .list_retirable_grants()
        .retiring_principal(root(PARTNER))
        .send()
        .await
        .unwrap()
        .grants
        .unwrap();
    assert_eq!(retirable.len(), 1);
    assert_eq!(retirable[0].grant_id.as_deref(), Some(g1.as_str()));
    let e = f
        .owner()
        .list_retirable_grants()
        .retiring_principal(root(PARTNER))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_deny_in_the_key_policy_beats_a_grant() {
    let f = Fixture::start().await;
    let (_, token) = f.partner_rw_grant().await;
    let ct = f.partner_encrypt(Some(&token)).await;
    let deny = format!(
        r#"{{"Version":"2012-10-17","Statement":[
          {{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"kms:*","Resource":"*"}},
          {{"Effect":"Deny","Principal":{{"AWS":"{}"}},"Action":"kms:Encrypt","Resource":"*"}}]}}"#,
        root(&f.me),
        root(PARTNER)
    );
    f.owner()
        .put_key_policy()
        .key_id(&f.arn)
        .policy_name("default")
        .policy(deny)
        .send()
        .await
        .unwrap();
    let e = f
        .partner
        .encrypt()
        .key_id(&f.arn)
        .plaintext(blob(b"x"))
        .encryption_context("dept", "x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    // Another account's key: the refusal does not say why (an explicit deny
    // would show the key exists; see authz_attacks).
    assert!(!e.message().unwrap().contains("explicit deny"));
    assert!(
        e.message()
            .unwrap()
            .contains("not authorized to perform: kms:Encrypt")
    );
    // The grant's other operation is not denied.
    assert_eq!(f.partner_decrypt(&ct).await.unwrap(), b"granted");
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_grant_stops_at_once_and_only_its_retiring_principal_may_retire_it() {
    let f = Fixture::start().await;
    let (_, token) = f.partner_rw_grant().await;
    let ct = f.partner_encrypt(None).await;
    let e = f
        .third
        .retire_grant()
        .grant_token(&token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    assert_eq!(
        f.partner_decrypt(&ct).await.unwrap(),
        b"granted",
        "still granted"
    );
    f.partner
        .retire_grant()
        .grant_token(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        f.partner_decrypt(&ct).await.unwrap_err(),
        "InvalidCiphertextException"
    );
    let e = f
        .partner
        .retire_grant()
        .grant_token(&token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidGrantTokenException");
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_stops_at_once_and_revoking_again_is_not_found() {
    let f = Fixture::start().await;
    let g2 = f.partner_data_key_grant().await;
    f.partner_data_key(&[("app", "1")]).await.unwrap();
    f.owner()
        .revoke_grant()
        .key_id(&f.arn)
        .grant_id(&g2)
        .send()
        .await
        .unwrap();
    assert_eq!(
        f.partner_data_key(&[("app", "1")]).await.unwrap_err(),
        "AccessDeniedException"
    );
    let e = f
        .owner()
        .revoke_grant()
        .key_id(&f.arn)
        .grant_id(&g2)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_create_grant_input_is_refused_and_changes_nothing() {
    let f = Fixture::start().await;
    f.partner_rw_grant().await;
    let before = f.grant_count().await;
    let create = || {
        f.owner()
            .create_grant()
            .key_id(&f.arn)
            .grantee_principal(root(PARTNER))
    };
    let e = f
        .owner()
        .create_grant()
        .key_id(&f.arn)
        .grantee_principal("not-an-arn")
        .operations(GrantOperation::Encrypt)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidArnException");
    let e = create()
        .operations(GrantOperation::from("Explode"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let e = create()
        .operations(GrantOperation::Encrypt)
        .name("bad name!")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    assert_eq!(f.grant_count().await, before);
    f.env.stop().await;
}
