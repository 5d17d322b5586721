//! Where a frontend's audit log lives and how it is written: the audit
//! directory, the chain id (from the host key), the sealer (the security
//! module) and the legacy footer key, and the `--audit-*` flags shared by
//! `dev` and `serve`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow};
use strongroom_audit::{ChainId, Durability, RollPolicy, SyncGather, TrustedKeys};
use strongroom_hsm_proto::HsmClient;
use strongroom_server::audit::AuditConfig;
use strongroom_server::audit_seal::ModuleSealer;
use zeroize::Zeroizing;

/// The HMAC footer key file of earlier versions (never created again:
/// footers are sealed by the module). It is trusted only when the operator
/// names it (`--audit-legacy-footer-key`, `--legacy-footer-key`), never for
/// being in the data directory: whoever writes that directory could plant
/// one and seal receipts and footers with it.
pub const LEGACY_FOOTER_KEY_FILE: &str = "audit-footer.key";

/// How the audit log is written (`--audit-*` of `dev` and `serve`).
#[derive(Debug, Clone, clap::Args)]
pub struct AuditArgs {
    /// Directory of the audit segment files (default: DATA_DIR/audit).
    #[arg(long)]
    pub audit_dir: Option<PathBuf>,
    /// When a request is answered: `sync` (after fdatasync; default for
    /// serve), `group-ms=N` (after the batch closing within N ms is
    /// synced), `buffered` (after the write reaches the OS; default for
    /// dev: a power loss can lose the last records).
    #[arg(long)]
    pub audit_durability: Option<String>,
    /// In `sync` mode under load (a batch of 8 or more records, or the
    /// batch after one), how long (µs) the writer waits for more records,
    /// up to 32, before its fdatasync (0: never). Fewer, fuller syncs:
    /// each rewrites the last partly filled page.
    #[arg(long, default_value_t = 400)]
    pub audit_sync_gather_us: u64,
    /// Close (and seal) a segment once it holds this many bytes.
    #[arg(long, default_value_t = RollPolicy::default().max_bytes)]
    pub audit_segment_bytes: u64,
    /// Close (and seal) a segment with records once it is this many seconds old.
    #[arg(long, default_value_t = RollPolicy::default().max_age.as_secs())]
    pub audit_segment_age_secs: u64,
    /// Delete acknowledged segments (`admin audit ack`) older than this
    /// many days; without it nothing is ever deleted.
    #[arg(long)]
    pub audit_retain_days: Option<u32>,
    /// This frontend's chain id (default: `fe-` and its host key's
    /// fingerprint); frontends sharing a data directory need distinct ones.
    #[arg(long)]
    pub audit_chain: Option<String>,
    /// The HMAC footer key file of an earlier version
    /// (`DATA_DIR/audit-footer.key`), to trust the footers and receipts it
    /// sealed while migrating (docs/audit.md); never trusted unless named.
    #[arg(long)]
    pub audit_legacy_footer_key: Option<PathBuf>,
}

impl Default for AuditArgs {
    fn default() -> Self {
        Self {
            audit_dir: None,
            audit_durability: None,
            audit_sync_gather_us: 400,
            audit_segment_bytes: RollPolicy::default().max_bytes,
            audit_segment_age_secs: RollPolicy::default().max_age.as_secs(),
            audit_retain_days: None,
            audit_chain: None,
            audit_legacy_footer_key: None,
        }
    }
}

/// The audit directory of `data_dir` (or the one configured).
pub fn audit_dir(data_dir: &Path, configured: Option<&Path>) -> PathBuf {
    configured.map_or_else(|| data_dir.join("audit"), Path::to_path_buf)
}

/// This frontend's chain: `fe-` and the host key's fingerprint (the host
/// key is made on first use, also by `dev`, which otherwise needs none).
pub fn chain_id(data_dir: &Path) -> anyhow::Result<ChainId> {
    let key = crate::modules::host_key(data_dir)?;
    let id = format!("fe-{}", crate::files::fingerprint(key.public_key()));
    ChainId::new(&id).map_err(|e| anyhow!("{e}"))
}

/// The legacy HMAC footer key in the file the operator named, if any:
/// trusted only to verify the footers, receipts and legacy files earlier
/// versions sealed with it ("legacy HMAC seal").
pub fn legacy_keys(named: Option<&Path>) -> anyhow::Result<TrustedKeys> {
    let mut keys = TrustedKeys::default();
    let Some(path) = named else {
        return Ok(keys);
    };
    let k =
        Zeroizing::new(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?);
    if k.len() != 32 {
        anyhow::bail!("{} is not a 32-byte key", path.display());
    }
    keys.add_legacy_hmac(&k);
    Ok(keys)
}

/// The sealer of a frontend whose audit directory is `dir`: its security
/// module (through `hsm`), trusting the named legacy key file too.
pub async fn sealer(
    dir: &Path,
    hsm: &HsmClient,
    legacy_key_file: Option<&Path>,
) -> anyhow::Result<Arc<ModuleSealer>> {
    Ok(ModuleSealer::connect(
        hsm.clone(),
        dir.to_path_buf(),
        legacy_keys(legacy_key_file)?,
    )
    .await)
}

/// The audit configuration of a frontend over `data_dir`, sealing with
/// the security module `hsm`.
pub async fn config(
    data_dir: &Path,
    args: &AuditArgs,
    default_durability: Durability,
    context_values: bool,
    hsm: &HsmClient,
) -> anyhow::Result<AuditConfig> {
    let durability = match &args.audit_durability {
        Some(d) => d.parse().map_err(|e| anyhow!("--audit-durability: {e}"))?,
        None => default_durability,
    };
    let dir = audit_dir(data_dir, args.audit_dir.as_deref());
    Ok(AuditConfig {
        sealer: sealer(&dir, hsm, args.audit_legacy_footer_key.as_deref()).await?,
        dir,
        chain: match &args.audit_chain {
            Some(c) => ChainId::new(c).map_err(|e| anyhow!("--audit-chain: {e}"))?,
            None => chain_id(data_dir)?,
        },
        durability,
        roll: RollPolicy {
            max_bytes: args.audit_segment_bytes.max(4096),
            max_age: Duration::from_secs(args.audit_segment_age_secs.max(1)),
        },
        context_values,
        retain_days: args.audit_retain_days,
        sync_gather: SyncGather::with_max_wait_us(args.audit_sync_gather_us),
    })
}

/// The startup line naming where the audit log goes and how durable an
/// answered request's record is.
pub fn startup_line(c: &AuditConfig) -> String {
    let promise = match c.durability {
        Durability::Sync => "answers after fdatasync".to_string(),
        Durability::GroupMs(n) => format!("answers after fdatasync of batches of up to {n} ms"),
        Durability::Buffered => {
            "answers once records reach the OS: a power loss can lose the last records".to_string()
        }
    };
    format!(
        "audit log {} (chain {}), durability {} ({promise})",
        c.dir.display(),
        c.chain,
        c.durability
    )
}
