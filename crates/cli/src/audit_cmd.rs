//! `strongroom admin audit query|verify|export|ack|seal-key` over the
//! audit directory's segment files (every frontend's chain; no store), and
//! `strongroom admin usage` from the store. Seals are checked under the
//! keys the security module gives (or the operator pins); `ack` and
//! `seal-key` need the module.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow};
use clap::Subcommand;
use strongroom_audit::{ExportOptions, ExportedHead, Filter, SegmentId, TrustedKeys};
use strongroom_store::Store;

use crate::modules::ExternalModules;

/// `strongroom admin audit ...`.
#[derive(Subcommand, Debug)]
pub enum AuditAction {
    /// Print audit records of every chain merged by time (JSON lines,
    /// oldest first) matching filters.
    Query(QueryArgs),
    /// Check every chain and every sealed footer; exit 1 and name each
    /// problem (gap, fork, edit, bad or untrusted seal, truncation) if one
    /// does not hold. Seals are trusted under the domain's seal keys, asked
    /// of the security module (the in-process one of DATA_DIR, or --hsm),
    /// and under keys pinned with --seal-public-key.
    Verify {
        /// A head published earlier (CHAIN:SEQ:HASH, as verify and export
        /// print them): the chain must still reach it. Repeatable.
        #[arg(long)]
        head: Vec<String>,
        /// Seal keys trusted besides the module's.
        #[command(flatten)]
        trust: SealTrust,
    },
    /// Write sealed segments as gzipped CloudTrail-shaped JSON lines plus
    /// their footers, checking each against its sealed footer first.
    Export {
        /// This segment (CHAIN.N) and the later ones of its chain;
        /// default: every sealed segment of every chain.
        #[arg(long)]
        since: Option<String>,
        /// A directory (one file per segment) or a file (one gzip stream).
        #[arg(long)]
        to: PathBuf,
        /// Seal keys trusted besides the module's.
        #[command(flatten)]
        trust: SealTrust,
    },
    /// Record the receipt for an exported segment: HASH must be the head
    /// hash in its sealed footer (as export printed it). Retention deletes
    /// only acknowledged segments.
    Ack {
        /// The segment (CHAIN.N).
        segment: String,
        /// Its head hash.
        #[arg(long)]
        hash: String,
        /// Seal keys trusted besides the module's.
        #[command(flatten)]
        trust: SealTrust,
    },
    /// Print the domain's audit seal public keys, as the security module
    /// gives them (one per domain-key generation it holds): record them
    /// off the host, to verify exported segments with --seal-public-key.
    SealKey,
}

/// The filters of `strongroom admin audit query`.
#[derive(clap::Args, Debug)]
pub struct QueryArgs {
    /// At or after this time (RFC 3339, e.g. 2026-11-28T10:00:00Z).
    #[arg(long)]
    pub since: Option<String>,
    /// Before this time (RFC 3339).
    #[arg(long)]
    pub until: Option<String>,
    /// Only this principal ARN.
    #[arg(long)]
    pub principal: Option<String>,
    /// Only this account.
    #[arg(long)]
    pub account: Option<String>,
    /// Only this operation (e.g. Decrypt).
    #[arg(long)]
    pub operation: Option<String>,
    /// Only this key (ARN or key id).
    #[arg(long)]
    pub key: Option<String>,
    /// Only failed (denied or erroneous) requests.
    #[arg(long, conflicts_with = "succeeded")]
    pub failed: bool,
    /// Only successful requests.
    #[arg(long)]
    pub succeeded: bool,
    /// Only this chain (a frontend's `fe-…` id).
    #[arg(long)]
    pub chain: Option<String>,
    /// At most this many records.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
}

/// Which seal keys are trusted besides the security module's.
#[derive(clap::Args, Debug, Default)]
pub struct SealTrust {
    /// An Ed25519 audit seal public key (64 hex digits, as `audit
    /// seal-key` prints it) to trust: for exported segments verified
    /// without the module, and for segments sealed under a domain-key
    /// generation the module no longer holds. Repeatable. Without a
    /// module (no --hsm and no in-process module in DATA_DIR), only these
    /// keys (and a legacy HMAC key file named below) are trusted.
    #[arg(long = "seal-public-key")]
    pub seal_public_keys: Vec<String>,
    /// The HMAC footer key file of an earlier version
    /// (`DATA_DIR/audit-footer.key`), to trust what it sealed; a key file
    /// is never trusted for being in the data directory.
    #[arg(long)]
    pub legacy_footer_key: Option<PathBuf>,
}

/// Where each trusted key came from, for the report.
struct Trust {
    keys: TrustedKeys,
    sources: Vec<String>,
}

/// The legacy HMAC key file named in `trust` (if any), the keys pinned in
/// `trust`, and the keys the module (if any) vouches for.
async fn trusted_keys(
    data_dir: &Path,
    modules: &ExternalModules,
    trust: &SealTrust,
) -> anyhow::Result<Trust> {
    let mut keys = crate::audit_setup::legacy_keys(trust.legacy_footer_key.as_deref())?;
    let mut sources = Vec::new();
    if let Some(file) = &trust.legacy_footer_key {
        sources.push(format!("the legacy HMAC footer key {}", file.display()));
    }
    for hex_key in &trust.seal_public_keys {
        let bytes = hex::decode(hex_key.trim())
            .map_err(|_| anyhow!("--seal-public-key {hex_key:?} is not hex"))?;
        let id = keys
            .add_ed25519_bytes(&bytes)
            .map_err(|e| anyhow!("--seal-public-key: {e}"))?;
        sources.push(format!("{id} (pinned)"));
    }
    if !modules.addrs.is_empty() || strongroom_hsm::dev_unseal::exists(data_dir) {
        let hsm = crate::dev::open_modules(data_dir, modules, Some(1))?;
        let from_module = strongroom_server::audit_seal::module_seal_keys(&hsm)
            .await
            .context("asking the security module for the domain's audit seal keys")?;
        for (id, _) in from_module.ed25519_keys() {
            sources.push(format!("{id} (security module)"));
        }
        keys.extend(&from_module);
    } else if keys.is_empty() {
        anyhow::bail!(
            "no security module to ask for the audit seal keys: run on the frontend's data directory, give --hsm and --domain-token, or pin keys with --seal-public-key"
        );
    }
    Ok(Trust { keys, sources })
}

/// Why a footer's untrusted key might look familiar.
fn untrusted_note(dir: &Path, p: &strongroom_audit::Problem) -> Option<String> {
    let strongroom_audit::Problem::UntrustedSeal { sealer, .. } = p else {
        return None;
    };
    strongroom_audit::listed_seal_keys(dir)
        .iter()
        .any(|k| k.id == *sealer)
        .then(|| {
            format!(
                "{sealer} is listed in {} only, which whoever writes the audit directory can write: it is not trusted. Compare it with `admin audit seal-key` (or the keys you recorded) and pin it with --seal-public-key if it is the domain's",
                dir.join(strongroom_audit::SEAL_KEYS_FILE).display()
            )
        })
}

/// Epoch milliseconds of an RFC 3339 time.
pub fn parse_time_ms(s: &str) -> anyhow::Result<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .with_context(|| format!("'{s}' is not an RFC 3339 time like 2026-11-28T10:00:00Z"))?;
    Ok((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Every record in `dir` (all chains, merged by time) as the CloudTrail
/// event of its JSON line (`{"chain","sequence","prevHash","hash","event"}`).
pub fn read_lines(dir: &Path, filter: Filter, region: &str) -> anyhow::Result<Vec<String>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    strongroom_audit::query(dir, filter)?
        .map(|r| Ok(strongroom_audit::event_json(&r?, region)))
        .collect()
}

/// The `awsRegion` of records that name no key (their key's region
/// otherwise).
const DEFAULT_REGION: &str = "us-east-1";

/// Every record's CloudTrail event in `dir`, merged by time (for tests and
/// tools that read the trail).
pub fn read_events(dir: &Path) -> anyhow::Result<Vec<serde_json::Value>> {
    read_lines(dir, Filter::default(), DEFAULT_REGION)?
        .iter()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l)?;
            Ok(v["event"].take())
        })
        .collect()
}

/// Runs an audit action on the audit directory `dir` of `data_dir`, whose
/// security modules are `modules` (none: the in-process one); returns the
/// process exit code.
pub async fn run(
    data_dir: &Path,
    dir: &Path,
    modules: &ExternalModules,
    action: AuditAction,
) -> anyhow::Result<i32> {
    match action {
        AuditAction::Query(args) => query(dir, &args),
        AuditAction::Verify { head, trust } => verify(data_dir, dir, modules, &head, &trust).await,
        AuditAction::Export { since, to, trust } => {
            export(data_dir, dir, modules, since, &to, &trust).await
        }
        AuditAction::Ack {
            segment,
            hash,
            trust,
        } => ack(data_dir, dir, modules, &segment, &hash, &trust).await,
        AuditAction::SealKey => seal_key(data_dir, modules).await,
    }
}

impl QueryArgs {
    /// The audit crate's filter for these arguments (all but the account
    /// and the limit, applied while printing).
    fn filter(&self) -> anyhow::Result<Filter> {
        Ok(Filter {
            since_ms: self.since.as_deref().map(parse_time_ms).transpose()?,
            until_ms: self.until.as_deref().map(parse_time_ms).transpose()?,
            operation: self.operation.clone(),
            key: self.key.clone(),
            principal: self.principal.clone(),
            failed: if self.failed {
                Some(true)
            } else if self.succeeded {
                Some(false)
            } else {
                None
            },
            chain: self
                .chain
                .as_ref()
                .map(|c| c.parse())
                .transpose()
                .map_err(|e| anyhow!("--chain: {e}"))?,
        })
    }
}

/// `query`: the matching records as CloudTrail events, one per line.
fn query(dir: &Path, args: &QueryArgs) -> anyhow::Result<i32> {
    let filter = args.filter()?;
    if !dir.exists() {
        return Ok(0);
    }
    let mut shown = 0;
    for r in strongroom_audit::query(dir, filter)? {
        let r = r?;
        if args
            .account
            .as_ref()
            .is_some_and(|a| r.record.identity.account_id.as_ref() != Some(a))
        {
            continue;
        }
        if shown == args.limit {
            break;
        }
        println!("{}", strongroom_audit::event_json(&r, DEFAULT_REGION));
        shown += 1;
    }
    Ok(0)
}

/// `verify`: every chain against the trusted seal keys (and the given
/// heads), then the legacy store audit; 1 if anything is broken.
async fn verify(
    data_dir: &Path,
    dir: &Path,
    modules: &ExternalModules,
    head: &[String],
    trust: &SealTrust,
) -> anyhow::Result<i32> {
    let heads = head
        .iter()
        .map(|h| h.parse::<ExportedHead>())
        .collect::<Result<Vec<_>, _>>()?;
    if !dir.exists() && heads.is_empty() {
        println!("audit log empty: {} does not exist", dir.display());
        return Ok(0);
    }
    let trust = trusted_keys(data_dir, modules, trust).await?;
    println!("trusting audit seals by: {}", trust.sources.join(", "));
    let report = strongroom_audit::verify_dir(dir, &trust.keys, &heads)?;
    for c in &report.chains {
        print_chain(dir, c);
    }
    let mut intact = report.intact();
    for l in strongroom_server::legacy_audit::verify_legacy(dir, &trust.keys)? {
        match l.result {
            Ok((records, head)) => println!(
                "legacy store audit {} intact: {records} records, head {head}",
                l.file
            ),
            Err(why) => {
                intact = false;
                println!("legacy store audit {} BROKEN: {why}", l.file);
            }
        }
    }
    Ok(if intact { 0 } else { 1 })
}

/// One chain's verdict: intact with its head, or broken with each problem.
fn print_chain(dir: &Path, c: &strongroom_audit::ChainReport) {
    let head = ExportedHead {
        chain: c.chain.clone(),
        seq: c.last_seq,
        hash: c.head,
    };
    let legacy = match c.legacy_sealed {
        0 => String::new(),
        n => format!(" ({n} footers with a legacy HMAC seal)"),
    };
    let unsealed = match c.unsealed_records {
        0 => String::new(),
        n => format!(
            "; the newest {n} records are in the open segment, which no seal covers yet (check them against a head exported earlier)"
        ),
    };
    if c.problems.is_empty() {
        println!(
            "audit chain {} intact: {} records in {} segments ({} retired), head {head}{legacy}{unsealed}",
            c.chain, c.records, c.segments, c.retired
        );
    } else {
        println!("audit chain {} BROKEN:", c.chain);
        for p in &c.problems {
            println!("  {p}");
            if let Some(note) = untrusted_note(dir, p) {
                println!("    {note}");
            }
        }
    }
    for n in &c.notes {
        println!("  note: {n}");
    }
}

/// `export`: sealed segments (from `since`) to `to`, each checked first.
async fn export(
    data_dir: &Path,
    dir: &Path,
    modules: &ExternalModules,
    since: Option<String>,
    to: &Path,
    trust: &SealTrust,
) -> anyhow::Result<i32> {
    let trust = trusted_keys(data_dir, modules, trust).await?;
    let options = ExportOptions {
        region: DEFAULT_REGION.into(),
        chain: None,
        since: since
            .map(|s| s.parse::<SegmentId>())
            .transpose()
            .map_err(|e| anyhow!("--since: {e}"))?,
    };
    let done = strongroom_audit::export(dir, to, &options, &trust.keys)?;
    for e in &done {
        println!(
            "{}  {} records  head {}  {}",
            e.id,
            e.records,
            hex::encode(e.head),
            e.path.display()
        );
    }
    Ok(0)
}

/// `ack`: records the receipt for an exported segment, sealed by the module.
async fn ack(
    data_dir: &Path,
    dir: &Path,
    modules: &ExternalModules,
    segment: &str,
    hash: &str,
    trust: &SealTrust,
) -> anyhow::Result<i32> {
    let id: SegmentId = segment.parse().map_err(|e| anyhow!("{e}"))?;
    // The receipt is sealed by the module: ack needs one.
    let hsm = crate::dev::open_modules(data_dir, modules, Some(1))?;
    let sealer = crate::audit_setup::sealer(dir, &hsm, trust.legacy_footer_key.as_deref()).await?;
    let mut trusted = trusted_keys(data_dir, modules, trust).await?.keys;
    let (dir, hash) = (dir.to_path_buf(), hash.to_string());
    // Sealing waits for the module: not on an async task.
    let r = tokio::task::spawn_blocking(move || {
        trusted.extend(&strongroom_audit::FooterSealer::trusted(sealer.as_ref()));
        strongroom_audit::acknowledge(&dir, &id, &hash, sealer.as_ref(), &trusted, now_ms())
            .map(|r| (id, r))
    })
    .await??;
    println!("{} acknowledged: head {}", r.0, r.1.hash);
    Ok(0)
}

/// `seal-key`: the domain's audit seal public keys, one per generation.
async fn seal_key(data_dir: &Path, modules: &ExternalModules) -> anyhow::Result<i32> {
    let hsm = crate::dev::open_modules(data_dir, modules, Some(1))?;
    for k in hsm.audit_seal_keys().await? {
        let mut one = TrustedKeys::default();
        let id = one
            .add_ed25519_bytes(&k.public_key)
            .map_err(|e| anyhow!("{e}"))?;
        println!(
            "{id}  generation {}  public key {}",
            k.generation,
            hex::encode(&k.public_key)
        );
    }
    Ok(0)
}

/// The region of the record's first key ARN (records do not carry one).
/// `strongroom admin usage`: hourly counters, as a table or JSON.
pub async fn usage(
    store: Arc<dyn Store>,
    audit_dir: &Path,
    account: Option<&str>,
    since: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    let since_hour = match since {
        Some(s) => parse_time_ms(s)?.div_euclid(3_600_000) * 3600,
        None => 0,
    };
    // The store's counters plus what the log committed since the last
    // flush: exact for every committed record.
    let rows =
        strongroom_server::metering::exact_usage(store, audit_dir, account, since_hour).await?;
    let hour = |h: i64| {
        time::OffsetDateTime::from_unix_timestamp(h)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default()
    };
    if json {
        let v: Vec<_> = rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "account": r.account_id, "hour": hour(r.hour), "operation": r.operation,
                    "key": r.key_id, "requests": r.count,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        println!(
            "{:<12}  {:<20}  {:<32}  {:<36}  {:>10}",
            "ACCOUNT", "HOUR", "OPERATION", "KEY", "REQUESTS"
        );
        for r in &rows {
            println!(
                "{:<12}  {:<20}  {:<32}  {:<36}  {:>10}",
                r.account_id,
                hour(r.hour),
                r.operation,
                r.key_id,
                r.count
            );
        }
    }
    Ok(())
}
