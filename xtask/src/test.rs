//! `cargo xtask test`: every check CI makes, in CI's order, so passing here means passing there.

use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::npm::npm_ci;
use crate::postgres::ThrowawayPostgres;
use crate::{Workspace, cmd};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// The JS automerge-repo interop tests, with their own npm lockfile.
const INTEROP_DIR: &str = "tests/interop";
/// The tablet app's browser tests (playwright-core, axe-core), with their own npm lockfile.
const BROWSER_DIR: &str = "tests/browser";
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const POSTGRES_URL_VAR: &str = "VELDWERK_TEST_POSTGRES_URL";

pub struct Options {
    postgres: bool,
}

impl Options {
    pub fn parse(args: &[OsString]) -> Result<Self> {
        let mut options = Self { postgres: true };
        for arg in args {
            match arg.to_str() {
                Some("--no-postgres") => options.postgres = false,
                _ => bail!(
                    "unknown argument to `cargo xtask test`: {}",
                    arg.to_string_lossy()
                ),
            }
        }
        Ok(options)
    }
}

/// Runs the steps, stopping at the first failure, then prints the per-step report ending in the
/// line `N passed, N failed` that CI reads.
pub fn run(workspace: &Workspace, options: Options) -> ExitCode {
    let mut report = Report::default();
    let outcome = run_steps(workspace, &options, &mut report);
    // By now the throwaway PostgreSQL is gone, so the report really is the last thing printed.
    if let Err(error) = &outcome {
        eprintln!("\nxtask test stopped at the first failure: {error:#}");
    }
    report.print();
    if outcome.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run_steps(workspace: &Workspace, options: &Options, report: &mut Report) -> Result<()> {
    report.step("cargo fmt --check", || {
        let mut fmt = workspace.cargo(["fmt", "--all", "--", "--check"]);
        // rustfmt colours its diff even into a log file; let CI's CARGO_TERM_COLOR reach it.
        if let Some(color) = std::env::var_os("CARGO_TERM_COLOR") {
            fmt.arg("--color").arg(color);
        }
        cmd::run(&mut fmt)?;
        // The fuzz crate is its own workspace, which `--all` does not reach.
        cmd::run(&mut workspace.cargo([
            "fmt",
            "--manifest-path",
            "fuzz/Cargo.toml",
            "--",
            "--check",
        ]))
    })?;
    // Reads files only: seconds, so a broken invariant fails before the long builds.
    report.step("tidy", || crate::tidy::run(workspace))?;
    report.step("cargo clippy", || {
        cmd::run(&mut workspace.cargo([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    report.step("clippy for the fuzz targets", || {
        cmd::run(&mut workspace.cargo([
            "clippy",
            "--manifest-path",
            "fuzz/Cargo.toml",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    report.step("core builds for wasm32", || build_core_for_wasm(workspace))?;
    report.step("clippy for the tablet app (wasm32)", || {
        cmd::run(&mut workspace.cargo([
            "clippy",
            "-p",
            "veldwerk-app",
            "--target",
            WASM_TARGET,
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))
    })?;
    report.step("tablet app builds", || {
        crate::app::build(workspace).map(drop)
    })?;
    report.step("chromium", ensure_chromium)?;
    report.step("tablet app tests (wasm-bindgen-test, chromium)", || {
        let runner =
            crate::app::ensure_wasm_bindgen(workspace)?.with_file_name("wasm-bindgen-test-runner");
        // The sync engine's tests sync with the JS automerge-repo server.
        let peer = ReferenceServer::start(workspace)?;
        cmd::run(
            workspace
                .cargo(["test", "-p", "veldwerk-app", "--target", WASM_TARGET])
                .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", runner)
                .env("CHROMEDRIVER", CHROMEDRIVER)
                .env("VELDWERK_TEST_SYNC_URL", peer.url()),
        )
    })?;

    const NPM_STEP: &str = "interop npm ci";
    let interop_dir = workspace.root().join(INTEROP_DIR);
    if interop_dir.join("package-lock.json").is_file() {
        report.step(NPM_STEP, || npm_ci(&interop_dir))?;
    } else {
        report.skip(NPM_STEP, "no tests/interop/package-lock.json");
    }

    const POSTGRES_STEP: &str = "throwaway PostgreSQL";
    // Held until the end of this function: the tests need the server, and dropping it stops it
    // and removes its folder whether the tests passed or not.
    let postgres = if options.postgres {
        Some(report.step(POSTGRES_STEP, ThrowawayPostgres::start)?)
    } else {
        report.skip(POSTGRES_STEP, "--no-postgres");
        None
    };

    report.step("cargo test", || cargo_test(workspace, postgres.as_ref()))?;
    report.step("fuzz targets, a few seconds each", || {
        crate::fuzz::smoke(workspace)
    })?;

    let browser_dir = workspace.root().join(BROWSER_DIR);
    report.step("browser npm ci", || npm_ci(&browser_dir))?;
    report.step("browser tests (chromium)", || {
        cmd::run(
            Command::new("node")
                .arg("run.mjs")
                .current_dir(&browser_dir)
                .env(
                    "VELDWERK_BIN",
                    workspace.target_dir().join("debug/veldwerk"),
                )
                .env("CHROMIUM", CHROMIUM),
        )
    })
}

/// The JS automerge-repo sync server of `bench/peer/`, on a free port and a temporary folder,
/// stopped on drop.
struct ReferenceServer {
    child: std::process::Child,
    port: u16,
    dir: std::path::PathBuf,
}

impl ReferenceServer {
    fn start(workspace: &Workspace) -> Result<Self> {
        use std::io::BufRead as _;
        let peer_dir = workspace.root().join("bench/peer");
        npm_ci(&peer_dir)?;
        let dir = std::env::temp_dir().join(format!("veldwerk-peer-{}", std::process::id()));
        fs::create_dir_all(&dir)?;
        let mut child = Command::new("node")
            .arg("server.mjs")
            .arg(&dir)
            .args(["--max-seconds", "900"])
            .current_dir(&peer_dir)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .context("could not start node bench/peer/server.mjs")?;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut line)
            .context("reading the reference server's port")?;
        let port = line
            .trim()
            .parse()
            .with_context(|| format!("the reference server said {line:?}, not a port"))?;
        Ok(Self { child, port, dir })
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }
}

impl Drop for ReferenceServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Debian's chromium and chromedriver: the browser tests drive them (no browser download works
/// on these machines).
fn ensure_chromium() -> Result<()> {
    if Path::new(CHROMIUM).is_file() && Path::new(CHROMEDRIVER).is_file() {
        return Ok(());
    }
    ensure!(
        cmd::is_root()?,
        "chromium is missing: install it (Debian: `apt-get install chromium chromium-driver`)"
    );
    cmd::apt_install(&["chromium", "chromium-driver"])
}

fn build_core_for_wasm(workspace: &Workspace) -> Result<()> {
    let rustup = || {
        let mut rustup = Command::new("rustup");
        // In the workspace, so a rust-toolchain file there picks the toolchain.
        rustup.current_dir(workspace.root());
        rustup
    };
    let installed = cmd::read(rustup().args(["target", "list", "--installed"]))?;
    if !installed.lines().any(|line| line.trim() == WASM_TARGET) {
        cmd::run(rustup().args(["target", "add", WASM_TARGET]))?;
    }
    cmd::run(&mut workspace.cargo(["build", "-p", "veldwerk-core", "--target", WASM_TARGET]))
}

/// The whole workspace's tests (xtask's own included) with, unless left out, the throwaway
/// PostgreSQL. The end-to-end tests find the `veldwerk` binary through cargo itself.
fn cargo_test(workspace: &Workspace, postgres: Option<&ThrowawayPostgres>) -> Result<()> {
    // --no-fail-fast: one CI run shows every failing test binary, not just the first.
    let mut test = workspace.cargo(["test", "--workspace", "--no-fail-fast"]);
    match postgres {
        Some(postgres) => test.env(POSTGRES_URL_VAR, postgres.url()),
        None => test.env_remove(POSTGRES_URL_VAR),
    };
    cmd::run(&mut test)
}

#[derive(Default)]
struct Report {
    steps: Vec<StepResult>,
}

struct StepResult {
    name: &'static str,
    status: Status,
}

enum Status {
    Passed(Duration),
    Failed(Duration),
    Skipped(&'static str),
}

impl Report {
    fn step<T>(&mut self, name: &'static str, step: impl FnOnce() -> Result<T>) -> Result<T> {
        let number = self.steps.len() + 1;
        eprintln!("\n==> {number}. {name}");
        let start = Instant::now();
        let result = step();
        let took = start.elapsed();
        let status = if result.is_ok() {
            Status::Passed(took)
        } else {
            Status::Failed(took)
        };
        eprintln!("<== {number}. {name}: {}", status.describe());
        self.steps.push(StepResult { name, status });
        result.with_context(|| format!("step {number} ({name}) failed"))
    }

    fn skip(&mut self, name: &'static str, reason: &'static str) {
        let number = self.steps.len() + 1;
        let status = Status::Skipped(reason);
        eprintln!("\n==> {number}. {name}: {}", status.describe());
        self.steps.push(StepResult { name, status });
    }

    fn print(&self) {
        eprintln!("\nxtask test:");
        for (index, step) in self.steps.iter().enumerate() {
            eprintln!(
                "  {}. {:<24} {}",
                index + 1,
                step.name,
                step.status.describe()
            );
        }
        let count = |wanted: fn(&Status) -> bool| {
            self.steps
                .iter()
                .filter(|step| wanted(&step.status))
                .count()
        };
        let passed = count(|status| matches!(status, Status::Passed(_)));
        let failed = count(|status| matches!(status, Status::Failed(_)));
        println!("{passed} passed, {failed} failed");
    }
}

impl Status {
    fn describe(&self) -> String {
        match self {
            Self::Passed(took) => format!("passed in {:.1}s", took.as_secs_f64()),
            Self::Failed(took) => format!("FAILED after {:.1}s", took.as_secs_f64()),
            Self::Skipped(reason) => format!("skipped ({reason})"),
        }
    }
}
