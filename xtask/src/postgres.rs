//! A throwaway PostgreSQL server for one `cargo xtask test` run, so the store tests meet the real
//! database without needing, or touching, any server already on the machine.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};

use crate::cmd;

/// Where Debian installs the server binaries, one folder per major version.
const INSTALL_ROOT: &str = "/usr/lib/postgresql";
/// Our folders in the temp dir are named `PREFIX<pid>-<nanos>`, so stale ones can be recognised.
const DIR_PREFIX: &str = "veldwerk-test-pg-";
/// Linux's limit on a Unix socket path (`sun_path`), including the terminating NUL.
const MAX_SOCKET_PATH: usize = 108;

/// A running server in its own temp folder, reachable only through a Unix socket in that folder.
/// Dropping it stops the server and removes the folder, also when the tests failed.
pub struct ThrowawayPostgres {
    dir: PathBuf,
    bin: PathBuf,
    /// Root may not run initdb, so as root the tools run as the `postgres` user.
    as_postgres_user: bool,
}

impl ThrowawayPostgres {
    pub fn start() -> Result<Self> {
        let uid = cmd::current_uid()?;
        let as_root = uid == 0;
        let bin = find_bin_dir(as_root)?;
        remove_stale(&bin, uid);

        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}-{nanos}", std::process::id()));
        let socket_path_len = dir.join(".s.PGSQL.5432").as_os_str().len();
        ensure!(
            socket_path_len < MAX_SOCKET_PATH,
            "{} is too long a path for PostgreSQL's Unix socket: set TMPDIR to a shorter folder",
            dir.display()
        );
        let Some(dir_str) = dir.to_str().filter(|dir| !dir.contains('\'')) else {
            bail!(
                "{} cannot be passed to pg_ctl: set TMPDIR to a plain path",
                dir.display()
            );
        };
        let socket_options = format!("-k '{dir_str}' -c listen_addresses='' -c fsync=off");
        fs::create_dir(&dir).with_context(|| format!("could not create {}", dir.display()))?;
        // From here on, dropping `postgres` cleans up whatever the next steps leave behind.
        let postgres = Self {
            dir,
            bin,
            as_postgres_user: as_root,
        };
        if as_root {
            cmd::run_quietly(Command::new("chown").arg("postgres").arg(&postgres.dir))?;
        }
        // UTF8 with the C locale, so the tests see the same database whatever the machine's LANG.
        cmd::run_quietly(
            postgres
                .tool("initdb")
                .arg("-D")
                .arg(postgres.data_dir())
                .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"]),
        )?;
        let log = postgres.dir.join("log");
        cmd::run_quietly(
            postgres
                .tool("pg_ctl")
                .arg("-w")
                .arg("-D")
                .arg(postgres.data_dir())
                .arg("-o")
                .arg(&socket_options)
                .arg("-l")
                .arg(&log)
                .arg("start"),
        )
        .with_context(|| {
            let log = fs::read_to_string(&log).unwrap_or_default();
            format!("PostgreSQL did not start; its log:\n{log}")
        })?;
        Ok(postgres)
    }

    /// The connection URL for the `postgres` database; tests create their own databases in it.
    pub fn url(&self) -> String {
        format!(
            "postgres:///postgres?host={}&user=postgres",
            percent_encode(&self.dir)
        )
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A PostgreSQL tool, run as the `postgres` user when we are root.
    fn tool(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        let mut command = if self.as_postgres_user {
            let mut runuser = Command::new("runuser");
            runuser.args(["-u", "postgres", "--"]).arg(program);
            runuser
        } else {
            Command::new(program)
        };
        // Our working directory may be closed to the postgres user.
        command.current_dir(&self.dir);
        command
    }
}

impl Drop for ThrowawayPostgres {
    fn drop(&mut self) {
        if self.data_dir().join("postmaster.pid").exists() {
            let mut stop = self.tool("pg_ctl");
            stop.arg("-D")
                .arg(self.data_dir())
                .args(["-m", "immediate", "stop"]);
            if let Err(error) = cmd::run_quietly(&mut stop) {
                eprintln!("warning: could not stop PostgreSQL: {error:#}");
            }
        }
        if let Err(error) = fs::remove_dir_all(&self.dir) {
            eprintln!("warning: could not remove {}: {error}", self.dir.display());
        }
    }
}

/// The `bin` folder of the newest installed PostgreSQL, installing it when we are root.
fn find_bin_dir(as_root: bool) -> Result<PathBuf> {
    if let Some(bin) = newest_bin_dir() {
        return Ok(bin);
    }
    if !as_root {
        bail!(
            "PostgreSQL is not installed (no {INSTALL_ROOT}/*/bin/initdb): \
             run `apt-get install postgresql` as root, or run `cargo xtask test --no-postgres`"
        );
    }
    cmd::apt_install(&["postgresql"])?;
    newest_bin_dir().with_context(|| {
        format!("installed postgresql, but there is still no {INSTALL_ROOT}/*/bin/initdb")
    })
}

fn newest_bin_dir() -> Option<PathBuf> {
    fs::read_dir(INSTALL_ROOT)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = parse_version(entry.file_name().to_str()?)?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .max_by(|(a, _), (b, _)| a.cmp(b))
        .map(|(_, bin)| bin)
}

/// "15" or "9.6" as numbers, so that 10 sorts after 9.
fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

/// Stops and removes servers of earlier runs that were killed before they could clean up (pg_ctl
/// detaches the server, so Ctrl-C leaves it running). Best effort: a leftover is no reason to fail.
fn remove_stale(bin: &Path, uid: u32) {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|name| name.strip_prefix(DIR_PREFIX))
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        let still_running = Path::new("/proc").join(pid).exists();
        // Only root may clean up after others (as root our folders belong to `postgres`).
        let ours = uid == 0 || entry.metadata().is_ok_and(|meta| meta.uid() == uid);
        if still_running || !ours {
            continue;
        }
        eprintln!("removing {} left by an earlier run", entry.path().display());
        drop(ThrowawayPostgres {
            dir: entry.path(),
            bin: bin.to_path_buf(),
            as_postgres_user: uid == 0,
        });
    }
}

/// The folder as a URL query value: everything but unreserved characters and `/` escaped.
fn percent_encode(path: &Path) -> String {
    path.as_os_str()
        .as_bytes()
        .iter()
        .map(|&byte| {
            if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
                char::from(byte).to_string()
            } else {
                format!("%{byte:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_major_versions_sort_last() {
        assert!(parse_version("9.6") < parse_version("10"));
        assert!(parse_version("15") < parse_version("17"));
        assert_eq!(parse_version("main"), None);
    }

    #[test]
    fn url_escapes_the_socket_folder() {
        assert_eq!(
            percent_encode(Path::new("/tmp/a b&c/veldwerk-test-pg-1-2")),
            "/tmp/a%20b%26c/veldwerk-test-pg-1-2"
        );
    }
}
