//! Audit footers and receipts sealed by the security module: the writer
//! keeps every record while the module cannot be reached and seals once it
//! is back; `admin audit verify` trusts the module's seal key or a pinned
//! one, never a key the audit directory offers, and keeps verifying the
//! legacy HMAC seals of earlier versions while their key file exists.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use strongroom_audit::{
    AuditRecord, AuditWriter, ChainId, FooterSealer, InProcessSealer, LogConfig, SealedFooter,
    TrustedKeys, list_chains, list_seal_key, verify_dir,
};
use strongroom_hsm::{DomainKey, Module, ModuleConfig};
use strongroom_hsm_proto::{
    Answer, Caller, HsmError, ModuleHandler, Request, Response, spawn_module_task,
};
use strongroom_server::audit_seal::{ModuleSealer, module_seal_keys};

use crate::audit::admin;
use crate::common::*;

/// A real module behind a cable that can be pulled: while `down`, every
/// request fails as one to an unreachable module does.
struct Cable {
    module: Module,
    down: Arc<AtomicBool>,
    /// Seal requests that reached the pulled cable.
    seals_refused: Arc<AtomicUsize>,
}

impl Cable {
    fn new(module: Module, down: &Arc<AtomicBool>) -> Self {
        Self {
            module,
            down: down.clone(),
            seals_refused: Arc::default(),
        }
    }

    /// Whether the cable is pulled; counts the seal requests it refuses.
    fn pulled(&self, request: &Request) -> bool {
        if !self.down.load(Ordering::SeqCst) {
            return false;
        }
        let inner = match request {
            Request::InDomain { request, .. } => request.as_ref(),
            r => r,
        };
        if matches!(inner, Request::SignAuditSeal { .. }) {
            self.seals_refused.fetch_add(1, Ordering::SeqCst);
        }
        true
    }
}

impl ModuleHandler for Cable {
    fn handle(&mut self, caller: &Caller, request: Request) -> Result<Response, HsmError> {
        if self.pulled(&request) {
            return Err(HsmError::Unavailable("connection refused".into()));
        }
        self.module.handle(caller, request)
    }

    fn dispatch(&mut self, caller: &Caller, request: Request, answer: Answer) {
        if self.pulled(&request) {
            return answer(Err(HsmError::Unavailable("connection refused".into())));
        }
        self.module.dispatch(caller, request, answer)
    }
}

fn record(n: u64) -> AuditRecord {
    AuditRecord {
        time_ms: 1_000 + n as i64,
        request_id: format!("req-{n}"),
        operation: "ListKeys".into(),
        ..Default::default()
    }
}

fn footers(dir: &Path) -> usize {
    list_chains(dir)
        .unwrap()
        .into_values()
        .flatten()
        .filter(|f| f.footer.is_some())
        .count()
}

fn open(dir: &Path, sealer: Arc<ModuleSealer>) -> AuditWriter {
    let mut config = LogConfig::new(dir, ChainId::new("fe-seal").unwrap());
    config.roll.max_bytes = 400;
    AuditWriter::open(config, sealer).unwrap().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_writer_keeps_every_record_while_the_module_is_unreachable_and_seals_once_it_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let domain = DomainKey::generate().unwrap();
    let id = domain.id();
    let down = Arc::new(AtomicBool::new(false));
    let hsm = spawn_module_task(
        Cable::new(Module::new(domain, ModuleConfig::default()), &down),
        64,
    )
    .with_domain(id);
    let sealer =
        ModuleSealer::connect(hsm.clone(), dir.path().into(), TrustedKeys::default()).await;
    let s = sealer.clone();
    let d = dir.path().to_path_buf();
    let writer = tokio::task::spawn_blocking(move || open(&d, s))
        .await
        .unwrap();
    let a = writer.appender();
    let mut n = 0;
    for _ in 0..5 {
        a.append(record(n)).await.unwrap();
        n += 1;
    }
    a.roll().await.unwrap();
    assert_eq!(footers(dir.path()), 1);

    // The cable is pulled: appends go on, nothing is sealed, and an
    // explicit roll says it failed.
    down.store(true, Ordering::SeqCst);
    for _ in 0..40 {
        a.append(record(n))
            .await
            .expect("appends go on without the module");
        n += 1;
    }
    assert!(a.roll().await.is_err());
    assert_eq!(footers(dir.path()), 1);

    // A restart while it is still out: recovery checks the last footer
    // with the key it already trusts, and takes up the open segment.
    writer.shutdown().await.unwrap();
    let (s, d) = (sealer.clone(), dir.path().to_path_buf());
    let writer = tokio::task::spawn_blocking(move || open(&d, s))
        .await
        .unwrap();
    let a = writer.appender();
    for _ in 0..10 {
        a.append(record(n))
            .await
            .expect("appends go on after a restart");
        n += 1;
    }

    // The module is back: the segment is sealed at the next retry.
    down.store(false, Ordering::SeqCst);
    let mut waited = 0;
    while footers(dir.path()) < 2 {
        a.append(record(n)).await.unwrap();
        n += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
        assert!(waited < 1_200, "the segment was never sealed");
    }
    writer.shutdown().await.unwrap();

    let trusted = module_seal_keys(&hsm).await.unwrap();
    let report = verify_dir(dir.path(), &trusted, &[]).unwrap();
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.chains[0].records, n);
    assert_eq!(report.chains[0].last_seq, n);
    // Every footer names the module's key; the directory lists it.
    let (key_id, _) = trusted.ed25519_keys().next().unwrap();
    for files in list_chains(dir.path()).unwrap().into_values().flatten() {
        if let Some(p) = files.footer {
            let f = SealedFooter::decode(&std::fs::read(p).unwrap()).unwrap();
            assert_eq!(f.sealer, key_id);
        }
    }
    assert!(
        strongroom_audit::listed_seal_keys(dir.path())
            .iter()
            .any(|k| k.id == key_id)
    );

    // A frontend that starts while its module does not answer: the sealer
    // starts, but recovery cannot check the last footer and refuses to
    // continue the chain; once the module answers, the same sealer gets
    // the keys and the chain opens.
    down.store(true, Ordering::SeqCst);
    let late = ModuleSealer::connect(hsm.clone(), dir.path().into(), TrustedKeys::default()).await;
    let (s, d) = (late.clone(), dir.path().to_path_buf());
    let refused = tokio::task::spawn_blocking(move || {
        let config = LogConfig::new(&d, ChainId::new("fe-seal").unwrap());
        AuditWriter::open(config, s).err()
    })
    .await
    .unwrap();
    assert!(
        matches!(
            refused,
            Some(strongroom_audit::AuditError::UntrustedSeal { .. })
        ),
        "{refused:?}"
    );
    down.store(false, Ordering::SeqCst);
    let d = dir.path().to_path_buf();
    let writer = tokio::task::spawn_blocking(move || open(&d, late))
        .await
        .unwrap();
    writer.appender().append(record(n)).await.unwrap();
    writer.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_tries_one_seal_while_the_module_is_down_then_waits_for_it_to_answer() {
    let dir = tempfile::tempdir().unwrap();
    let domain = DomainKey::generate().unwrap();
    let id = domain.id();
    let down = Arc::new(AtomicBool::new(false));
    let cable = Cable::new(Module::new(domain, ModuleConfig::default()), &down);
    let seals_refused = cable.seals_refused.clone();
    let hsm = spawn_module_task(cable, 64).with_domain(id);
    let sealer =
        ModuleSealer::connect(hsm.clone(), dir.path().into(), TrustedKeys::default()).await;
    let d = dir.path().to_path_buf();
    let writer = tokio::task::spawn_blocking(move || open(&d, sealer))
        .await
        .unwrap();
    let a = writer.appender();
    // The cable is pulled with a segment due to roll all along: appends
    // for over three seconds, past the writer's 1 s and 2 s seal retries.
    down.store(true, Ordering::SeqCst);
    let mut n = 0;
    for _ in 0..70 {
        a.append(record(n)).await.expect("appends go on");
        n += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        seals_refused.load(Ordering::SeqCst),
        1,
        "one seal tried, then only the sealer's probes until the module answers"
    );
    assert_eq!(footers(dir.path()), 0);
    // Back: the probe sees it, and the next roll seals.
    down.store(false, Ordering::SeqCst);
    let mut waited = 0;
    while footers(dir.path()) == 0 {
        a.append(record(n)).await.unwrap();
        n += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
        assert!(waited < 1_200, "the segment was never sealed");
    }
    writer.shutdown().await.unwrap();
    let trusted = module_seal_keys(&hsm).await.unwrap();
    let report = verify_dir(dir.path(), &trusted, &[]).unwrap();
    assert!(report.intact(), "{report:?}");
    assert_eq!(report.chains[0].records, n);
}

/// Re-seals the footer at `path` with `key`, as an attacker who writes
/// the directory can.
fn reseal(path: &Path, key: &InProcessSealer) {
    let f = SealedFooter::decode(&std::fs::read(path).unwrap()).unwrap();
    let forged = SealedFooter::seal(f.body, key).unwrap();
    std::fs::write(path, forged.encode()).unwrap();
}

/// A data directory whose frontend sealed a few segments, and its chain's
/// footer files in order.
async fn sealed_segments(dir: &Path) -> Vec<std::path::PathBuf> {
    let dev = start_in(dir, |o| o.audit.audit_segment_bytes = 4096).await;
    let client = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    let arn = new_key(&client).await;
    for _ in 0..60 {
        client
            .encrypt()
            .key_id(&arn)
            .plaintext(blob(b"sealed by the module"))
            .send()
            .await
            .unwrap();
    }
    dev.shutdown().await;
    let footers: Vec<_> = list_chains(&dir.join("audit"))
        .unwrap()
        .into_values()
        .flatten()
        .filter_map(|f| f.footer)
        .collect();
    assert!(footers.len() >= 3, "{footers:?}");
    footers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_trusts_the_modules_key_or_a_pinned_one_and_never_one_the_directory_offers() {
    let dir = tempfile::tempdir().unwrap();
    let footers = sealed_segments(dir.path()).await;
    assert!(
        !dir.path()
            .join(strongroom_cli::audit_setup::LEGACY_FOOTER_KEY_FILE)
            .exists(),
        "no footer key file is made any more"
    );
    let (rc, out) = admin(dir.path(), &["audit", "seal-key"]);
    assert_eq!(rc, 0, "{out}");
    let fields: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    let (key_id, public) = (fields[0].to_string(), fields[5].to_string());
    assert!(key_id.starts_with("ed25519-"), "{out}");
    let (rc, out) = admin(dir.path(), &["audit", "verify"]);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains(&format!("{key_id} (security module)")),
        "{out}"
    );

    // Offline: a data directory without a module trusts only pinned keys.
    let audit = dir.path().join("audit");
    let elsewhere = tempfile::tempdir().unwrap();
    let offline = |extra: &[&str]| {
        let mut args = vec!["audit", "--audit-dir", audit.to_str().unwrap(), "verify"];
        args.extend_from_slice(extra);
        admin(elsewhere.path(), &args)
    };
    let (rc, out) = offline(&[]);
    assert_ne!(rc, 0, "{out}");
    let (rc, out) = offline(&["--seal-public-key", &public]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("(pinned)"), "{out}");
    assert!(
        !elsewhere.path().join("hsm").exists(),
        "verify made no module"
    );

    // The attacker re-seals a footer with their own key and lists that
    // key in the directory's seal-keys.json: refused, and said why.
    let attacker = InProcessSealer::generate().unwrap();
    reseal(&footers[1], &attacker);
    list_seal_key(&audit, &attacker.public_key()).unwrap();
    let (rc, out) = admin(dir.path(), &["audit", "verify"]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("a key that is not trusted"), "{out}");
    assert!(out.contains("seal-keys.json only"), "{out}");
    let (rc, out) = offline(&["--seal-public-key", &public]);
    assert_eq!(rc, 1, "{out}");
    // Export and ack refuse to go on from it; no receipt is written.
    let out_dir = tempfile::tempdir().unwrap();
    let (rc, _) = admin(
        dir.path(),
        &["audit", "export", "--to", out_dir.path().to_str().unwrap()],
    );
    assert_ne!(rc, 0);
    let f = SealedFooter::decode(&std::fs::read(&footers[1]).unwrap()).unwrap();
    let segment = format!("{}.{}", f.body.chain, f.body.number);
    let (rc, _) = admin(
        dir.path(),
        &[
            "audit",
            "ack",
            &segment,
            "--hash",
            &hex::encode(f.body.head),
        ],
    );
    assert_ne!(rc, 0);
    assert!(!footers[1].with_extension("receipt").exists());
}

/// Receipts for the true head hashes of `footers`' segments, sealed by
/// `attacker` (written as `strongroom_audit::acknowledge` would, with
/// `trusted` the keys the attacker's tool believes).
fn forge_receipts(
    audit: &Path,
    footers: &[std::path::PathBuf],
    attacker: &dyn FooterSealer,
    trusted: &TrustedKeys,
) {
    for path in footers {
        let f = SealedFooter::decode(&std::fs::read(path).unwrap()).unwrap();
        let id: strongroom_audit::SegmentId = format!("{}.{}", f.body.chain, f.body.number)
            .parse()
            .unwrap();
        strongroom_audit::acknowledge(audit, &id, &hex::encode(f.body.head), attacker, trusted, 0)
            .unwrap();
    }
}

/// Acknowledges the last of `footers` through the module (`admin audit
/// ack`), starts the frontend with retention 0 and waits until that
/// segment is deleted (so retention ran, in segment order); then every
/// earlier segment must still be there despite `forged` receipts.
async fn retain_after_acknowledging_the_last(
    dir: &Path,
    footers: &[std::path::PathBuf],
    forged: &str,
) {
    let last = footers.last().unwrap();
    let f = SealedFooter::decode(&std::fs::read(last).unwrap()).unwrap();
    let segment = format!("{}.{}", f.body.chain, f.body.number);
    let head = hex::encode(f.body.head);
    let (rc, out) = admin(dir, &["audit", "ack", &segment, "--hash", &head]);
    assert_eq!(rc, 0, "{out}");
    let dev = start_in(dir, |o| o.audit.audit_retain_days = Some(0)).await;
    for _ in 0..200 {
        if !last.with_extension("seg").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    dev.shutdown().await;
    assert!(
        !last.with_extension("seg").exists(),
        "retention did not run"
    );
    for path in &footers[..footers.len() - 1] {
        assert!(
            path.with_extension("seg").exists(),
            "{} was deleted on {forged}",
            path.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_forged_without_the_module_makes_retention_delete_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let footers = sealed_segments(dir.path()).await;
    let audit = dir.path().join("audit");
    // The attacker writes receipts for the true head hashes, sealed with
    // their own key.
    let attacker = InProcessSealer::generate().unwrap();
    let mut trusted = TrustedKeys::default();
    trusted.extend(&FooterSealer::trusted(&attacker));
    let hsm = strongroom_cli::dev::open_modules(dir.path(), &Default::default(), Some(1)).unwrap();
    trusted.extend(&module_seal_keys(&hsm).await.unwrap());
    forge_receipts(&audit, &footers, &attacker, &trusted);
    // Only the last sealed segment gets a receipt the module seals.
    retain_after_acknowledging_the_last(dir.path(), &footers, "a forged receipt").await;
    let (rc, out) = admin(dir.path(), &["audit", "verify"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("(1 retired)"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn footers_sealed_with_the_legacy_hmac_key_verify_only_while_the_operator_names_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let footers = sealed_segments(dir.path()).await;
    // An audit directory of an earlier version: footers sealed with
    // HMAC-SHA256 under DATA_DIR/audit-footer.key, named by its hash.
    let key = [7u8; 32];
    let key_file = dir
        .path()
        .join(strongroom_cli::audit_setup::LEGACY_FOOTER_KEY_FILE);
    std::fs::write(&key_file, key).unwrap();
    for path in &footers {
        let mut f = SealedFooter::decode(&std::fs::read(path).unwrap()).unwrap();
        f.sealer = strongroom_audit::legacy_hmac_key_id(&key);
        f.seal = strongroom_crypto::HmacSha256Key::new(&key)
            .sign(&f.body.sealed_message())
            .to_vec();
        std::fs::write(path, f.encode()).unwrap();
    }
    let named = key_file.to_str().unwrap();
    // In the data directory but not named: it vouches for nothing.
    let (rc, out) = admin(dir.path(), &["audit", "verify"]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("a key that is not trusted"), "{out}");
    let (rc, out) = admin(
        dir.path(),
        &["audit", "verify", "--legacy-footer-key", named],
    );
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("legacy HMAC seal"), "{out}");
    // The frontend takes the chain up (its last footer is a legacy one)
    // and seals new segments with the module.
    let dev = start_in(dir.path(), |o| {
        o.audit.audit_segment_bytes = 4096;
        o.audit.audit_legacy_footer_key = Some(key_file.clone());
    })
    .await;
    let client = client_for(&dev, &dev.access_key_id, &dev.secret_access_key);
    for _ in 0..30 {
        client.list_keys().send().await.unwrap();
    }
    dev.shutdown().await;
    let (rc, out) = admin(
        dir.path(),
        &["audit", "verify", "--legacy-footer-key", named],
    );
    assert_eq!(rc, 0, "{out}");
    // Without the key file, the legacy footers vouch for nothing.
    std::fs::remove_file(&key_file).unwrap();
    let (rc, out) = admin(dir.path(), &["audit", "verify"]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("a key that is not trusted"), "{out}");
}

/// Seals as the legacy HMAC footer key `key` did (an attacker's own key
/// here): HMAC-SHA256 over the message, named `hmac-…`.
struct LegacyHmacSealer([u8; 32]);

impl FooterSealer for LegacyHmacSealer {
    fn seal(&self, message: &[u8]) -> Result<strongroom_audit::Seal, strongroom_audit::AuditError> {
        Ok(strongroom_audit::Seal {
            sealer: strongroom_audit::legacy_hmac_key_id(&self.0),
            seal: strongroom_crypto::HmacSha256Key::new(&self.0)
                .sign(message)
                .to_vec(),
        })
    }
    fn trusted(&self) -> TrustedKeys {
        let mut t = TrustedKeys::default();
        t.add_legacy_hmac(&self.0);
        t
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_key_file_planted_in_the_data_directory_makes_retention_delete_nothing_and_verify_fail()
 {
    let dir = tempfile::tempdir().unwrap();
    let footers = sealed_segments(dir.path()).await;
    let audit = dir.path().join("audit");
    // Someone who writes the data directory (not the module) plants a
    // "legacy" footer key of their own and seals receipts with it for
    // every segment, none of which was exported.
    let planted = [0x5au8; 32];
    std::fs::write(
        dir.path()
            .join(strongroom_cli::audit_setup::LEGACY_FOOTER_KEY_FILE),
        planted,
    )
    .unwrap();
    let attacker = LegacyHmacSealer(planted);
    let hsm = strongroom_cli::dev::open_modules(dir.path(), &Default::default(), Some(1)).unwrap();
    let module_keys = module_seal_keys(&hsm).await.unwrap();
    drop(hsm);
    forge_receipts(
        &audit,
        &footers[..footers.len() - 1],
        &attacker,
        &module_keys,
    );
    retain_after_acknowledging_the_last(dir.path(), &footers, "a planted key's receipt").await;
    // The attacker deletes a segment's records themselves: its planted
    // receipt does not make verify count it as retired.
    std::fs::remove_file(footers[0].with_extension("seg")).unwrap();
    let (rc, out) = admin(dir.path(), &["audit", "verify"]);
    assert_eq!(rc, 1, "{out}");
    assert!(out.contains("deleted without a receipt"), "{out}");
}
