//! `strongroom kms …`: everyday key operations against an endpoint, and
//! the extension helpers (shred, revoke, offline verify-shred).

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use strongroom_cli::{client, kms};
use zeroize::Zeroizing;

/// Where to send requests and how to sign them (the usual AWS variables).
#[derive(clap::Args)]
pub struct Endpoint {
    /// Endpoint URL.
    #[arg(long, env = "AWS_ENDPOINT_URL_KMS")]
    pub endpoint: String,
    /// Region to sign for.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    pub access_key_id: String,
    /// Secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_access_key: String,
    /// Extra CA bundle (PEM) to trust.
    #[arg(long, env = "AWS_CA_BUNDLE")]
    pub ca_bundle: Option<PathBuf>,
}

/// Like [`Endpoint`], but optional, for `kms` actions that work offline.
#[derive(clap::Args)]
pub struct EndpointArgs {
    /// Endpoint URL.
    #[arg(long, env = "AWS_ENDPOINT_URL_KMS")]
    pub endpoint: Option<String>,
    /// Region to sign for.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    pub access_key_id: Option<String>,
    /// Secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub secret_access_key: Option<String>,
    /// Extra CA bundle (PEM) to trust.
    #[arg(long, env = "AWS_CA_BUNDLE")]
    pub ca_bundle: Option<PathBuf>,
}

impl EndpointArgs {
    pub fn required(self) -> anyhow::Result<Endpoint> {
        let missing =
            |what: &str| anyhow::anyhow!("{what} is required (or set the AWS_* variable)");
        Ok(Endpoint {
            endpoint: self.endpoint.ok_or_else(|| missing("--endpoint"))?,
            region: self.region,
            access_key_id: self
                .access_key_id
                .ok_or_else(|| missing("--access-key-id"))?,
            secret_access_key: self
                .secret_access_key
                .ok_or_else(|| missing("--secret-access-key"))?,
            ca_bundle: self.ca_bundle,
        })
    }
}

impl Endpoint {
    pub fn client(&self) -> anyhow::Result<client::KmsHttpClient> {
        client::KmsHttpClient::new(
            &self.endpoint,
            &self.region,
            &self.access_key_id,
            Zeroizing::new(self.secret_access_key.clone()),
            self.ca_bundle.as_ref(),
        )
    }
}

#[derive(Subcommand)]
pub enum KmsAction {
    /// Create a symmetric key and print its ARN.
    CreateKey {
        #[arg(long)]
        description: Option<String>,
        /// Key policy (JSON text, or @FILE).
        #[arg(long)]
        policy: Option<String>,
    },
    /// Print the ARN of every key of the account.
    ListKeys,
    /// Print a key's metadata as JSON.
    DescribeKey {
        #[arg(long)]
        key_id: String,
    },
    /// Encrypt up to 4096 bytes; writes the raw ciphertext blob.
    Encrypt {
        /// Key id, key ARN, alias name or alias ARN.
        #[arg(long)]
        key_id: String,
        /// Encryption context entry, key=value (repeatable).
        #[arg(long = "context")]
        context: Vec<String>,
        /// Plaintext file, or - for standard input.
        #[arg(long = "in", default_value = "-")]
        input: PathBuf,
        /// Ciphertext file, or - for standard output.
        #[arg(long = "out", default_value = "-")]
        output: PathBuf,
    },
    /// Extension: crypto-shred a key now; writes the shred certificate.
    Shred {
        #[arg(long)]
        key_id: String,
        /// Certificate file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Extension: revoke a key (unusable for ever).
    Revoke {
        #[arg(long)]
        key_id: String,
    },
    /// Check a shred certificate's module signatures (offline).
    VerifyShred {
        /// Certificate file.
        certificate: PathBuf,
        /// Domain token: also require each signer to be a member.
        #[arg(long)]
        domain_token: Option<PathBuf>,
    },
    /// Decrypt a raw ciphertext blob.
    Decrypt {
        /// Require this key (optional: the blob names its key).
        #[arg(long)]
        key_id: Option<String>,
        /// Encryption context entry, key=value (repeatable).
        #[arg(long = "context")]
        context: Vec<String>,
        /// Ciphertext file, or - for standard input.
        #[arg(long = "in", default_value = "-")]
        input: PathBuf,
        /// Plaintext file, or - for standard output.
        #[arg(long = "out", default_value = "-")]
        output: PathBuf,
    },
}

/// Runs one `kms` action.
pub async fn run(endpoint: EndpointArgs, action: KmsAction) -> anyhow::Result<()> {
    if let KmsAction::VerifyShred {
        certificate,
        domain_token,
    } = &action
    {
        // Offline: no endpoint or credentials needed.
        let cert: serde_json::Value = serde_json::from_slice(&std::fs::read(certificate)?)
            .with_context(|| format!("{}: not JSON", certificate.display()))?;
        let token = domain_token
            .as_ref()
            .map(|p| strongroom_cli::operator::read_token(p))
            .transpose()?;
        let report = kms::verify_shred(&cert, token.as_ref().map(|(_, b)| &b.members[..]))?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    let c = endpoint.required()?.client()?;
    match action {
        KmsAction::VerifyShred { .. } => {}
        KmsAction::Shred { key_id, out } => {
            let cert = serde_json::to_string_pretty(&kms::shred(&c, &key_id).await?)?;
            match out {
                Some(p) => std::fs::write(&p, cert)?,
                None => println!("{cert}"),
            }
        }
        KmsAction::Revoke { key_id } => kms::revoke(&c, &key_id).await?,
        KmsAction::CreateKey {
            description,
            policy,
        } => {
            let policy = match policy.as_deref().map(|p| p.strip_prefix('@').ok_or(p)) {
                Some(Ok(path)) => Some(std::fs::read_to_string(path)?),
                Some(Err(text)) => Some(text.to_string()),
                None => None,
            };
            println!(
                "{}",
                kms::create_key(&c, description.as_deref(), policy.as_deref()).await?
            )
        }
        KmsAction::ListKeys => {
            for arn in kms::list_keys(&c).await? {
                println!("{arn}");
            }
        }
        KmsAction::DescribeKey { key_id } => {
            println!(
                "{}",
                serde_json::to_string_pretty(&kms::describe_key(&c, &key_id).await?)?
            )
        }
        KmsAction::Encrypt {
            key_id,
            context,
            input,
            output,
        } => {
            let ctx = kms::parse_context(&context)?;
            let plain = kms::read_input(&input)?;
            kms::write_output(&output, &kms::encrypt(&c, &key_id, &ctx, &plain).await?)?;
        }
        KmsAction::Decrypt {
            key_id,
            context,
            input,
            output,
        } => {
            let ctx = kms::parse_context(&context)?;
            let blob = kms::read_input(&input)?;
            kms::write_output(
                &output,
                &kms::decrypt(&c, key_id.as_deref(), &ctx, &blob).await?,
            )?;
        }
    }
    Ok(())
}
