//! `strongroom dev --seed FILE`: reads and checks the seed file before
//! anything starts, and applies it once the frontend is up
//! (`strongroom_server::seed`; the schema is in docs/dev.md).

use std::path::Path;

use anyhow::Context;
use strongroom_server::seed::{MAX_SEED_BYTES, SeedDefaults, SeedFile, SeedSummary};

/// Reads and parses the seed file at `path`.
pub fn read(path: &Path) -> anyhow::Result<SeedFile> {
    let meta = std::fs::metadata(path).with_context(|| format!("seed file {}", path.display()))?;
    anyhow::ensure!(
        meta.len() <= MAX_SEED_BYTES as u64,
        "seed file {}: larger than {MAX_SEED_BYTES} bytes",
        path.display()
    );
    let bytes = std::fs::read(path).with_context(|| format!("seed file {}", path.display()))?;
    SeedFile::parse(&bytes).map_err(|e| anyhow::anyhow!("seed file {}: {e}", path.display()))
}

/// Checks the whole seed file against this server's account and region.
pub fn check(path: &Path, seed: &SeedFile, defaults: &SeedDefaults) -> anyhow::Result<()> {
    seed.validate(defaults)
        .map_err(|e| anyhow::anyhow!("seed file {}: {e}", path.display()))
}

/// Creates what the seed file names and is missing.
pub async fn apply(
    path: &Path,
    seed: &SeedFile,
    defaults: &SeedDefaults,
    env: &crate::dev::DevEnvironment,
) -> anyhow::Result<SeedSummary> {
    let summary = seed
        .apply(
            defaults,
            env.server.processor(),
            env.store.as_ref(),
            &env.hsm,
        )
        .await
        .map_err(|e| anyhow::anyhow!("seed file {}: {e}", path.display()))?;
    tracing::info!(
        created = summary.created,
        present = summary.present,
        "seed file {} applied",
        path.display()
    );
    Ok(summary)
}
