//! Regions: every request acts in its credential scope's region; keys,
//! aliases and grants exist only there; `--region` restricts what is
//! served. Test suites' fixed fake credentials work in `dev`. The
//! five-region claims are each a test over a fresh [`FiveRegions`].

use aws_sdk_kms::Client;
use aws_sdk_kms::config::Region;
use aws_sdk_kms::error::ProvideErrorMetadata;
use aws_sdk_kms::types::GrantOperation;
use strongroom_cli::dev::DevEnvironment;
use zeroize::Zeroizing;

use crate::common::*;

/// Five regions: two commercial, one more, China and GovCloud.
const REGIONS: &[(&str, &str)] = &[
    ("us-east-1", "aws"),
    ("us-west-2", "aws"),
    ("eu-west-1", "aws"),
    ("cn-north-1", "aws-cn"),
    ("us-gov-west-1", "aws-us-gov"),
];

fn client_in(dev: &DevEnvironment, region: &str) -> Client {
    client_with(dev, region, &dev.access_key_id, &dev.secret_access_key)
}

fn client_with(dev: &DevEnvironment, region: &str, id: &str, secret: &str) -> Client {
    Client::from_conf(
        config_for(dev, id, secret)
            .region(Region::new(region.to_owned()))
            .build(),
    )
}

/// What one region holds after [`make_in`].
struct Made {
    region: &'static str,
    client: Client,
    arn: String,
    id: String,
    grant_id: String,
    ciphertext: Vec<u8>,
}

/// A key, `alias/app` to it, a grant on it and a ciphertext under it.
async fn make_in(dev: &DevEnvironment, region: &'static str, grantee: &str) -> Made {
    let client = client_in(dev, region);
    let meta = client
        .create_key()
        .description(region)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    let (arn, id) = (meta.arn.unwrap(), meta.key_id);
    client
        .create_alias()
        .alias_name("alias/app")
        .target_key_id(&id)
        .send()
        .await
        .unwrap();
    let grant_id = client
        .create_grant()
        .key_id(&id)
        .grantee_principal(grantee)
        .retiring_principal(format!("arn:aws:iam::{}:root", dev.account_id))
        .operations(GrantOperation::Encrypt)
        .send()
        .await
        .unwrap()
        .grant_id
        .unwrap();
    let ciphertext = client
        .encrypt()
        .key_id("alias/app")
        .plaintext(blob(region.as_bytes()))
        .send()
        .await
        .unwrap()
        .ciphertext_blob
        .unwrap()
        .into_inner();
    Made {
        region,
        client,
        arn,
        id,
        grant_id,
        ciphertext,
    }
}

/// A server with a key, alias, grant and ciphertext made in each of
/// [`REGIONS`] (each key ARN in its region's partition).
struct FiveRegions {
    env: TestEnv,
    made: Vec<Made>,
}

impl FiveRegions {
    async fn start() -> Self {
        let env = TestEnv::start().await;
        let grantee = format!("arn:aws:iam::{}:role/app", env.dev.account_id);
        let mut made = Vec::new();
        for (region, partition) in REGIONS {
            let m = make_in(&env.dev, region, &grantee).await;
            assert!(
                m.arn.starts_with(&format!(
                    "arn:{partition}:kms:{region}:{}:key/",
                    env.dev.account_id
                )),
                "{}",
                m.arn
            );
            made.push(m);
        }
        Self { env, made }
    }

    /// Each region's client with every other region's things.
    fn pairs(&self) -> impl Iterator<Item = (&Made, &Made)> {
        self.made.iter().flat_map(move |m| {
            self.made
                .iter()
                .filter(move |o| o.region != m.region)
                .map(move |o| (m, o))
        })
    }

    /// Nothing any refusal touched changed: each key still Enabled, each
    /// grant still there; stops the server.
    async fn changed_nothing(self) {
        for m in &self.made {
            let meta = m
                .client
                .describe_key()
                .key_id(&m.id)
                .send()
                .await
                .unwrap()
                .key_metadata
                .unwrap();
            assert_eq!(meta.key_state.unwrap().as_str(), "Enabled");
            let grants = m.client.list_grants().key_id(&m.id).send().await.unwrap();
            assert_eq!(grants.grants().len(), 1);
        }
        self.env.stop().await;
    }
}

/// Its own key: listed, described by id, ARN and alias, and its
/// ciphertext decrypts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_region_lists_describes_and_decrypts_only_its_own_key() {
    let f = FiveRegions::start().await;
    for m in &f.made {
        let c = &m.client;
        let keys = c.list_keys().send().await.unwrap();
        let listed: Vec<_> = keys.keys().iter().filter_map(|k| k.key_arn()).collect();
        assert_eq!(listed, [m.arn.as_str()], "{}", m.region);
        for by in [&m.id, &m.arn, &"alias/app".to_owned()] {
            let d = c.describe_key().key_id(by).send().await.unwrap();
            let meta = d.key_metadata.unwrap();
            assert_eq!(meta.arn.as_deref(), Some(m.arn.as_str()));
            assert_eq!(meta.description.as_deref(), Some(m.region));
        }
        let plain = c
            .decrypt()
            .ciphertext_blob(blob(&m.ciphertext))
            .send()
            .await
            .unwrap()
            .plaintext
            .unwrap();
        assert_eq!(plain.as_ref(), m.region.as_bytes());
    }
    f.env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_region_lists_only_its_own_aliases_grants_and_retirable_grants() {
    let f = FiveRegions::start().await;
    let root = format!("arn:aws:iam::{}:root", f.env.dev.account_id);
    for m in &f.made {
        let c = &m.client;
        let aliases = c.list_aliases().send().await.unwrap();
        let aliases: Vec<_> = aliases
            .aliases()
            .iter()
            .map(|a| (a.alias_name().unwrap(), a.target_key_id().unwrap()))
            .collect();
        assert_eq!(aliases, [("alias/app", m.id.as_str())], "{}", m.region);
        let grants = c.list_grants().key_id(&m.arn).send().await.unwrap();
        let grants: Vec<_> = grants
            .grants()
            .iter()
            .filter_map(|g| g.grant_id())
            .collect();
        assert_eq!(grants, [m.grant_id.as_str()]);
        let retirable = c
            .list_retirable_grants()
            .retiring_principal(&root)
            .send()
            .await
            .unwrap();
        let retirable: Vec<_> = retirable
            .grants()
            .iter()
            .filter_map(|g| g.grant_id())
            .collect();
        assert_eq!(retirable, [m.grant_id.as_str()], "{}", m.region);
    }
    f.env.stop().await;
}

/// Every other region's key is not found, by id or ARN, as for another
/// account's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_regions_key_is_not_found_by_id_or_arn() {
    let f = FiveRegions::start().await;
    for (m, other) in f.pairs() {
        let c = &m.client;
        let e = c.describe_key().key_id(&other.id).send().await.unwrap_err();
        assert_eq!(
            code(&e),
            "NotFoundException",
            "{} from {}",
            other.id,
            m.region
        );
        assert_eq!(
            e.message(),
            Some(format!("Key '{}' does not exist", other.id).as_str())
        );
        let e = c
            .describe_key()
            .key_id(&other.arn)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "NotFoundException");
        assert_eq!(
            e.message(),
            Some(format!("Invalid arn {}", other.region).as_str())
        );
    }
    f.env.stop().await;
}

/// Another region's grants, ciphertexts and key state cannot be reached
/// through this one, and the refusals change nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_regions_grants_ciphertexts_and_key_state_are_out_of_reach() {
    let f = FiveRegions::start().await;
    for (m, other) in f.pairs() {
        let c = &m.client;
        let e = c.list_grants().key_id(&other.id).send().await.unwrap_err();
        assert_eq!(code(&e), "NotFoundException");
        let e = c
            .decrypt()
            .ciphertext_blob(blob(&other.ciphertext))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "InvalidCiphertextException");
        let e = c
            .retire_grant()
            .key_id(&other.id)
            .grant_id(&other.grant_id)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "NotFoundException");
        let e = c.disable_key().key_id(&other.id).send().await.unwrap_err();
        assert_eq!(code(&e), "NotFoundException");
    }
    f.changed_nothing().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_name_is_per_region_and_deleting_it_in_one_leaves_the_others() {
    let env = TestEnv::start().await;
    let grantee = format!("arn:aws:iam::{}:role/app", env.dev.account_id);
    let west = make_in(&env.dev, "us-west-2", &grantee).await;
    let east = make_in(&env.dev, "us-east-1", &grantee).await;
    // Taken in its own region only.
    let e = west
        .client
        .create_alias()
        .alias_name("alias/app")
        .target_key_id(&west.id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AlreadyExistsException");
    // An alias cannot point at another region's key.
    let e = west
        .client
        .update_alias()
        .alias_name("alias/app")
        .target_key_id(&east.id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    west.client
        .delete_alias()
        .alias_name("alias/app")
        .send()
        .await
        .unwrap();
    let e = west
        .client
        .describe_key()
        .key_id("alias/app")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NotFoundException");
    let d = east
        .client
        .describe_key()
        .key_id("alias/app")
        .send()
        .await
        .unwrap();
    assert_eq!(
        d.key_metadata.unwrap().arn.as_deref(),
        Some(east.arn.as_str())
    );
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_scheduled_for_deletion_in_one_region_is_deleted_by_the_sweeper_there_only() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        o.deletion_sweep_interval = std::time::Duration::from_millis(200);
    })
    .await;
    let west = client_in(&dev, "us-west-2");
    let east = client_in(&dev, "us-east-1");
    let doomed = new_key(&west).await;
    let kept = new_key(&east).await;
    west.schedule_key_deletion()
        .key_id(&doomed)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    // Make it due now, as the scheduled date passing would.
    let id = doomed.rsplit('/').next().unwrap().parse().unwrap();
    let mut rec = dev.store.get_key(id).await.unwrap().unwrap();
    rec.deletion_date = Some(0);
    dev.store.update_key(&rec).await.unwrap();
    let mut gone = false;
    for _ in 0..100 {
        if dev.store.get_key(id).await.unwrap().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(gone, "the sweeper deleted the us-west-2 key");
    let d = east.describe_key().key_id(&kept).send().await.unwrap();
    assert_eq!(
        d.key_metadata.unwrap().key_state.unwrap().as_str(),
        "Enabled"
    );
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restricted_dev_refuses_unserved_regions_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        o.regions = vec!["eu-west-1".parse().unwrap(), "cn-north-1".parse().unwrap()];
    })
    .await;
    assert_eq!(dev.region, "eu-west-1", "the first given is the default");
    for region in ["us-east-1", "eu-west-2", "us-gov-west-1"] {
        let c = client_in(&dev, region);
        let e = c.create_key().send().await.unwrap_err();
        assert_eq!(code(&e), "InvalidSignatureException", "{region}");
        assert_eq!(
            e.message(),
            Some(
                format!("Credential should be scoped to a valid region, not '{region}'.").as_str()
            )
        );
        assert!(
            dev.store
                .list_keys(&dev.account_id, region, None, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }
    for region in ["eu-west-1", "cn-north-1"] {
        let c = client_in(&dev, region);
        let arn = new_key(&c).await;
        assert!(arn.contains(&format!(":kms:{region}:")), "{arn}");
    }
    dev.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_region_names_are_refused_even_when_every_region_is_served() {
    let env = TestEnv::start().await;
    for region in ["moon-base-1", "us-east-01", "us-iso-east-1", "local"] {
        let c = client_in(&env.dev, region);
        let e = c.list_keys().send().await.unwrap_err();
        assert_eq!(code(&e), "InvalidSignatureException", "{region}");
    }
    // A well-formed region nobody has heard of is a region like any other.
    let c = client_in(&env.dev, "xy-north-7");
    let arn = new_key(&c).await;
    assert!(arn.starts_with("arn:aws:kms:xy-north-7:"), "{arn}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_suites_fixed_fake_credentials_work_in_dev_and_signatures_are_still_checked() {
    for (id, secret) in [("test", "test"), ("FOOBARKEY", "FOOBARSECRET")] {
        let dir = tempfile::tempdir().unwrap();
        let dev = start_in(dir.path(), |o| {
            o.access_key_id = Some(id.into());
            o.secret_access_key = Some(Zeroizing::new(secret.into()));
        })
        .await;
        assert_eq!(dev.access_key_id, id);
        let c = client_with(&dev, "eu-west-1", id, secret);
        let arn = new_key(&c).await;
        assert!(arn.contains(":kms:eu-west-1:"), "{arn}");
        // The same id with another secret: the signature does not verify.
        let forged = client_with(&dev, "eu-west-1", id, "not-the-secret");
        let e = forged.create_key().send().await.unwrap_err();
        assert_eq!(code(&e), "InvalidSignatureException");
        assert_eq!(c.list_keys().send().await.unwrap().keys().len(), 1);
        dev.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_rules_refuse_test_credentials_for_serve_and_admin_and_store_nothing() {
    let env = TestEnv::start().await;
    let store = env.dev.store.as_ref();
    for (id, secret) in [("test", "test"), ("FOOBARKEY", "FOOBARSECRET")] {
        let pair = Some((id.to_owned(), Zeroizing::new(secret.to_owned())));
        let e = strongroom_server::admin::create_access_key(
            store,
            &env.dev.hsm,
            &env.dev.account_id,
            pair,
        )
        .await
        .err()
        .expect("refused");
        assert!(e.to_string().contains("16-128 letters and digits"), "{e}");
        assert!(store.get_access_key(id).await.unwrap().is_none());
        // Unknown to this frontend: nothing signs as them.
        let c = client_with(&env.dev, "us-east-1", id, secret);
        let e = c.list_keys().send().await.unwrap_err();
        assert_eq!(code(&e), "UnrecognizedClientException");
    }
    // Credentials no SigV4 header can carry are refused by dev too.
    let dir = tempfile::tempdir().unwrap();
    let mut opts = strongroom_cli::dev::DevOptions::new(dir.path().to_path_buf());
    opts.access_key_id = Some("a/b".into());
    opts.secret_access_key = Some(Zeroizing::new("test".into()));
    let e = strongroom_cli::dev::start(opts)
        .await
        .err()
        .expect("refused");
    assert!(format!("{e:#}").contains("printable ASCII"), "{e:#}");
    env.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_account_from_access_key_twelve_digit_ids_act_in_their_own_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        o.access_key_id = Some("test".into());
        o.secret_access_key = Some(Zeroizing::new("test".into()));
        o.account_from_access_key = true;
    })
    .await;
    let (a, b) = ("111111111111", "222222222222");
    let in_a = client_with(&dev, "us-east-1", a, "test");
    let in_b = client_with(&dev, "us-east-1", b, "test");
    // A forged signature creates nothing: no account, no key.
    let forged = client_with(&dev, "us-east-1", "333333333333", "not-test");
    let e = forged.create_key().send().await.unwrap_err();
    assert_eq!(code(&e), "InvalidSignatureException");
    assert!(
        dev.store
            .get_account("333333333333")
            .await
            .unwrap()
            .is_none()
    );

    let arn = new_key(&in_a).await;
    assert!(arn.contains(":111111111111:key/"), "{arn}");
    assert!(dev.store.get_account(a).await.unwrap().is_some());
    // Each account sees its own keys only, as its root.
    assert_eq!(in_a.list_keys().send().await.unwrap().keys().len(), 1);
    assert!(in_b.list_keys().send().await.unwrap().keys().is_empty());
    // Another account's key by ARN: its policy does not let B in (as AWS).
    let e = in_b.describe_key().key_id(&arn).send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDeniedException");
    // Ids of any other shape are still unknown.
    let other = client_with(&dev, "us-east-1", "12345678901", "test");
    let e = other.list_keys().send().await.unwrap_err();
    assert_eq!(code(&e), "UnrecognizedClientException");
    dev.shutdown().await;

    // Without the option, a 12-digit id is just an unknown access key.
    let dir = tempfile::tempdir().unwrap();
    let dev = start_in(dir.path(), |o| {
        o.access_key_id = Some("test".into());
        o.secret_access_key = Some(Zeroizing::new("test".into()));
    })
    .await;
    let e = client_with(&dev, "us-east-1", b, "test")
        .list_keys()
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnrecognizedClientException");
    dev.shutdown().await;
}
