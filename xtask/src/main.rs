//! `cargo xtask run | test | tidy | fuzz | bench`: one entry point for building, running and checking Veldwerk,
//! so a developer, a new machine and CI all do the same thing.

mod app;
mod bench;
mod cmd;
mod fuzz;
mod npm;
mod postgres;
mod run;
mod test;
mod tidy;

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  run [-- ARGS]          build and run the server (`veldwerk serve ARGS`) on the embedded defaults
  test [--no-postgres]   everything CI checks: fmt, tidy, clippy, wasm32 build of core, interop npm
                         deps, a throwaway PostgreSQL, cargo test, every fuzz target for a few
                         seconds; --no-postgres leaves PostgreSQL out
  fuzz [TARGET] [--secs N]
                         build the libFuzzer targets of fuzz/ (stable Rust) and run TARGET, or
                         each in turn, for N seconds (default 60): runs and exec/s per target
  tidy                   only the architecture invariants: sqlx only in the store, no clock or
                         randomness in core, no file over 700 lines, every module in ARCHITECTURE.md
  bench [--no-postgres] [ARGS]
                         our server and the JS automerge-repo reference server under the same load,
                         side by side: a table on stdout and in <target>/bench/ (JSON, Markdown);
                         ARGS go to veldwerk-bench (`cargo xtask bench -- --help` lists them)";

fn main() -> ExitCode {
    let workspace = Workspace::locate();
    let mut args = std::env::args_os().skip(1);
    let command = args.next();
    let rest: Vec<OsString> = args.collect();
    let result = match command.as_deref().and_then(OsStr::to_str) {
        Some("run") => run::run(&workspace, strip_separator(&rest)).map(|()| ExitCode::SUCCESS),
        Some("test") => test::Options::parse(&rest).map(|options| test::run(&workspace, options)),
        Some("fuzz") => fuzz::Options::parse(&rest)
            .and_then(|options| fuzz::run(&workspace, options))
            .map(|()| ExitCode::SUCCESS),
        Some("tidy") => tidy::run(&workspace).map(|()| ExitCode::SUCCESS),
        Some("bench") => bench::run(&workspace, bench::Options::parse(&rest)),
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            eprintln!("{USAGE}");
            Ok(ExitCode::FAILURE)
        }
    };
    result.unwrap_or_else(|error| {
        eprintln!("xtask: {error:#}");
        ExitCode::FAILURE
    })
}

/// `cargo xtask run -- --flag` reaches us as `run -- --flag` (the alias already ends in `--`), so
/// one leading `--` is ours to drop; `cargo xtask run --flag` works too.
fn strip_separator(args: &[OsString]) -> &[OsString] {
    match args.split_first() {
        Some((first, rest)) if first == "--" => rest,
        _ => args,
    }
}

/// The workspace xtask belongs to, and the cargo that started it.
pub struct Workspace {
    root: PathBuf,
    cargo: OsString,
}

impl Workspace {
    fn locate() -> Self {
        let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest_dir
            .parent()
            .expect("xtask lives one folder below the workspace root")
            .to_path_buf();
        // The cargo that ran us, so every step uses the same toolchain.
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        Self { root, cargo }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Cargo's target folder: `CARGO_TARGET_DIR` if set, else `target/` in the workspace.
    pub fn target_dir(&self) -> PathBuf {
        match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => self.root.join(dir),
            None => self.root.join("target"),
        }
    }

    /// `cargo ARGS` in the workspace root.
    pub fn cargo<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new(&self.cargo);
        command.current_dir(&self.root).args(args);
        command
    }
}
