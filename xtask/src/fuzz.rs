//! `cargo xtask fuzz [TARGET] [--secs N]`, and the fuzzing step of `cargo xtask test`: builds the
//! libFuzzer targets of `fuzz/` on the stable compiler and runs one or all of them.
//!
//! No cargo-fuzz: its default build asks for AddressSanitizer (`-Zsanitizer`, nightly only), and
//! with `--sanitizer none` it passes nothing but the coverage flags below, so they are passed
//! here directly. `--target` keeps them off build scripts and proc macros, as cargo-fuzz does.
//! The build goes to `<target dir>/fuzz`, apart from the workspace's, whose artifacts it would
//! otherwise rebuild; the fuzz crate is its own workspace for the same reason.
//!
//! Each target reads its seeds from `fuzz/corpus/<target>/` and keeps what it finds in
//! `<target dir>/fuzz/corpus/<target>/`, so later runs on this machine go on from there and the
//! repository holds only the seeds. A crash leaves its input in `<target dir>/fuzz/artifacts/`.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};

use crate::{Workspace, cmd};

/// Every target in `fuzz/fuzz_targets/`, cheapest first.
pub const TARGETS: &[&str] = &[
    "signal_subject",
    "api_json",
    "protocol",
    "document_load",
    "sync_payload",
    "record_edits",
];
/// What `cargo xtask fuzz` runs each target for, unless told.
const DEFAULT_SECS: u64 = 60;
/// What `cargo xtask test` runs each target for: enough to run every seed and some thousands of
/// mutations of each, not to find new bugs (that is what long runs are for).
pub const SMOKE_SECS: u64 = 5;
/// An input that takes longer than this is reported as a hang.
const TIMEOUT_SECS: u64 = 20;
/// The coverage instrumentation libFuzzer feeds on, as cargo-fuzz passes it (without a
/// sanitizer), plus the checks a debug build makes.
const RUSTFLAGS: &[&str] = &[
    "-Cpasses=sancov-module",
    "-Cllvm-args=-sanitizer-coverage-level=4",
    "-Cllvm-args=-sanitizer-coverage-inline-8bit-counters",
    "-Cllvm-args=-sanitizer-coverage-pc-table",
    "-Cllvm-args=-sanitizer-coverage-trace-compares",
    "--cfg=fuzzing",
    "-Cdebug-assertions",
    "-Coverflow-checks",
];

pub struct Options {
    target: Option<String>,
    secs: u64,
}

impl Options {
    pub fn parse(args: &[OsString]) -> Result<Self> {
        let mut options = Self {
            target: None,
            secs: DEFAULT_SECS,
        };
        let mut args = args.iter().map(|a| a.to_string_lossy().into_owned());
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--secs" => {
                    let secs = args.next().context("--secs needs a number of seconds")?;
                    options.secs = secs
                        .parse()
                        .with_context(|| format!("--secs {secs}: not a number of seconds"))?;
                }
                target if TARGETS.contains(&target) && options.target.is_none() => {
                    options.target = Some(arg);
                }
                _ => bail!(
                    "unknown argument to `cargo xtask fuzz`: {arg} (targets: {})",
                    TARGETS.join(", ")
                ),
            }
        }
        Ok(options)
    }
}

/// `cargo xtask fuzz`: builds, runs the chosen targets one after another, and prints what each
/// did.
pub fn run(workspace: &Workspace, options: Options) -> Result<()> {
    let targets: Vec<&str> = match &options.target {
        Some(target) => vec![target.as_str()],
        None => TARGETS.to_vec(),
    };
    fuzz(workspace, &targets, options.secs)
}

/// The step of `cargo xtask test`: every target for [`SMOKE_SECS`].
pub fn smoke(workspace: &Workspace) -> Result<()> {
    fuzz(workspace, TARGETS, SMOKE_SECS)
}

fn fuzz(workspace: &Workspace, targets: &[&str], secs: u64) -> Result<()> {
    let started = Instant::now();
    let bin_dir = build(workspace)?;
    eprintln!(
        "fuzz targets built in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let mut lines = Vec::new();
    let mut failed = Vec::new();
    for target in targets {
        match run_target(workspace, &bin_dir, target, secs) {
            Ok(stats) => lines.push(format!(
                "  {target:<16} {:>12} runs  {:>9} exec/s  {:>6} inputs in the corpus",
                stats.runs, stats.exec_per_sec, stats.corpus
            )),
            Err(error) => {
                lines.push(format!("  {target:<16} FAILED: {error:#}"));
                failed.push(*target);
            }
        }
    }
    eprintln!("\nfuzzing, {secs}s per target:");
    for line in &lines {
        eprintln!("{line}");
    }
    eprintln!(
        "  in {:.1}s, build included",
        started.elapsed().as_secs_f64()
    );
    ensure!(
        failed.is_empty(),
        "fuzz target(s) failed: {}",
        failed.join(", ")
    );
    Ok(())
}

/// Builds every target; answers the folder the binaries are in.
fn build(workspace: &Workspace) -> Result<PathBuf> {
    let host = host_triple(workspace)?;
    let target_dir = fuzz_dir(workspace);
    cmd::run(
        workspace
            .cargo([
                "build",
                "--manifest-path",
                "fuzz/Cargo.toml",
                "--release",
                "--bins",
            ])
            .args(["--target", &host])
            .env("CARGO_TARGET_DIR", &target_dir)
            .env("RUSTFLAGS", RUSTFLAGS.join(" "))
            .env_remove("CARGO_ENCODED_RUSTFLAGS"),
    )?;
    Ok(target_dir.join(host).join("release"))
}

fn fuzz_dir(workspace: &Workspace) -> PathBuf {
    workspace.target_dir().join("fuzz")
}

/// The compiler's own platform, which the targets are built for.
fn host_triple(workspace: &Workspace) -> Result<String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = cmd::read(Command::new(rustc).arg("-vV").current_dir(workspace.root()))?;
    version
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .context("`rustc -vV` names no host")
}

struct Stats {
    runs: u64,
    exec_per_sec: u64,
    corpus: usize,
}

/// Runs one target for `secs` seconds, its output kept in a log beside its corpus.
fn run_target(workspace: &Workspace, bin_dir: &Path, target: &str, secs: u64) -> Result<Stats> {
    let dir = fuzz_dir(workspace);
    let corpus = dir.join("corpus").join(target);
    let artifacts = dir.join("artifacts").join(target);
    let logs = dir.join("logs");
    for folder in [&corpus, &artifacts, &logs] {
        fs::create_dir_all(folder)
            .with_context(|| format!("could not create {}", folder.display()))?;
    }
    let seeds = workspace.root().join("fuzz/corpus").join(target);
    let log_path = logs.join(format!("{target}.log"));
    let log = fs::File::create(&log_path)
        .with_context(|| format!("could not create {}", log_path.display()))?;
    let mut fuzzer = Command::new(bin_dir.join(target));
    fuzzer
        .arg(format!("-max_total_time={secs}"))
        .arg(format!("-timeout={TIMEOUT_SECS}"))
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg(&corpus);
    if seeds.is_dir() {
        fuzzer.arg(&seeds);
    }
    eprintln!("$ {} ... > {}", target, log_path.display());
    let status = fuzzer
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .with_context(|| format!("could not start the {target} fuzzer"))?;
    let output = fs::read_to_string(&log_path).unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = output.lines().rev().take(30).collect();
        for line in tail.into_iter().rev() {
            eprintln!("    {line}");
        }
        bail!(
            "{status}; the input is in {}, the whole output in {}",
            artifacts.display(),
            log_path.display()
        );
    }
    let stat = |name: &str| {
        output
            .lines()
            .find_map(|line| line.strip_prefix(&format!("stat::{name}:")))
            .and_then(|n| n.trim().parse::<u64>().ok())
            .with_context(|| format!("the {target} fuzzer printed no {name}"))
    };
    Ok(Stats {
        runs: stat("number_of_executed_units")?,
        exec_per_sec: stat("average_exec_per_sec")?,
        corpus: fs::read_dir(&corpus)?.count(),
    })
}
