//! `strongroom admin`: accounts, identities, access keys, re-wrapping,
//! the host key, the audit trail and usage.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use clap::Subcommand;
use strongroom_hsm_proto::HsmClient;
use strongroom_server::admin;
use strongroom_store::Store;

use crate::dev;
use crate::modules::ExternalModules;

/// A command-line value given inline or as `@FILE`.
fn read_text_arg(v: &str) -> anyhow::Result<String> {
    match v.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}")),
        None => Ok(v.to_string()),
    }
}

/// `strongroom admin ...`.
#[derive(Subcommand)]
pub enum AdminAction {
    /// Create an account (random 12-digit id unless given).
    CreateAccount {
        /// The 12-digit account id to use.
        #[arg(long)]
        account_id: Option<String>,
    },
    /// Create an access key for an account's root, or for a user or
    /// service principal, and print it (the secret is shown only now).
    CreateAccessKey {
        /// The account (its root).
        #[arg(
            long,
            required_unless_present = "principal",
            conflicts_with = "principal"
        )]
        account_id: Option<String>,
        /// A user or service principal ARN.
        #[arg(long)]
        principal: Option<String>,
    },
    /// Create a user, role or service principal in an account.
    CreatePrincipal {
        /// The 12-digit account the principal belongs to.
        #[arg(long)]
        account_id: String,
        /// user, role or service.
        #[arg(long)]
        kind: String,
        /// The principal's name, the last part of its ARN.
        #[arg(long)]
        name: String,
        /// Identity policy (JSON text or @FILE).
        #[arg(long)]
        policy: Option<String>,
        /// Principal tags, KEY=VALUE (repeatable).
        #[arg(long = "tag")]
        tags: Vec<String>,
        /// For a service: the name kms:ViaService carries (e.g. objectstore.example.com),
        /// unique in the store; customers sign for exactly this SigV4 service name.
        #[arg(long)]
        service_name: Option<String>,
    },
    /// Replace (or with no --policy, remove) a principal's identity policy.
    PutIdentityPolicy {
        /// The principal's ARN.
        #[arg(long)]
        principal: String,
        /// Identity policy (JSON text or @FILE).
        #[arg(long)]
        policy: Option<String>,
    },
    /// List an account's users, roles and services.
    ListPrincipals {
        /// The 12-digit account.
        #[arg(long)]
        account_id: String,
    },
    /// Issue temporary credentials for a role (prints AWS_* variables,
    /// including AWS_SESSION_TOKEN).
    AssumeRole {
        /// The role's ARN.
        #[arg(long)]
        role: String,
        /// The session's name in the assumed-role ARN (2-64 characters).
        #[arg(long, default_value = "admin-session")]
        session_name: String,
        /// Lifetime in seconds (900 to 43200).
        #[arg(long, default_value_t = 3600)]
        duration: i64,
    },
    /// List accounts and their access key ids.
    ListAccounts,
    /// External key stores for AWS KMS (docs/xks.md).
    Xks {
        /// What to do with key stores.
        #[command(subcommand)]
        action: crate::xks_cmd::XksAction,
    },
    /// Re-seal every stored EKT and secret under the domain's newest key
    /// generation (after RotateDomainKey); resumable, throttled.
    Rewrap {
        /// Items per module call.
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Pause between batches, in milliseconds.
        #[arg(long, default_value_t = 0)]
        pause_ms: u64,
    },
    /// Count stored EKTs and secrets by domain-key generation (what
    /// RetireDomainKey's --ekts-remaining needs).
    RewrapStatus,
    /// Print this frontend's host key (creating it): give `host.pub` to the
    /// operators for CreateDomain / AddHost.
    HostKey,
    /// Read and verify the audit trail.
    Audit {
        /// The audit directory (default: DATA_DIR/audit).
        #[arg(long)]
        audit_dir: Option<std::path::PathBuf>,
        /// What to read or verify.
        #[command(subcommand)]
        action: crate::audit_cmd::AuditAction,
    },
    /// Usage counters per account, operation, key and hour (what a billing
    /// system consumes).
    Usage {
        /// The audit directory (default: DATA_DIR/audit), whose records
        /// not yet flushed to the store are counted too.
        #[arg(long)]
        audit_dir: Option<std::path::PathBuf>,
        /// Only this account.
        #[arg(long)]
        account: Option<String>,
        /// From this time on (RFC 3339; its hour is included).
        #[arg(long)]
        since: Option<String>,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs an admin action on a data directory (and store); returns the exit code.
pub async fn run(
    data_dir: &Path,
    modules: ExternalModules,
    store_url: Option<String>,
    action: AdminAction,
) -> anyhow::Result<i32> {
    match action {
        AdminAction::HostKey => {
            let key = crate::modules::host_key(data_dir)?;
            println!(
                "host key {} ({})",
                crate::files::fingerprint(key.public_key()),
                data_dir.join("host.pub").display()
            );
        }
        AdminAction::Audit { audit_dir, action } => {
            let dir = crate::audit_setup::audit_dir(data_dir, audit_dir.as_deref());
            return crate::audit_cmd::run(data_dir, &dir, &modules, action).await;
        }
        AdminAction::Usage {
            account,
            since,
            json,
            audit_dir,
        } => {
            let store = dev::open_store(data_dir, admin_store(&store_url), false).await?;
            let dir = crate::audit_setup::audit_dir(data_dir, audit_dir.as_deref());
            crate::audit_cmd::usage(store, &dir, account.as_deref(), since.as_deref(), json)
                .await?;
        }
        action => {
            let (hsm, store) =
                dev::open_data_dir(data_dir, &modules, admin_store(&store_url)).await?;
            run_with_module(store.as_ref(), &hsm, action).await?;
        }
    }
    Ok(0)
}

/// The actions that need the store and a security module.
async fn run_with_module(
    store: &dyn Store,
    hsm: &HsmClient,
    action: AdminAction,
) -> anyhow::Result<()> {
    match action {
        AdminAction::CreateAccount { account_id } => {
            let a = admin::create_account(store, account_id).await?;
            println!("{}", a.id);
        }
        AdminAction::CreateAccessKey {
            account_id,
            principal,
        } => create_access_key(store, hsm, account_id, principal).await?,
        AdminAction::CreatePrincipal {
            account_id,
            kind,
            name,
            policy,
            tags,
            service_name,
        } => {
            let p = create_principal(
                store,
                &account_id,
                &kind,
                &name,
                policy,
                &tags,
                service_name,
            )
            .await?;
            println!("{}", p.arn);
        }
        AdminAction::PutIdentityPolicy { principal, policy } => {
            let p = admin::put_identity_policy(
                store,
                &principal,
                policy.map(|p| read_text_arg(&p)).transpose()?,
            )
            .await?;
            println!("{}", p.arn);
        }
        AdminAction::ListPrincipals { account_id } => list_principals(store, &account_id).await?,
        AdminAction::AssumeRole {
            role,
            session_name,
            duration,
        } => assume_role(store, hsm, &role, &session_name, duration).await?,
        AdminAction::HostKey | AdminAction::Audit { .. } | AdminAction::Usage { .. } => {
            anyhow::bail!("handled without a module")
        }
        AdminAction::Rewrap { batch, pause_ms } => {
            rewrap(store, hsm, batch, Duration::from_millis(pause_ms)).await?
        }
        AdminAction::RewrapStatus => print_rewrap_status(store).await?,
        AdminAction::Xks { action } => crate::xks_cmd::run(store, hsm, action).await?,
        AdminAction::ListAccounts => list_accounts(store).await?,
    }
    Ok(())
}

/// `assume-role`: prints temporary credentials as AWS_* variables, and the
/// session's ARN and expiry as a comment.
async fn assume_role(
    store: &dyn Store,
    hsm: &HsmClient,
    role: &str,
    session_name: &str,
    duration: i64,
) -> anyhow::Result<()> {
    let t = admin::assume_role(store, hsm, role, session_name, duration).await?;
    println!("AWS_ACCESS_KEY_ID={}", t.key.access_key_id);
    println!("AWS_SECRET_ACCESS_KEY={}", &*t.key.secret_access_key);
    println!("AWS_SESSION_TOKEN={}", &*t.session_token);
    println!("# {} until epoch {}", t.session_arn, t.expiration);
    Ok(())
}

/// `list-accounts`: one line per account with its access key ids.
async fn list_accounts(store: &dyn Store) -> anyhow::Result<()> {
    for a in store.list_accounts().await? {
        let keys = store.list_access_keys(&a.id).await?;
        let ids: Vec<&str> = keys.iter().map(|k| k.access_key_id.as_str()).collect();
        println!("{}  {}", a.id, ids.join(" "));
    }
    Ok(())
}

/// `create-access-key`: for an account's root or for a principal; prints
/// the pair as AWS_* variables (the only time the secret is shown).
async fn create_access_key(
    store: &dyn Store,
    hsm: &HsmClient,
    account_id: Option<String>,
    principal: Option<String>,
) -> anyhow::Result<()> {
    let k = match (account_id, principal) {
        (Some(a), _) => admin::create_access_key(store, hsm, &a, None).await?,
        (None, Some(p)) => admin::create_principal_access_key(store, hsm, &p).await?,
        (None, None) => anyhow::bail!("--account-id or --principal is required"),
    };
    println!("AWS_ACCESS_KEY_ID={}", k.access_key_id);
    println!("AWS_SECRET_ACCESS_KEY={}", &*k.secret_access_key);
    Ok(())
}

/// `create-principal`: checks the kind and that only a service has a
/// service name, then creates it.
async fn create_principal(
    store: &dyn Store,
    account_id: &str,
    kind: &str,
    name: &str,
    policy: Option<String>,
    tags: &[String],
    service_name: Option<String>,
) -> anyhow::Result<strongroom_store::PrincipalRecord> {
    let kind = strongroom_store::PrincipalKind::parse(kind)
        .ok_or_else(|| anyhow::anyhow!("--kind must be user, role or service"))?;
    anyhow::ensure!(
        service_name.is_some() == (kind == strongroom_store::PrincipalKind::Service),
        "--service-name is required for, and only for, --kind service"
    );
    Ok(admin::create_principal(
        store,
        account_id,
        kind,
        name,
        policy.map(|p| read_text_arg(&p)).transpose()?,
        admin::parse_tags(tags)?,
        service_name,
    )
    .await?)
}

/// `list-principals`: one line per principal, with its kind, service name
/// and whether it has an identity policy.
async fn list_principals(store: &dyn Store, account_id: &str) -> anyhow::Result<()> {
    for p in store.list_principals(account_id).await? {
        println!(
            "{}  {}{}{}",
            p.arn,
            p.kind.as_str(),
            p.service_name
                .map(|s| format!("  service={s}"))
                .unwrap_or_default(),
            if p.policy.is_some() {
                "  (identity policy)"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// `rewrap`: re-seals everything under an older generation with a progress
/// bar on stderr, then prints what it did and what is left.
async fn rewrap(
    store: &dyn Store,
    hsm: &HsmClient,
    batch: usize,
    pause: Duration,
) -> anyhow::Result<()> {
    let before = crate::rewrap::status(store).await?;
    let total: u64 = before
        .ekts_by_generation
        .values()
        .chain(before.credentials_by_generation.values())
        .sum();
    let done = crate::rewrap::run(store, hsm, batch, pause, |p| {
        eprint!("\r{}", crate::rewrap::bar(p.seen, total))
    })
    .await?;
    eprintln!();
    println!("{}", serde_json::to_string_pretty(&done)?);
    print_rewrap_status(store).await
}

/// `rewrap-status`: what still needs an old generation, as JSON.
async fn print_rewrap_status(store: &dyn Store) -> anyhow::Result<()> {
    println!(
        "{}",
        serde_json::to_string_pretty(&crate::rewrap::status(store).await?)?
    );
    Ok(())
}

/// The store `strongroom admin` opens. Admin has no `--region`: a store
/// from before regions that it happens to open first has its keys put in
/// us-east-1 (docs/formats.md: open it with `serve --region` first).
fn admin_store(url: &Option<String>) -> dev::StoreAt<'_> {
    dev::StoreAt {
        url: url.as_deref(),
        legacy_region: strongroom_store::LEGACY_REGION,
    }
}
