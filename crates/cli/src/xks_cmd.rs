//! `strongroom admin xks`: external key stores for AWS KMS (docs/xks.md).

use clap::Subcommand;
use strongroom_hsm_proto::HsmClient;
use strongroom_server::xks::{admin, path};
use strongroom_store::Store;

/// `strongroom admin xks ...`.
#[derive(Subcommand)]
pub enum XksAction {
    /// Create an external key store in an account, with its first
    /// credential; prints XKS_URI_PREFIX, XKS_PRINCIPAL_ARN,
    /// XKS_ACCESS_KEY_ID and XKS_SECRET_ACCESS_KEY (shown only now).
    CreateKeystore {
        /// The 12-digit account that owns the key store.
        #[arg(long)]
        account_id: String,
        /// The key store's URI path prefix (`/keystores/a`): AWS KMS's
        /// XksProxyUriPath is this followed by /kms/xks/v1.
        #[arg(long)]
        uri_prefix: String,
    },
    /// Add a credential to a key store (to rotate: add, update AWS KMS,
    /// then revoke the old one).
    AddCredential {
        /// The key store's URI path prefix.
        #[arg(long)]
        uri_prefix: String,
    },
    /// Revoke a credential of a key store (effective within 5 seconds).
    RevokeCredential {
        /// The key store's URI path prefix.
        #[arg(long)]
        uri_prefix: String,
        /// The credential's access key id, as create-keystore or
        /// add-credential printed it.
        #[arg(long)]
        access_key_id: String,
    },
    /// List key stores and their credentials.
    List,
}

/// Runs an `admin xks` action.
pub async fn run(store: &dyn Store, hsm: &HsmClient, action: XksAction) -> anyhow::Result<()> {
    match action {
        XksAction::CreateKeystore {
            account_id,
            uri_prefix,
        } => {
            let (ks, key) = admin::create_keystore(store, hsm, &account_id, &uri_prefix).await?;
            println!("XKS_URI_PREFIX={}", ks.prefix);
            println!("XKS_PRINCIPAL_ARN={}", ks.arn);
            println!("XKS_ACCESS_KEY_ID={}", key.access_key_id);
            println!("XKS_SECRET_ACCESS_KEY={}", &*key.secret_access_key);
        }
        XksAction::AddCredential { uri_prefix } => {
            let key = admin::add_credential(store, hsm, &uri_prefix).await?;
            println!("XKS_ACCESS_KEY_ID={}", key.access_key_id);
            println!("XKS_SECRET_ACCESS_KEY={}", &*key.secret_access_key);
        }
        XksAction::RevokeCredential {
            uri_prefix,
            access_key_id,
        } => {
            admin::revoke_credential(store, &uri_prefix, &access_key_id).await?;
            println!("revoked {access_key_id}");
        }
        XksAction::List => {
            for (ks, creds) in admin::list(store).await? {
                println!(
                    "{}{}  {}  {}",
                    ks.prefix,
                    path::API_ROOT,
                    ks.account_id,
                    ks.arn
                );
                for c in creds {
                    println!(
                        "  {}  {}  created {}",
                        c.access_key_id,
                        if c.live { "live" } else { "revoked" },
                        c.created_at
                    );
                }
            }
        }
    }
    Ok(())
}
