//! `audit-load`: appends records to a chain under load and prints one line
//! per answer, flushed as it happens: `ok <seq> <request id>` once a record
//! is durable (as the mode says), `err <request id> <error>` when it is not;
//! and, when it ends by itself, `observed <n>`: the records its
//! `CommitObserver` was told of.
//! The crash-safety and disk-full tests run it as a child process and kill
//! it; it is also a quick way to watch the log's behaviour by hand.
//!
//! Usage: audit-load --dir DIR --chain ID [--durability MODE]
//!   [--records N] [--concurrency N] [--segment-bytes N] [--key SEED_HEX]
//!   [--prefix P] [--fsize-limit BYTES --relief-after-errors N]
//! `--fsize-limit` sets this process's file size limit (RLIMIT_FSIZE,
//! SIGXFSZ must be ignored by the parent shell) so appends fail like on a
//! full disk; after N failed appends the limit is lifted ("space returns").

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use strongroom_audit::{
    AuditRecord, AuditWriter, ChainId, CommitObserver, Committed, Durability, Identity,
    InProcessSealer, LogConfig,
};

/// Counts committed records, as usage metering would.
#[derive(Default)]
struct Counter(AtomicU64);

impl CommitObserver for Counter {
    fn committed(&self, records: &[AuditRecord], _: &[Committed]) {
        self.0.fetch_add(records.len() as u64, Ordering::Relaxed);
    }
}

struct Args {
    dir: String,
    chain: String,
    durability: Durability,
    records: u64,
    concurrency: u64,
    segment_bytes: u64,
    key: Vec<u8>,
    prefix: String,
    fsize_limit: Option<u64>,
    relief_after_errors: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        dir: String::new(),
        chain: String::new(),
        durability: Durability::Sync,
        records: u64::MAX,
        concurrency: 16,
        segment_bytes: 32 << 20,
        key: vec![0x5e; 32],
        prefix: "r".into(),
        fsize_limit: None,
        relief_after_errors: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--dir" => a.dir = v,
            "--chain" => a.chain = v,
            "--durability" => a.durability = v.parse().map_err(|e| format!("{e}"))?,
            "--records" => a.records = num(&v)?,
            "--concurrency" => a.concurrency = num(&v)?.max(1),
            "--segment-bytes" => a.segment_bytes = num(&v)?,
            "--key" => a.key = hex::decode(&v).map_err(|e| format!("--key: {e}"))?,
            "--prefix" => a.prefix = v,
            "--fsize-limit" => a.fsize_limit = Some(num(&v)?),
            "--relief-after-errors" => a.relief_after_errors = num(&v)?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if a.dir.is_empty() || a.chain.is_empty() {
        return Err("--dir and --chain are required".into());
    }
    Ok(a)
}

fn set_fsize(limit: Option<u64>) -> Result<(), String> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let hard = getrlimit(Resource::Fsize).maximum;
    setrlimit(
        Resource::Fsize,
        Rlimit {
            current: limit,
            maximum: hard,
        },
    )
    .map_err(|e| format!("setrlimit: {e}"))
}

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn record(id: String) -> AuditRecord {
    AuditRecord {
        time_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0),
        request_id: id,
        operation: "Encrypt".into(),
        identity: Identity {
            kind: "Root".into(),
            arn: Some("arn:aws:iam::111122223333:root".into()),
            account_id: Some("111122223333".into()),
            access_key_id: Some("AKIAIOSFODNN7EXAMPLE".into()),
            invoked_by: None,
        },
        source_ip: Some([127, 0, 0, 1].into()),
        user_agent: Some("audit-load".into()),
        key_arns: vec![
            "arn:aws:kms:us-east-1:111122223333:key/6f0c8a1e-2b3d-4e5f-8a9b-0c1d2e3f4a5b".into(),
        ],
        ..Default::default()
    }
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("audit-load: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(args) {
        eprintln!("audit-load: {e}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<(), String> {
    let chain = ChainId::new(&args.chain).map_err(|e| e.to_string())?;
    let mut config = LogConfig::new(&args.dir, chain);
    config.durability = args.durability;
    config.roll.max_bytes = args.segment_bytes;
    let seed: [u8; 32] = args
        .key
        .as_slice()
        .try_into()
        .map_err(|_| "--key is a 32-byte seed (64 hex digits)".to_string())?;
    let sealer = Arc::new(InProcessSealer::from_seed(seed).map_err(|e| e.to_string())?);
    let counter = Arc::new(Counter::default());
    let (writer, report) = AuditWriter::open_observed(config, sealer, Some(counter.clone()))
        .map_err(|e| e.to_string())?;
    eprintln!("audit-load: recovered {report:?}");
    if args.fsize_limit.is_some() {
        set_fsize(args.fsize_limit)?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?;
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    rt.block_on(async {
        let mut tasks = Vec::new();
        for _ in 0..args.concurrency {
            let appender = writer.appender();
            let (next, errors) = (next.clone(), errors.clone());
            let (prefix, records) = (args.prefix.clone(), args.records);
            let relief = args.fsize_limit.map(|_| args.relief_after_errors);
            tasks.push(tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= records {
                        return;
                    }
                    let id = format!("{prefix}-{n}");
                    match appender.append(record(id.clone())).await {
                        Ok(c) => say(&format!("ok {} {id}", c.seq)),
                        Err(e) => {
                            say(&format!("err {id} {e}"));
                            let seen = errors.fetch_add(1, Ordering::Relaxed) + 1;
                            if relief.is_some_and(|r| seen == r) {
                                // Space returns.
                                let _ = set_fsize(None);
                            }
                        }
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    rt.block_on(writer.shutdown()).map_err(|e| e.to_string())?;
    say(&format!("observed {}", counter.0.load(Ordering::Relaxed)));
    Ok(())
}
