//! `object-store`: the example data service (see README.md here).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use zeroize::Zeroizing;

/// An object store that encrypts every object with a data key from
/// Strongroom, obtained with the customer's authentication proof.
#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9000")]
    listen: SocketAddr,
    /// Where objects are kept (encrypted).
    #[arg(long, default_value = "./object-store-data")]
    data_dir: PathBuf,
    /// Strongroom's endpoint.
    #[arg(long, env = "AWS_ENDPOINT_URL_KMS")]
    kms_endpoint: String,
    /// Region.
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    region: String,
    /// The service principal's access key id.
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    access_key_id: String,
    /// Its secret.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_access_key: String,
    /// The KMS key (ARN) objects are encrypted under by default.
    #[arg(long)]
    key_id: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let a = Args::parse();
    let running = strongroom_example_object_store::start(strongroom_example_object_store::Config {
        listen: a.listen,
        data_dir: a.data_dir,
        kms_endpoint: a.kms_endpoint,
        region: a.region,
        access_key_id: a.access_key_id,
        secret_access_key: Zeroizing::new(a.secret_access_key),
        default_key_id: a.key_id,
    })
    .await?;
    println!("object store listening on http://{}", running.addr);
    tokio::signal::ctrl_c().await?;
    running.shutdown().await;
    Ok(())
}
