//! `cargo xtask bench`: builds the release server and the load generator, installs the reference
//! server's pinned npm packages, starts a throwaway PostgreSQL when one is installed, and runs
//! `veldwerk-bench`, which prints the table and writes it to `<cargo target dir>/bench/`.

use std::ffi::OsString;
use std::fs;
use std::process::ExitCode;

use anyhow::Result;

use crate::postgres::ThrowawayPostgres;
use crate::{Workspace, cmd};

/// The reference server (JS automerge-repo), with its own npm lockfile.
const PEER_DIR: &str = "bench/peer";
const POSTGRES_URL_VAR: &str = "VELDWERK_BENCH_POSTGRES_URL";
/// Where Debian installs PostgreSQL, one folder per major version.
const POSTGRES_ROOT: &str = "/usr/lib/postgresql";

pub struct Options {
    postgres: bool,
    /// Passed on to veldwerk-bench: workload sizes, `--only`, and so on.
    bench_args: Vec<OsString>,
}

impl Options {
    pub fn parse(args: &[OsString]) -> Self {
        let mut options = Self {
            postgres: true,
            bench_args: Vec::new(),
        };
        for arg in args {
            if arg == "--no-postgres" {
                options.postgres = false;
            } else if arg != "--" {
                options.bench_args.push(arg.clone());
            }
        }
        options
    }
}

pub fn run(workspace: &Workspace, options: Options) -> Result<ExitCode> {
    // Release builds: the figures are about the server as it is deployed.
    cmd::run(&mut workspace.cargo([
        "build",
        "--release",
        "--package",
        "veldwerk-server",
        "--package",
        "veldwerk-bench",
        "--bins",
    ]))?;
    crate::npm::npm_ci(&workspace.root().join(PEER_DIR))?;

    // Held until the bench has finished; dropping it stops the server and removes its folder.
    let postgres = if !options.postgres {
        eprintln!("--no-postgres: the two-node workload is skipped");
        None
    } else if !postgres_installed() {
        eprintln!(
            "PostgreSQL is not installed (no {POSTGRES_ROOT}/*/bin/initdb): the two-node \
             workload is skipped; `apt-get install postgresql` to run it"
        );
        None
    } else {
        match ThrowawayPostgres::start() {
            Ok(postgres) => Some(postgres),
            Err(error) => {
                eprintln!(
                    "warning: could not start a throwaway PostgreSQL, so the two-node workload \
                     is skipped: {error:#}"
                );
                None
            }
        }
    };

    let mut bench = workspace.cargo([
        "run",
        "--release",
        "--quiet",
        "--package",
        "veldwerk-bench",
        "--",
    ]);
    bench.args(&options.bench_args);
    match &postgres {
        Some(postgres) => bench.env(POSTGRES_URL_VAR, postgres.url()),
        None => bench.env_remove(POSTGRES_URL_VAR),
    };
    // veldwerk-bench prints the table itself and says what failed; its exit code is ours.
    let outcome = cmd::run(&mut bench);
    drop(postgres);
    Ok(match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    })
}

fn postgres_installed() -> bool {
    fs::read_dir(POSTGRES_ROOT).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|entry| entry.path().join("bin/initdb").is_file())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_everything_but_its_own_flag_to_the_bench() {
        let args: Vec<OsString> = ["--", "--no-postgres", "--only", "idle,storm"]
            .into_iter()
            .map(OsString::from)
            .collect();
        let options = Options::parse(&args);
        assert!(!options.postgres);
        assert_eq!(options.bench_args, ["--only", "idle,storm"]);
    }
}
