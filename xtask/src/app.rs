//! Builds the tablet app (`client-wasm/`) into `client-wasm/dist/`, which the server serves at
//! `/`: the crate for wasm32 in the `wasm-release` profile, wasm-bindgen (installed at the version
//! the lockfile pins, if missing), wasm-opt from npm's binaryen, the static shell, and a service
//! worker whose cache name is the hash of everything it caches. Prints the app's gzipped size.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::npm::{fnv1a64, npm_ci};
use crate::{Workspace, cmd};

const CRATE: &str = "veldwerk-app";
const WASM_TARGET: &str = "wasm32-unknown-unknown";
const PROFILE: &str = "wasm-release";
/// `VELDWERK_APP_PROFILE=dev` builds a debug app (no wasm-opt): quicker while working on the UI.
const PROFILE_VAR: &str = "VELDWERK_APP_PROFILE";

/// Builds the app and answers where it is.
pub fn build(workspace: &Workspace) -> Result<PathBuf> {
    let root = workspace.root();
    let app_dir = root.join("client-wasm");
    let dist = app_dir.join("dist");
    let target_dir = workspace.target_dir();

    let profile = std::env::var(PROFILE_VAR).unwrap_or_else(|_| PROFILE.to_owned());
    let optimise = profile != "dev";
    cmd::run(&mut workspace.cargo([
        "build",
        "-p",
        CRATE,
        "--target",
        WASM_TARGET,
        "--profile",
        &profile,
    ]))?;
    let wasm = target_dir
        .join(WASM_TARGET)
        .join(if optimise { profile.as_str() } else { "debug" })
        .join("veldwerk_app.wasm");

    let bindgen = ensure_wasm_bindgen(workspace)?;
    let pkg = dist.join("pkg");
    if dist.exists() {
        fs::remove_dir_all(&dist).with_context(|| format!("could not clear {}", dist.display()))?;
    }
    cmd::run(
        Command::new(&bindgen)
            .args(["--target", "web", "--no-typescript", "--out-dir"])
            .arg(&pkg)
            .arg(&wasm),
    )?;

    let bg = pkg.join("veldwerk_app_bg.wasm");
    if optimise {
        npm_ci(&app_dir)?;
        cmd::run(
            Command::new(app_dir.join("node_modules/.bin/wasm-opt"))
                .args([
                    "-Oz",
                    "--enable-bulk-memory",
                    "--enable-nontrapping-float-to-int",
                    "--enable-sign-ext",
                    "--enable-mutable-globals",
                    "--enable-reference-types",
                    "--enable-multivalue",
                    "-o",
                ])
                .arg(&bg)
                .arg(&bg),
        )?;
    }

    let static_dir = app_dir.join("static");
    let mut shell = Vec::new();
    for entry in fs::read_dir(&static_dir)? {
        let entry = entry?;
        let name = entry.file_name().into_string().expect("ASCII file names");
        if name != "sw.js" {
            fs::copy(entry.path(), dist.join(&name))?;
            shell.push(format!("/{name}"));
        }
    }
    for entry in walk(&pkg)? {
        let relative = entry.strip_prefix(&dist).expect("inside dist");
        shell.push(format!("/{}", relative.to_string_lossy()));
    }
    shell.sort();
    // The cache name changes whenever any cached file does.
    let mut hash = 0u64;
    for path in &shell {
        let bytes = fs::read(dist.join(path.trim_start_matches('/')))?;
        hash = hash.rotate_left(7) ^ fnv1a64(&bytes);
    }
    shell.retain(|p| p != "/index.html");
    shell.insert(0, "/".to_owned());
    let worker = fs::read_to_string(static_dir.join("sw.js"))?
        .replace("__VERSION__", &format!("{hash:016x}"))
        .replace("__SHELL__", &format!("{shell:?}"));
    fs::write(dist.join("sw.js"), worker)?;

    report_size(&dist)?;
    Ok(dist)
}

fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files.extend(walk(&path)?);
        } else {
            files.push(path);
        }
    }
    Ok(files)
}

/// What a tablet downloads on first open: wasm, JS and CSS, each gzipped (level 9).
fn report_size(dist: &Path) -> Result<()> {
    let mut total_raw = 0;
    let mut total_gz = 0;
    let mut lines = Vec::new();
    for path in walk(dist)? {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "wasm" | "js" | "css") {
            continue;
        }
        let bytes = fs::read(&path)?;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&bytes)?;
        let gz = encoder.finish()?;
        total_raw += bytes.len();
        total_gz += gz.len();
        lines.push(format!(
            "  {:<40} {:>9} B  {:>8} B gzipped",
            path.strip_prefix(dist).unwrap_or(&path).display(),
            bytes.len(),
            gz.len()
        ));
    }
    lines.sort();
    eprintln!("tablet app size (wasm + JS + CSS):");
    for line in lines {
        eprintln!("{line}");
    }
    eprintln!(
        "  {:<40} {:>9} B  {:>8} B gzipped ({:.0} KiB)",
        "total",
        total_raw,
        total_gz,
        total_gz as f64 / 1024.0
    );
    Ok(())
}

/// wasm-bindgen's CLI must match the `wasm-bindgen` crate exactly; it is installed once into a
/// tools folder beside the build (`<target dir>/tools`), which CI machines keep between runs.
pub fn ensure_wasm_bindgen(workspace: &Workspace) -> Result<PathBuf> {
    let version = locked_version(workspace.root(), "wasm-bindgen")?;
    let tools = workspace.target_dir().join("tools");
    let bin = tools.join("bin/wasm-bindgen");
    let installed = Command::new(&bin)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    if installed.is_some_and(|v| v.split_whitespace().nth(1) == Some(version.as_str())) {
        return Ok(bin);
    }
    eprintln!(
        "installing wasm-bindgen-cli {version} into {}",
        tools.display()
    );
    // Not --locked: one of its locked dependency versions is no longer served.
    cmd::run(
        workspace
            .cargo([
                "install",
                "wasm-bindgen-cli",
                "--version",
                &version,
                "--root",
            ])
            .arg(&tools)
            .env("CARGO_TARGET_DIR", tools.join("build")),
    )?;
    Ok(bin)
}

fn locked_version(root: &Path, package: &str) -> Result<String> {
    let lock = fs::read_to_string(root.join("Cargo.lock"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{package}\"")
            && let Some(version) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return Ok(version.trim_end_matches('"').to_owned());
        }
    }
    bail!("{package} is not in Cargo.lock")
}
