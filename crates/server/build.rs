//! Embeds the web console's built assets (`console/dist/`, made by
//! `scripts/console.sh` or `npm ci && npm run build` in `console/`).
//!
//! When `dist/` is missing and `npm` is on the PATH, it builds them first,
//! so `cargo run -p strongroom-cli -- dev` works on a fresh clone. Without
//! npm it embeds a page saying how to build them, and warns: the Rust
//! build itself never needs npm (docs/console.md).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let console = manifest.join("../../console");
    let dist = console.join("dist");
    if !dist.join("index.html").exists() && console.join("package.json").exists() {
        build_assets(&console);
    }
    let mut files = Vec::new();
    if dist.join("index.html").exists() {
        collect(&dist, &dist, &mut files);
        println!("cargo:rerun-if-changed={}", dist.display());
    } else {
        println!(
            "cargo:warning=console assets not built (no npm?): the console will say so; run scripts/console.sh"
        );
        // Watch the folder dist/ will appear in.
        println!("cargo:rerun-if-changed={}", console.display());
    }
    files.sort();
    let mut out = String::from("/// The console's built files: (path under dist/, bytes).\n");
    out.push_str("pub static ASSETS: &[(&str, &[u8])] = &[\n");
    for (name, path) in &files {
        let _ = writeln!(
            out,
            "    ({name:?}, include_bytes!({:?})),",
            path.display().to_string()
        );
    }
    out.push_str("];\n");
    let target =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("console_assets.rs");
    std::fs::write(target, out).expect("OUT_DIR is writable");
}

/// `npm ci && npm run build` in `console/`, if npm is there.
fn build_assets(console: &Path) {
    let npm = |args: &[&str]| {
        Command::new("npm")
            .args(args)
            .current_dir(console)
            // Cargo reads a build script's stdout for directives.
            .stdout(std::process::Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if !npm(&["--version"]) {
        return;
    }
    if !console.join("node_modules").exists() && !npm(&["ci", "--no-audit", "--no-fund"]) {
        println!("cargo:warning=npm ci failed in {}", console.display());
        return;
    }
    if !npm(&["run", "build"]) {
        println!(
            "cargo:warning=npm run build failed in {}",
            console.display()
        );
    }
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            collect(root, &path, out);
        } else if let Ok(rel) = path.strip_prefix(root) {
            let name = rel.to_string_lossy().replace('\\', "/");
            out.push((name, path.canonicalize().unwrap_or(path)));
        }
    }
}
