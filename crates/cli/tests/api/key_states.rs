//! AWS's key-state table, driven through aws-sdk-kms: every operation on a
//! key that is Disabled, PendingImport or PendingDeletion answers what
//! https://docs.aws.amazon.com/kms/latest/developerguide/key-state.html
//! says (written out below independently of the server's table), and a
//! refused call leaves the key as it was. Each call gets a fresh key, so
//! an operation that succeeds cannot change what the next one sees.

use aws_sdk_kms::Client;
use aws_sdk_kms::types::{
    AlgorithmSpec, DataKeyPairSpec, DataKeySpec, ExpirationModelType, GrantOperation,
    KeyAgreementAlgorithmSpec, KeySpec, KeyUsageType, MacAlgorithmSpec, OriginType,
    SigningAlgorithmSpec, Tag, WrappingKeySpec,
};
use strongroom_crypto::{OaepHash, rsa_oaep_encrypt};

use crate::common::*;

/// The states under test (Enabled is every other test's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Disabled,
    PendingImport,
    PendingDeletion,
}

const STATES: [State; 3] = [
    State::Disabled,
    State::PendingImport,
    State::PendingDeletion,
];

/// The kind of key an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// SYMMETRIC_DEFAULT; in PendingImport, an imported key whose material was deleted.
    Symmetric,
    /// SYMMETRIC_DEFAULT of Origin EXTERNAL, with material unless PendingImport.
    Imported,
    /// ECC_NIST_P256 SIGN_VERIFY.
    Signing,
    /// HMAC_256.
    Hmac,
    /// ECC_NIST_P256 KEY_AGREEMENT.
    Agreement,
}

/// What a call answers: success, an AWS error code, or not applicable
/// (asymmetric and HMAC keys are never PendingImport).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Ok,
    Err(&'static str),
    NotApplicable,
}

use Expect::{NotApplicable as NA, Ok as OK};
const DISABLED: Expect = Expect::Err("DisabledException");
const INVALID: Expect = Expect::Err("KMSInvalidStateException");
const UNSUPPORTED: Expect = Expect::Err("UnsupportedOperationException");

/// AWS's table, for [Disabled, PendingImport, PendingDeletion]: footnote
/// [1] DisabledException, [3]/[5] KMSInvalidStateException, [4] not
/// pending deletion, [6] origin EXTERNAL (UnsupportedOperationException).
const TABLE: &[(&str, Kind, [Expect; 3])] = &[
    ("Encrypt", Kind::Symmetric, [DISABLED, INVALID, INVALID]),
    ("Decrypt", Kind::Symmetric, [DISABLED, INVALID, INVALID]),
    ("ReEncrypt", Kind::Symmetric, [DISABLED, INVALID, INVALID]),
    (
        "GenerateDataKey",
        Kind::Symmetric,
        [DISABLED, INVALID, INVALID],
    ),
    (
        "GenerateDataKeyWithoutPlaintext",
        Kind::Symmetric,
        [DISABLED, INVALID, INVALID],
    ),
    (
        "GenerateDataKeyPair",
        Kind::Symmetric,
        [DISABLED, INVALID, INVALID],
    ),
    (
        "GenerateDataKeyPairWithoutPlaintext",
        Kind::Symmetric,
        [DISABLED, INVALID, INVALID],
    ),
    ("CreateGrant", Kind::Symmetric, [DISABLED, INVALID, INVALID]),
    ("Sign", Kind::Signing, [DISABLED, NA, INVALID]),
    ("Verify", Kind::Signing, [DISABLED, NA, INVALID]),
    ("GetPublicKey", Kind::Signing, [DISABLED, NA, INVALID]),
    ("GenerateMac", Kind::Hmac, [DISABLED, NA, INVALID]),
    ("VerifyMac", Kind::Hmac, [DISABLED, NA, INVALID]),
    (
        "DeriveSharedSecret",
        Kind::Agreement,
        [DISABLED, NA, INVALID],
    ),
    ("DescribeKey", Kind::Symmetric, [OK, OK, OK]),
    ("GetKeyPolicy", Kind::Symmetric, [OK, OK, OK]),
    ("ListKeyPolicies", Kind::Symmetric, [OK, OK, OK]),
    ("PutKeyPolicy", Kind::Symmetric, [OK, OK, OK]),
    ("ListGrants", Kind::Symmetric, [OK, OK, OK]),
    ("ListResourceTags", Kind::Symmetric, [OK, OK, OK]),
    ("DeleteAlias", Kind::Symmetric, [OK, OK, OK]),
    ("EnableKey", Kind::Symmetric, [OK, INVALID, INVALID]),
    ("DisableKey", Kind::Symmetric, [OK, INVALID, INVALID]),
    ("ScheduleKeyDeletion", Kind::Symmetric, [OK, OK, INVALID]),
    ("CancelKeyDeletion", Kind::Symmetric, [INVALID, INVALID, OK]),
    ("UpdateKeyDescription", Kind::Symmetric, [OK, OK, INVALID]),
    ("TagResource", Kind::Symmetric, [OK, OK, INVALID]),
    ("UntagResource", Kind::Symmetric, [OK, OK, INVALID]),
    ("CreateAlias", Kind::Symmetric, [OK, OK, INVALID]),
    // [10]: the new target may not be pending deletion.
    ("UpdateAlias", Kind::Symmetric, [OK, OK, INVALID]),
    (
        "EnableKeyRotation",
        Kind::Symmetric,
        [DISABLED, UNSUPPORTED, INVALID],
    ),
    (
        "DisableKeyRotation",
        Kind::Symmetric,
        [DISABLED, UNSUPPORTED, INVALID],
    ),
    (
        "RotateKeyOnDemand",
        Kind::Symmetric,
        [DISABLED, UNSUPPORTED, INVALID],
    ),
    // [7]: succeeds for keys of AWS_KMS origin, pending deletion too.
    (
        "GetKeyRotationStatus",
        Kind::Symmetric,
        [OK, UNSUPPORTED, OK],
    ),
    (
        "ListKeyRotations",
        Kind::Symmetric,
        [OK, UNSUPPORTED, INVALID],
    ),
    // [8], [9]: imported keys only; refused pending deletion.
    ("GetParametersForImport", Kind::Imported, [OK, OK, INVALID]),
    (
        "DeleteImportedKeyMaterial",
        Kind::Imported,
        [OK, OK, INVALID],
    ),
];

/// A key of one kind in one state, and what was made with it while it
/// was Enabled.
struct Fixture {
    arn: String,
    alias: String,
    ciphertext: Vec<u8>,
    signature: Vec<u8>,
    mac: Vec<u8>,
    account: String,
}

const MESSAGE: &[u8] = b"state table";
const MATERIAL: [u8; 32] = [0x42; 32];

async fn create(c: &Client, kind: Kind) -> String {
    let req = c.create_key();
    let req = match kind {
        Kind::Symmetric => req,
        Kind::Imported => req.origin(OriginType::External),
        Kind::Signing => req
            .key_spec(KeySpec::EccNistP256)
            .key_usage(KeyUsageType::SignVerify),
        Kind::Hmac => req
            .key_spec(KeySpec::Hmac256)
            .key_usage(KeyUsageType::GenerateVerifyMac),
        Kind::Agreement => req
            .key_spec(KeySpec::EccNistP256)
            .key_usage(KeyUsageType::KeyAgreement),
    };
    req.send().await.unwrap().key_metadata.unwrap().arn.unwrap()
}

async fn import_material(c: &Client, arn: &str) {
    let p = c
        .get_parameters_for_import()
        .key_id(arn)
        .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
        .wrapping_key_spec(WrappingKeySpec::Rsa2048)
        .send()
        .await
        .unwrap();
    let wrapped =
        rsa_oaep_encrypt(p.public_key.unwrap().as_ref(), OaepHash::Sha256, &MATERIAL).unwrap();
    c.import_key_material()
        .key_id(arn)
        .import_token(p.import_token.unwrap())
        .encrypted_key_material(blob(&wrapped))
        .expiration_model(ExpirationModelType::KeyMaterialDoesNotExpire)
        .send()
        .await
        .unwrap();
}

async fn fixture(c: &Client, kind: Kind, state: State, n: usize) -> Fixture {
    // PendingImport symmetric keys are imported keys whose material is gone.
    let imported =
        kind == Kind::Imported || (kind == Kind::Symmetric && state == State::PendingImport);
    let arn = create(c, if imported { Kind::Imported } else { kind }).await;
    if imported {
        import_material(c, &arn).await;
    }
    let mut f = Fixture {
        alias: format!("alias/state-{n}"),
        account: arn.split(':').nth(4).unwrap().to_owned(),
        arn,
        ciphertext: Vec::new(),
        signature: Vec::new(),
        mac: Vec::new(),
    };
    c.create_alias()
        .alias_name(&f.alias)
        .target_key_id(&f.arn)
        .send()
        .await
        .unwrap();
    match kind {
        Kind::Symmetric | Kind::Imported => {
            let out = c
                .encrypt()
                .key_id(&f.arn)
                .plaintext(blob(MESSAGE))
                .send()
                .await
                .unwrap();
            f.ciphertext = out.ciphertext_blob.unwrap().into_inner();
        }
        Kind::Signing => {
            let out = c
                .sign()
                .key_id(&f.arn)
                .message(blob(MESSAGE))
                .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                .send()
                .await
                .unwrap();
            f.signature = out.signature.unwrap().into_inner();
        }
        Kind::Hmac => {
            let out = c
                .generate_mac()
                .key_id(&f.arn)
                .message(blob(MESSAGE))
                .mac_algorithm(MacAlgorithmSpec::HmacSha256)
                .send()
                .await
                .unwrap();
            f.mac = out.mac.unwrap().into_inner();
        }
        Kind::Agreement => {}
    }
    match state {
        State::Disabled => {
            c.disable_key().key_id(&f.arn).send().await.unwrap();
        }
        State::PendingImport => {
            c.delete_imported_key_material()
                .key_id(&f.arn)
                .send()
                .await
                .unwrap();
        }
        State::PendingDeletion => {
            c.schedule_key_deletion()
                .key_id(&f.arn)
                .pending_window_in_days(7)
                .send()
                .await
                .unwrap();
        }
    }
    f
}

fn outcome<T, E: aws_sdk_kms::error::ProvideErrorMetadata, R>(
    r: Result<T, aws_sdk_kms::error::SdkError<E, R>>,
) -> Result<(), String> {
    r.map(drop).map_err(|e| code(&e))
}

/// Runs `op` on the fixture's key. `peer` is another key's public key (DeriveSharedSecret).
async fn call(c: &Client, op: &str, f: &Fixture, peer: &[u8], spare: &str) -> Result<(), String> {
    let k = f.arn.as_str();
    match op {
        "Encrypt" => outcome(c.encrypt().key_id(k).plaintext(blob(MESSAGE)).send().await),
        "Decrypt" => outcome(
            c.decrypt()
                .key_id(k)
                .ciphertext_blob(blob(&f.ciphertext))
                .send()
                .await,
        ),
        "ReEncrypt" => outcome(
            c.re_encrypt()
                .ciphertext_blob(blob(&f.ciphertext))
                .destination_key_id(k)
                .send()
                .await,
        ),
        "GenerateDataKey" => outcome(
            c.generate_data_key()
                .key_id(k)
                .key_spec(DataKeySpec::Aes256)
                .send()
                .await,
        ),
        "GenerateDataKeyWithoutPlaintext" => outcome(
            c.generate_data_key_without_plaintext()
                .key_id(k)
                .key_spec(DataKeySpec::Aes256)
                .send()
                .await,
        ),
        "GenerateDataKeyPair" => outcome(
            c.generate_data_key_pair()
                .key_id(k)
                .key_pair_spec(DataKeyPairSpec::EccNistP256)
                .send()
                .await,
        ),
        "GenerateDataKeyPairWithoutPlaintext" => outcome(
            c.generate_data_key_pair_without_plaintext()
                .key_id(k)
                .key_pair_spec(DataKeyPairSpec::EccNistP256)
                .send()
                .await,
        ),
        "CreateGrant" => outcome(
            c.create_grant()
                .key_id(k)
                .grantee_principal(format!("arn:aws:iam::{}:root", f.account))
                .operations(GrantOperation::Decrypt)
                .send()
                .await,
        ),
        "Sign" => outcome(
            c.sign()
                .key_id(k)
                .message(blob(MESSAGE))
                .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                .send()
                .await,
        ),
        "Verify" => outcome(
            c.verify()
                .key_id(k)
                .message(blob(MESSAGE))
                .signature(blob(&f.signature))
                .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
                .send()
                .await,
        ),
        "GetPublicKey" => outcome(c.get_public_key().key_id(k).send().await),
        "GenerateMac" => outcome(
            c.generate_mac()
                .key_id(k)
                .message(blob(MESSAGE))
                .mac_algorithm(MacAlgorithmSpec::HmacSha256)
                .send()
                .await,
        ),
        "VerifyMac" => outcome(
            c.verify_mac()
                .key_id(k)
                .message(blob(MESSAGE))
                .mac(blob(&f.mac))
                .mac_algorithm(MacAlgorithmSpec::HmacSha256)
                .send()
                .await,
        ),
        "DeriveSharedSecret" => outcome(
            c.derive_shared_secret()
                .key_id(k)
                .key_agreement_algorithm(KeyAgreementAlgorithmSpec::Ecdh)
                .public_key(blob(peer))
                .send()
                .await,
        ),
        "DescribeKey" => outcome(c.describe_key().key_id(k).send().await),
        "GetKeyPolicy" => outcome(
            c.get_key_policy()
                .key_id(k)
                .policy_name("default")
                .send()
                .await,
        ),
        "ListKeyPolicies" => outcome(c.list_key_policies().key_id(k).send().await),
        "PutKeyPolicy" => {
            let policy = c
                .get_key_policy()
                .key_id(k)
                .send()
                .await
                .unwrap()
                .policy
                .unwrap();
            outcome(
                c.put_key_policy()
                    .key_id(k)
                    .policy_name("default")
                    .policy(policy)
                    .send()
                    .await,
            )
        }
        "ListGrants" => outcome(c.list_grants().key_id(k).send().await),
        "ListResourceTags" => outcome(c.list_resource_tags().key_id(k).send().await),
        "DeleteAlias" => outcome(c.delete_alias().alias_name(&f.alias).send().await),
        "EnableKey" => outcome(c.enable_key().key_id(k).send().await),
        "DisableKey" => outcome(c.disable_key().key_id(k).send().await),
        "ScheduleKeyDeletion" => outcome(
            c.schedule_key_deletion()
                .key_id(k)
                .pending_window_in_days(7)
                .send()
                .await,
        ),
        "CancelKeyDeletion" => outcome(c.cancel_key_deletion().key_id(k).send().await),
        "UpdateKeyDescription" => outcome(
            c.update_key_description()
                .key_id(k)
                .description("changed")
                .send()
                .await,
        ),
        "TagResource" => outcome(
            c.tag_resource()
                .key_id(k)
                .tags(Tag::builder().tag_key("t").tag_value("v").build().unwrap())
                .send()
                .await,
        ),
        "UntagResource" => outcome(c.untag_resource().key_id(k).tag_keys("t").send().await),
        "CreateAlias" => outcome(
            c.create_alias()
                .alias_name(format!("{}-new", f.alias))
                .target_key_id(k)
                .send()
                .await,
        ),
        "UpdateAlias" => {
            // An alias of an Enabled key, moved onto the key under test.
            let moved = format!("{}-moved", f.alias);
            c.create_alias()
                .alias_name(&moved)
                .target_key_id(spare)
                .send()
                .await
                .unwrap();
            outcome(
                c.update_alias()
                    .alias_name(&moved)
                    .target_key_id(k)
                    .send()
                    .await,
            )
        }
        "EnableKeyRotation" => outcome(c.enable_key_rotation().key_id(k).send().await),
        "DisableKeyRotation" => outcome(c.disable_key_rotation().key_id(k).send().await),
        "RotateKeyOnDemand" => outcome(c.rotate_key_on_demand().key_id(k).send().await),
        "GetKeyRotationStatus" => outcome(c.get_key_rotation_status().key_id(k).send().await),
        "ListKeyRotations" => outcome(c.list_key_rotations().key_id(k).send().await),
        "GetParametersForImport" => outcome(
            c.get_parameters_for_import()
                .key_id(k)
                .wrapping_algorithm(AlgorithmSpec::RsaesOaepSha256)
                .wrapping_key_spec(WrappingKeySpec::Rsa2048)
                .send()
                .await,
        ),
        "DeleteImportedKeyMaterial" => {
            outcome(c.delete_imported_key_material().key_id(k).send().await)
        }
        other => panic!("no call for {other}"),
    }
}

/// What DescribeKey says of a key (state, description, enabled), to show a
/// refused call changed nothing.
async fn snapshot(c: &Client, arn: &str) -> String {
    let m = c
        .describe_key()
        .key_id(arn)
        .send()
        .await
        .unwrap()
        .key_metadata
        .unwrap();
    format!(
        "{:?} {:?} {} {:?}",
        m.key_state, m.description, m.enabled, m.deletion_date
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_as_awss_key_state_table_says_and_a_refusal_changes_nothing() {
    let env = TestEnv::start().await;
    let c = &env.client;
    let spare = new_key(c).await;
    let peer_key = create(c, Kind::Agreement).await;
    let peer = c
        .get_public_key()
        .key_id(&peer_key)
        .send()
        .await
        .unwrap()
        .public_key
        .unwrap()
        .into_inner();
    let mut failures = Vec::new();
    let mut n = 0;
    for (op, kind, expected) in TABLE {
        for (state, want) in STATES.iter().zip(expected) {
            if *want == NA {
                continue;
            }
            n += 1;
            let f = fixture(c, *kind, *state, n).await;
            let before = snapshot(c, &f.arn).await;
            let got = call(c, op, &f, &peer, &spare).await;
            let matches = match (want, &got) {
                (Expect::Ok, Ok(())) => true,
                (Expect::Err(code), Err(got)) => code == got,
                _ => false,
            };
            if !matches {
                failures.push(format!(
                    "{op} on a {state:?} {kind:?} key: want {want:?}, got {got:?}"
                ));
            } else if got.is_err() && snapshot(c, &f.arn).await != before {
                failures.push(format!(
                    "{op} on a {state:?} key was refused but changed the key"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    env.stop().await;
}
