//! Starting, measuring and stopping the two servers under test: our `veldwerk` binary (set up
//! through its admin commands, on a fresh database) and the JS reference server in `bench/peer/`.
//! Each runs as its own process, so its memory can be read from /proc and nothing of the load
//! generator's work is counted as the server's.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::client::Endpoint;

/// How long a server may take to start listening.
const START_PATIENCE: Duration = Duration::from_secs(60);
/// How long a server may take to stop after SIGTERM before it is killed.
const STOP_PATIENCE: Duration = Duration::from_secs(15);
/// The reference server stops by itself after this long, whatever happens to us.
const PEER_MAX_SECONDS: u32 = 3600;

/// Which server a figure belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Veldwerk,
    Reference,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Veldwerk => "veldwerk",
            Kind::Reference => "reference",
        }
    }
}

/// Where the programs are.
#[derive(Clone, Debug)]
pub struct Programs {
    /// The release `veldwerk` binary.
    pub veldwerk: PathBuf,
    /// `bench/peer/`, with its node_modules installed.
    pub peer_dir: PathBuf,
    pub node: PathBuf,
}

/// Our server's first organisation, person and device on a bench database.
const ORGANISATION: &str = "Gemeente Bench";
const HANDLE: &str = "bench";

impl Programs {
    /// Sets up a fresh database for the bench (organisation, person, one device) and returns the
    /// device's bearer token. `url` is a `sqlite://` or `postgres://` URL.
    pub fn prepare_veldwerk_database(&self, url: &str) -> Result<String> {
        let admin = |args: &[&str]| -> Result<String> {
            let mut command = Command::new(&self.veldwerk);
            command
                .arg("admin")
                .args(args)
                .env("VELDWERK_DATABASE_URL", url)
                .stdin(Stdio::null())
                .stderr(Stdio::piped());
            let output = command
                .output()
                .with_context(|| format!("could not run {}", self.veldwerk.display()))?;
            ensure!(
                output.status.success(),
                "`veldwerk admin {}` failed ({}): {}",
                args.join(" "),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
            String::from_utf8(output.stdout).context("veldwerk printed non-UTF-8 output")
        };
        admin(&[
            "org",
            "add",
            "--name",
            ORGANISATION,
            "--kind",
            "municipality",
        ])?;
        admin(&[
            "user",
            "add",
            "--org",
            ORGANISATION,
            "--handle",
            HANDLE,
            "--role",
            "field_worker",
        ])?;
        let token = admin(&["token", "--user", HANDLE, "--device", "bench-tablets"])?;
        let token = token.trim().to_owned();
        ensure!(!token.is_empty(), "`veldwerk admin token` printed no token");
        Ok(token)
    }

    /// Starts `veldwerk serve` on port 0 of the loopback interface. `log` receives its output.
    pub fn start_veldwerk(&self, url: &str, token: &str, log_path: &Path) -> Result<Server> {
        let mut command = Command::new(&self.veldwerk);
        command
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("VELDWERK_DATABASE_URL", url)
            .env("VELDWERK_LOG_FORMAT", "json")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = spawn(&mut command, &self.veldwerk)?;
        let stderr = child.stderr.take().context("veldwerk's stderr is piped")?;
        let mut log = create_log(log_path)?;
        let (found, address) = mpsc::channel();
        // Reads the log for the whole life of the server: a full pipe would stall its logging.
        std::thread::spawn(move || {
            let mut found = Some(found);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log, "{line}");
                if let Some(address) = listening_address(&line)
                    && let Some(found) = found.take()
                {
                    let _ = found.send(address);
                }
            }
        });
        let mut server = Server {
            kind: Kind::Veldwerk,
            child,
            stdin: None,
            endpoint: Endpoint {
                url: String::new(),
                token: Some(token.to_owned()),
            },
            log_path: log_path.to_path_buf(),
        };
        let address = server.wait_for(&address, "veldwerk")?;
        server.endpoint.url = format!("ws://{address}/sync");
        Ok(server)
    }

    /// Starts the reference server storing into `storage`. `log` receives its diagnostics.
    pub fn start_reference(&self, storage: &Path, log: &Path) -> Result<Server> {
        let mut command = Command::new(&self.node);
        command
            .arg(self.peer_dir.join("server.mjs"))
            .arg(storage)
            .args(["--max-seconds", &PEER_MAX_SECONDS.to_string()])
            .current_dir(&self.peer_dir)
            // Open for as long as we live: the peer stops when it closes.
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(create_log(log)?);
        let mut child = spawn(&mut command, &self.node)?;
        let stdout = child.stdout.take().context("the peer's stdout is piped")?;
        let stdin = child.stdin.take();
        let (found, port) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next()
                && let Ok(port) = line.trim().parse::<u16>()
            {
                let _ = found.send(port);
            }
            // Whatever else it prints is not ours to read, but must not block it.
            for _ in lines {}
        });
        let mut server = Server {
            kind: Kind::Reference,
            child,
            stdin,
            endpoint: Endpoint {
                url: String::new(),
                token: None,
            },
            log_path: log.to_path_buf(),
        };
        let port = server.wait_for(&port, "the reference server")?;
        server.endpoint.url = format!("ws://127.0.0.1:{port}/");
        Ok(server)
    }
}

/// A running server process. Dropping it kills the process; `stop` ends it gracefully.
pub struct Server {
    pub kind: Kind,
    child: Child,
    /// The reference server's stdin, held open: it stops when this closes.
    stdin: Option<ChildStdin>,
    pub endpoint: Endpoint,
    log_path: PathBuf,
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the server process, in bytes (VmRSS of /proc/PID/status).
    pub fn rss_bytes(&self) -> Result<u64> {
        let path = format!("/proc/{}/status", self.pid());
        let status =
            std::fs::read_to_string(&path).with_context(|| format!("could not read {path}"))?;
        let line = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .with_context(|| format!("{path} has no VmRSS line"))?;
        let kib: u64 = line
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("VmRSS of {path} is {line:?}"))?;
        Ok(kib * 1024)
    }

    /// CPU time the server process has used so far (user and system), in seconds.
    pub fn cpu_seconds(&self) -> Result<f64> {
        let path = format!("/proc/{}/stat", self.pid());
        let stat =
            std::fs::read_to_string(&path).with_context(|| format!("could not read {path}"))?;
        // Fields after the command name (which may contain spaces) in parentheses; utime and
        // stime are fields 14 and 15 of the whole line, 12 and 13 of the rest.
        let rest = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .with_context(|| format!("{path} is not a stat line"))?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |index: usize| -> Result<u64> {
            fields
                .get(index)
                .and_then(|field| field.parse().ok())
                .with_context(|| format!("{path} has no field {}", index + 3))
        };
        let used = ticks(11)? + ticks(12)?;
        // SAFETY: sysconf has no memory-safety preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        ensure!(per_second > 0, "sysconf(_SC_CLK_TCK) failed");
        Ok(used as f64 / per_second as f64)
    }

    /// Waits until the reader thread reports the server's address, or the server dies.
    fn wait_for<T>(&mut self, found: &mpsc::Receiver<T>, what: &str) -> Result<T> {
        let deadline = Instant::now() + START_PATIENCE;
        loop {
            match found.recv_timeout(Duration::from_millis(100)) {
                Ok(value) => return Ok(value),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    bail!(
                        "{what} exited before it listened ({status:?}){}",
                        self.log_hint()
                    );
                }
            }
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{what} exited before it listened ({status}){}",
                    self.log_hint()
                );
            }
            ensure!(
                Instant::now() < deadline,
                "{what} did not listen within {START_PATIENCE:?}{}",
                self.log_hint()
            );
        }
    }

    fn log_hint(&self) -> String {
        format!("; see {}", self.log_path.display())
    }

    /// Asks the server to stop (SIGTERM; the reference flushes its storage first) and waits.
    pub fn stop(mut self) -> Result<()> {
        self.stdin.take();
        signal(self.pid(), libc::SIGTERM);
        let deadline = Instant::now() + STOP_PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                // Killed by our own SIGTERM counts as a clean stop too.
                ensure!(
                    status.success() || status.code().is_none(),
                    "{} exited with {status} when asked to stop",
                    self.kind.name()
                );
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "{} did not stop within {STOP_PATIENCE:?} of SIGTERM; killed",
                    self.kind.name()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Spawns `command` so that it receives SIGTERM when the thread that spawned it ends: a server
/// never outlives a bench that was killed. Call it from the main thread only (a tokio worker
/// thread may end earlier, and would take the server with it).
fn spawn(command: &mut Command, program: &Path) -> Result<Child> {
    // SAFETY: the closure runs in the child between fork and exec and only calls prctl, which is
    // async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command
        .spawn()
        .with_context(|| format!("could not start {}", program.display()))
}

fn signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our own live child.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

fn create_log(path: &Path) -> Result<File> {
    File::create(path).with_context(|| format!("could not create {}", path.display()))
}

/// The address in veldwerk's JSON log line "veldwerk is listening".
fn listening_address(line: &str) -> Option<String> {
    if !line.contains("veldwerk is listening") {
        return None;
    }
    let entry: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = entry.get("fields")?;
    (fields.get("message")?.as_str()? == "veldwerk is listening")
        .then(|| fields.get("address")?.as_str().map(str::to_owned))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_address_in_the_listening_line() {
        let line = r#"{"timestamp":"2025-01-01T00:00:00Z","level":"INFO","fields":{"message":"veldwerk is listening","address":"127.0.0.1:4321","database":"sqlite"},"target":"veldwerk_server"}"#;
        assert_eq!(listening_address(line).as_deref(), Some("127.0.0.1:4321"));
        assert_eq!(listening_address(r#"{"fields":{"message":"other"}}"#), None);
        assert_eq!(listening_address("veldwerk is listening, not JSON"), None);
    }
}
