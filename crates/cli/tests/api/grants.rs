//! Grants through aws-sdk-kms: a partner account uses our key only for the
//! granted operations and encryption contexts; idempotent names, tokens
//! usable at once, listing and paging, retiring, revoking, sub-grants
//! without escalation, and an explicit deny that beats a grant.

use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::{GrantConstraints, GrantOperation};

use crate::common::*;

const PARTNER: &str = "222233334444";
const THIRD: &str = "333344445555";

fn root(account: &str) -> String {
    format!("arn:aws:iam::{account}:root")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_give_exactly_what_they_say() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let me = env.dev.account_id.clone();
    let partner = other_account_client(&env, PARTNER).await;
    let third = other_account_client(&env, THIRD).await;
    let arn = new_key(c).await;

    // Without a grant the partner may not use the key.
    let e = partner
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");

    // Encrypt/Decrypt when the context contains dept=x; retirable by the partner.
    let subset = GrantConstraints::builder()
        .encryption_context_subset("dept", "x")
        .build();
    let g1 = c
        .create_grant()
        .key_id(&arn)
        .grantee_principal(root(PARTNER))
        .retiring_principal(root(PARTNER))
        .operations(GrantOperation::Encrypt)
        .operations(GrantOperation::Decrypt)
        .constraints(subset.clone())
        .name("partner-rw")
        .send()
        .await
        .unwrap();
    let g1_id = g1.grant_id.unwrap();
    let g1_token = g1.grant_token.unwrap();
    assert_eq!(g1_id.len(), 64);

    // Usable at once, with or without the token.
    let ct = partner
        .encrypt()
        .key_id(&arn)
        .plaintext(blob(b"granted"))
        .encryption_context("dept", "x")
        .encryption_context("extra", "y")
        .grant_tokens(&g1_token)
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap();
    let pt = partner
        .decrypt()
        .ciphertext_blob(ct.clone())
        .encryption_context("dept", "x")
        .encryption_context("extra", "y")
        .send()
        .await
        .unwrap()
        .plaintext
        .unwrap();
    assert_eq!(pt.as_ref(), b"granted");
    // Outside the constraint, or outside the operations: denied, in AWS's words.
    for ctx in [None, Some("z")] {
        let mut req = partner.encrypt().key_id(&arn).plaintext(blob(b"x"));
        if let Some(v) = ctx {
            req = req.encryption_context("dept", v);
        }
        let e = req.send().await.unwrap_err();
        assert_eq!(code(&e), "AccessDeniedException", "{ctx:?}");
    }
    let e = partner
        .generate_data_key()
        .key_id(&arn)
        .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256)
        .encryption_context("dept", "x")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    assert_eq!(
        e.message().unwrap(),
        format!(
            "User: {} is not authorized to perform: kms:GenerateDataKey on resource: {arn} because no resource-based policy allows the kms:GenerateDataKey action",
            root(PARTNER)
        )
    );

    // Same name and parameters: the same grant. Same name, other operations: a new one.
    let again = c
        .create_grant()
        .key_id(&arn)
        .grantee_principal(root(PARTNER))
        .retiring_principal(root(PARTNER))
        .operations(GrantOperation::Encrypt)
        .operations(GrantOperation::Decrypt)
        .constraints(subset)
        .name("partner-rw")
        .send()
        .await
        .unwrap();
    assert_eq!(again.grant_id.unwrap(), g1_id);
    // EncryptionContextEquals: exactly this context.
    let g2_id = c
        .create_grant()
        .key_id(&arn)
        .grantee_principal(root(PARTNER))
        .operations(GrantOperation::GenerateDataKey)
        .operations(GrantOperation::CreateGrant)
        .constraints(
            GrantConstraints::builder()
                .encryption_context_equals("app", "1")
                .build(),
        )
        .name("partner-rw")
        .send()
        .await
        .unwrap()
        .grant_id
        .unwrap();
    assert_ne!(g2_id, g1_id);
    let gdk = |ctx: &[(&str, &str)]| {
        let mut r = partner
            .generate_data_key()
            .key_id(&arn)
            .key_spec(aws_sdk_kms::types::DataKeySpec::Aes256);
        for (k, v) in ctx {
            r = r.encryption_context(*k, *v);
        }
        r.send()
    };
    gdk(&[("app", "1")]).await.unwrap();
    let e = gdk(&[("app", "1"), ("b", "2")]).await.unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");

    // Sub-grants: the partner may pass on what it holds, and no more.
    partner
        .create_grant()
        .key_id(&arn)
        .grantee_principal(root(THIRD))
        .operations(GrantOperation::GenerateDataKey)
        .constraints(
            GrantConstraints::builder()
                .encryption_context_equals("app", "1")
                .build(),
        )
        .send()
        .await
        .unwrap();
    third
        .generate_data_key()
        .key_id(&arn)
        .key_spec(aws_sdk_kms::types::DataKeySpec::Aes128)
        .encryption_context("app", "1")
        .send()
        .await
        .unwrap();
    let e = partner
        .create_grant()
        .key_id(&arn)
        .grantee_principal(root(THIRD))
        .operations(GrantOperation::Decrypt)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");

    // Listing: three grants, paged one at a time; filters.
    let mut ids = Vec::new();
    let mut marker = None;
    loop {
        let page = c
            .list_grants()
            .key_id(&arn)
            .limit(1)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        for g in page.grants.unwrap() {
            assert_eq!(g.key_id.as_deref(), Some(arn.as_str()));
            assert!(g.issuing_account.is_some());
            ids.push(g.grant_id.unwrap());
        }
        if !page.truncated {
            break;
        }
        marker = page.next_marker;
    }
    assert_eq!(ids.len(), 3);
    assert!(ids.contains(&g1_id) && ids.contains(&g2_id));
    let only = c
        .list_grants()
        .key_id(&arn)
        .grant_id(&g1_id)
        .send()
        .await
        .unwrap()
        .grants
        .unwrap();
    assert_eq!(only.len(), 1);
    let g = &only[0];
    assert_eq!(g.name.as_deref(), Some("partner-rw"));
    assert_eq!(g.grantee_principal.as_deref(), Some(root(PARTNER).as_str()));
    assert_eq!(g.issuing_account.as_deref(), Some(root(&me).as_str()));
    assert_eq!(
        g.operations(),
        &[GrantOperation::Encrypt, GrantOperation::Decrypt]
    );
    assert_eq!(
        g.constraints
            .as_ref()
            .unwrap()
            .encryption_context_subset
            .as_ref()
            .unwrap()
            .get("dept")
            .map(String::as_str),
        Some("x")
    );
    let e = partner.list_grants().key_id(&arn).send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    let retirable = partner
        .list_retirable_grants()
        .retiring_principal(root(PARTNER))
        .send()
        .await
        .unwrap()
        .grants
        .unwrap();
    assert_eq!(retirable.len(), 1);
    assert_eq!(retirable[0].grant_id.as_deref(), Some(g1_id.as_str()));
    let e = c
        .list_retirable_grants()
        .retiring_principal(root(PARTNER))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");

    // An explicit deny in the key policy beats a grant.
    let deny = format!(
        r#"{{"Version":"2012-10-17","Statement":[
          {{"Effect":"Allow","Principal":{{"AWS":"{}"}},"Action":"kms:*","Resource":"*"}},
          {{"Effect":"Deny","Principal":{{"AWS":"{}"}},"Action":"kms:Encrypt","Resource":"*"}}]}}"#,
        root(&me),
        root(PARTNER)
    );
    c.put_key_policy()
        .key_id(&arn)
        .policy_name("default")
        .policy(deny)
        .send()
        .await
        .unwrap();
    let e = partner
        .encrypt()
        .key_id(&arn)
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
    partner
        .decrypt()
        .ciphertext_blob(ct.clone())
        .encryption_context("dept", "x")
        .encryption_context("extra", "y")
        .send()
        .await
        .unwrap();

    // Retire by token (the partner is the retiring principal): gone at once.
    let e = third
        .retire_grant()
        .grant_token(&g1_token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    partner
        .retire_grant()
        .grant_token(&g1_token)
        .send()
        .await
        .unwrap();
    let e = partner
        .decrypt()
        .ciphertext_blob(ct)
        .encryption_context("dept", "x")
        .encryption_context("extra", "y")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidCiphertextException");
    let e = partner
        .retire_grant()
        .grant_token(&g1_token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidGrantTokenException");

    // Revoke (the key owner): the partner's data-key grant stops working.
    c.revoke_grant()
        .key_id(&arn)
        .grant_id(&g2_id)
        .send()
        .await
        .unwrap();
    let e = gdk(&[("app", "1")]).await.unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    let e = c
        .revoke_grant()
        .key_id(&arn)
        .grant_id(&g2_id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");

    // Bad input changes nothing.
    let before = c
        .list_grants()
        .key_id(&arn)
        .send()
        .await
        .unwrap()
        .grants
        .unwrap()
        .len();
    let e = c
        .create_grant()
        .key_id(&arn)
        .grantee_principal("not an arn")
        .operations(GrantOperation::Encrypt)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidArnException");
    let e = c
        .create_grant()
        .key_id(&arn)
        .grantee_principal(root(PARTNER))
        .operations(GrantOperation::from("Explode"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let e = c
        .create_grant()
        .key_id(&arn)
        .grantee_principal(root(PARTNER))
        .operations(GrantOperation::Encrypt)
        .name("bad name!")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "ValidationException");
    let after = c
        .list_grants()
        .key_id(&arn)
        .send()
        .await
        .unwrap()
        .grants
        .unwrap()
        .len();
    assert_eq!(before, after);
    env.stop().await;
}
