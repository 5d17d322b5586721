//! `strongroom-hsm`: the security module daemon.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use strongroom_hsm::{Module, ModuleConfig, hardening, server};
use strongroom_hsm_proto::ModuleHandler;
use strongroom_hsm_proto::net::{ModuleAddr, module_tls_config};
use tokio::sync::{mpsc, watch};

/// A Strongroom security module: holds domain and customer keys in locked
/// memory and answers hosts over mutually authenticated TLS.
#[derive(Parser, Debug)]
#[command(name = "strongroom-hsm", version)]
struct Args {
    /// Where to listen: HOST:PORT (port 0 picks one) or unix:PATH.
    #[arg(long, default_value = "127.0.0.1:7400")]
    listen: String,
    /// Directory for the module log and the local sealed store.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Tamper sensor: erase everything when this file appears.
    #[arg(long)]
    tamper_file: Option<PathBuf>,
    /// Backing keys kept in the vault.
    #[arg(long, default_value_t = 4096)]
    vault_capacity: usize,
    /// Friendly name until an operator sets one.
    #[arg(long, default_value = "strongroom-hsm")]
    friendly_name: String,
    /// A placement tag, KEY=VALUE (e.g. region=eu); keys created with
    /// `ModuleGroup` KEY=VALUE are served only by modules carrying it.
    /// Repeatable; part of the attested configuration.
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Connections served at once; further ones are closed on accept.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Seconds a peer has to complete the TLS handshake.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    handshake_timeout_secs: u64,
    /// Seconds a peer has to complete a frame once it has started one.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    frame_timeout_secs: u64,
    /// Seconds after which a connection with nothing sent and nothing owed
    /// is closed (hosts reconnect on demand).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_secs: u64,
    /// Worker threads for private-key operations (Sign, AsymmetricDecrypt,
    /// DeriveSharedSecret, data key pairs); default: one per core. State
    /// changes and symmetric work stay on the module's own thread.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1024))]
    workers: Option<u32>,
}

fn measurement(args: &Args) -> Result<Vec<u8>> {
    let exe = std::fs::read(std::env::current_exe()?).context("reading own executable")?;
    let mut m = exe;
    // The configuration that changes behaviour (not per-instance paths).
    m.extend_from_slice(
        format!(
            "\nvault_capacity={}\ntamper_file={}\ntags={}\n",
            args.vault_capacity,
            args.tamper_file.is_some(),
            args.tags.join(",")
        )
        .as_bytes(),
    );
    Ok(strongroom_crypto::sha384(&m).to_vec())
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let hardening = hardening::harden();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run(args, hardening))
}

async fn run(args: Args, hardening: hardening::Hardening) -> Result<()> {
    let addr: ModuleAddr = args.listen.parse().map_err(anyhow::Error::msg)?;
    let config = module_config(&args)?;
    let workers = config.workers;
    let module = Module::start(config)?;
    let tls_config = Arc::new(RwLock::new(module_tls_config(module.identity_key())?));
    let (changed_tx, changed_rx) = watch::channel(0u64);
    let (tx, rx) = mpsc::channel::<server::ModuleRequest>(4096);
    let listed = server::ListedHosts::default();
    listed.replace(module.listed_hosts());
    let shared = server::Shared {
        tls: server::TlsState {
            config: tls_config.clone(),
            changed: changed_rx,
        },
        module: tx,
        listed: listed.clone(),
        limits: Arc::new(server::NetLimits {
            max_connections: args.max_connections as usize,
            handshake_timeout: Duration::from_secs(args.handshake_timeout_secs),
            frame_timeout: Duration::from_secs(args.frame_timeout_secs),
            idle_timeout: Duration::from_secs(args.idle_timeout_secs),
        }),
        stranger_slots: server::ConnectionSlots::new(server::STRANGER_CONNECTIONS),
    };
    let slots = server::ConnectionSlots::new(args.max_connections as usize);
    let bound = listen(&addr, shared, slots).await?;
    let (tamper_tx, tamper_rx) = mpsc::channel::<String>(4);
    spawn_sensors(args.tamper_file.clone(), tamper_tx)?;
    // The start-up line: what an operator needs to enrol this module.
    let status = module.status();
    println!(
        "{}",
        serde_json::json!({
            "module_id": status.module_id,
            "listen": bound,
            "signing_key": hex::encode(&status.signing_key),
            "agreement_key": hex::encode(&status.agreement_key),
            "mode": status.mode,
            "hardening": hardening,
            "vault_memory_locked": status.memory_locked,
            "workers": workers,
        })
    );
    let identity = Identity {
        tls: tls_config,
        changed: changed_tx,
    };
    serve(module, rx, tamper_rx, &listed, identity).await
}

/// The module's settings from the command line.
fn module_config(args: &Args) -> Result<ModuleConfig> {
    let config = ModuleConfig {
        vault_capacity: args.vault_capacity,
        state_dir: args.state_dir.clone(),
        measurement: measurement(args)?,
        friendly_name: args.friendly_name.clone(),
        tags: args.tags.clone(),
        workers: args
            .workers
            .map_or_else(strongroom_hsm::default_workers, |n| n as usize),
    };
    if let Some(bad) = config.tags.iter().find(|t| !t.contains('=')) {
        anyhow::bail!("--tag {bad}: expected KEY=VALUE");
    }
    Ok(config)
}

/// Binds `addr` and accepts connections on it, each within a slot;
/// returns the address bound, as the start-up line names it.
async fn listen(
    addr: &ModuleAddr,
    shared: server::Shared,
    slots: server::ConnectionSlots,
) -> Result<String> {
    Ok(match addr {
        ModuleAddr::Tcp(a) => {
            let l = tokio::net::TcpListener::bind(a)
                .await
                .with_context(|| format!("binding {a}"))?;
            let local = l.local_addr()?.to_string();
            tokio::spawn(async move {
                while let Ok((s, _)) = l.accept().await {
                    let Some(slot) = slots.admit() else { continue };
                    let _ = s.set_nodelay(true);
                    tokio::spawn(server::serve_connection(s, shared.clone(), slot));
                }
            });
            local
        }
        ModuleAddr::Unix(p) => {
            let _ = std::fs::remove_file(p);
            let l = tokio::net::UnixListener::bind(p)
                .with_context(|| format!("binding {}", p.display()))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600))?;
            tokio::spawn(async move {
                while let Ok((s, _)) = l.accept().await {
                    let Some(slot) = slots.admit() else { continue };
                    tokio::spawn(server::serve_connection(s, shared.clone(), slot));
                }
            });
            format!("unix:{}", p.display())
        }
    })
}

/// The module's TLS identity as connections see it, and the signal that
/// it changed.
struct Identity {
    tls: Arc<RwLock<Arc<rustls::ServerConfig>>>,
    changed: watch::Sender<u64>,
}

/// Answers requests and tamper events until every connection's sender is
/// gone; a new module identity replaces the TLS key and closes the
/// connections made under the old one.
async fn serve(
    mut module: Module,
    mut rx: mpsc::Receiver<server::ModuleRequest>,
    mut tamper_rx: mpsc::Receiver<String>,
    listed: &server::ListedHosts,
    tls: Identity,
) -> Result<()> {
    let mut identity = module.id();
    let mut generation = 0u64;
    loop {
        tokio::select! {
            biased;
            Some(reason) = tamper_rx.recv() => {
                let cert = module.erase(&reason);
                eprintln!("TAMPER: {reason}; all keys erased; certificate {}", hex::encode(strongroom_crypto::sha384(&cert.body)));
                listed.replace(module.listed_hosts());
            }
            envelope = rx.recv() => {
                let Some(envelope) = envelope else { break };
                answer(&mut module, envelope, listed);
            }
        }
        if module.id() != identity {
            identity = module.id();
            *tls.tls.write().expect("tls lock") = module_tls_config(module.identity_key())?;
            generation += 1;
            let _ = tls.changed.send(generation);
        }
    }
    Ok(())
}

/// Hands one request to the module.
fn answer(module: &mut Module, envelope: server::ModuleRequest, listed: &server::ListedHosts) {
    let (caller, request, reply) = envelope;
    if matches!(request, strongroom_hsm_proto::Request::Command(_)) {
        // Domains, and so the hosts they list, change only by command: the
        // hosts are in place before its answer leaves, so a host the
        // command lists is never refused by a request sent after that
        // answer.
        let (answered, answer) = tokio::sync::oneshot::channel();
        module.dispatch(
            &caller,
            request,
            Box::new(move |a| {
                let _ = answered.send(a);
            }),
        );
        listed.replace(module.listed_hosts());
        tokio::spawn(async move {
            if let Ok(a) = answer.await {
                reply.send(a);
            }
        });
    } else {
        // Private-key work is answered later, from a worker.
        module.dispatch(&caller, request, Box::new(move |answer| reply.send(answer)));
    }
}

fn spawn_sensors(tamper_file: Option<PathBuf>, tx: mpsc::Sender<String>) -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let t = tx.clone();
    tokio::spawn(async move {
        while usr1.recv().await.is_some() {
            let _ = t.send("tamper signal SIGUSR1".into()).await;
        }
    });
    if let Some(path) = tamper_file {
        tokio::spawn(async move {
            let mut armed = true;
            loop {
                let present = path.exists();
                if present && armed {
                    let _ = tx
                        .send(format!("tamper sentinel {} appeared", path.display()))
                        .await;
                }
                armed = !present;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    }
    Ok(())
}
