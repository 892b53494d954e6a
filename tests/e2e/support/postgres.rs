//! A PostgreSQL cluster of one test's own, in its own temporary folder and
//! reachable only through a Unix socket there, so the test can stop it and
//! start it again without touching the shared test server. Its tools run as
//! the `postgres` user when we are root, who may not run initdb.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// Where Debian installs the server binaries, one folder per major version.
const INSTALL_ROOT: &str = "/usr/lib/postgresql";

pub struct OwnPostgres {
    dir: TempDir,
    bin: PathBuf,
    as_postgres_user: bool,
}

impl OwnPostgres {
    /// Makes and starts a cluster; `Err` says why there can be none here
    /// (no PostgreSQL binaries installed). Any other failure panics.
    pub fn start() -> Result<Self, String> {
        let bin = newest_bin_dir().ok_or_else(|| {
            format!("no PostgreSQL binaries ({INSTALL_ROOT}/*/bin/initdb) on this machine")
        })?;
        let as_postgres_user = is_root();
        let dir = tempfile::Builder::new()
            .prefix("veldwerk-own-pg-")
            .tempdir_in("/tmp")
            .expect("a temporary folder");
        if as_postgres_user {
            run(Command::new("chown").arg("postgres").arg(dir.path()));
        }
        let cluster = Self {
            dir,
            bin,
            as_postgres_user,
        };
        run(cluster
            .tool("initdb")
            .arg("-D")
            .arg(cluster.data_dir())
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"]));
        cluster.start_again();
        Ok(cluster)
    }

    /// The URL of database `name` in this cluster.
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgres:///{name}?host={}&user=postgres",
            self.dir.path().display()
        )
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start_again(&self) {
        let options = format!("-k {} -c listen_addresses=''", self.dir.path().display());
        run(self
            .tool("pg_ctl")
            .arg("-w")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-o")
            .arg(options)
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .arg("start"));
    }

    /// Stops the server at once, as a crash would: no checkpoint, open
    /// transactions cut off, crash recovery on the next start.
    pub fn stop_abruptly(&self) {
        run(self
            .tool("pg_ctl")
            .arg("-w")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-m", "immediate", "stop"]));
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn tool(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        let mut command = if self.as_postgres_user {
            let mut runuser = Command::new("runuser");
            runuser.args(["-u", "postgres", "--"]).arg(program);
            runuser
        } else {
            Command::new(program)
        };
        // The test's working directory may be closed to the postgres user.
        command.current_dir(self.dir.path());
        command
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        if self.data_dir().join("postmaster.pid").exists() {
            let _ = self
                .tool("pg_ctl")
                .arg("-D")
                .arg(self.data_dir())
                .args(["-m", "immediate", "stop"])
                .output();
        }
    }
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(1).map(|uid| uid == "0")
        })
        .unwrap_or(false)
}

/// The `bin` folder of the newest installed PostgreSQL.
fn newest_bin_dir() -> Option<PathBuf> {
    std::fs::read_dir(INSTALL_ROOT)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version: Vec<u32> = entry
                .file_name()
                .to_str()?
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<_>>()?;
            let bin = entry.path().join("bin");
            Path::new(&bin)
                .join("initdb")
                .is_file()
                .then_some((version, bin))
        })
        .max_by(|(a, _), (b, _)| a.cmp(b))
        .map(|(_, bin)| bin)
}
