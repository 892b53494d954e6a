//! veldwerk-bench: drives our server and the JS automerge-repo reference server with the same load
//! generator, one workload after another, and reports both side by side (run it through
//! `cargo xtask bench`, which builds everything it needs first).
//!
//! Each measurement gets a freshly started server on fresh storage; the two servers take turns
//! going first. Figures are compared as ratios measured in the same run, because the machine (two
//! cores, shared) is noisy in absolute terms.

mod cases;
mod client;
mod report;
mod server;
mod workloads;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail, ensure};
use clap::{Parser, ValueEnum};
use serde::Serialize;

use report::{Figure, Row, Target, Unit};
use server::{Kind, Programs};
use workloads::caseload::Caseload;
use workloads::idle::Idle;
use workloads::storm::Storm;
use workloads::throughput::Throughput;
use workloads::{Bench, both, by_kind};

/// Benchmarks veldwerk against the JS automerge-repo reference server.
#[derive(Debug, Clone, Parser, Serialize)]
#[command(name = "veldwerk-bench")]
pub struct Options {
    /// The release `veldwerk` binary [default: next to this program].
    #[arg(long)]
    veldwerk: Option<PathBuf>,
    /// The reference server's folder, with node_modules installed [default: bench/peer].
    #[arg(long)]
    peer_dir: Option<PathBuf>,
    /// The Node.js to run the reference server with.
    #[arg(long, default_value = "node")]
    node: PathBuf,
    /// Where to write bench.json and bench.md [default: <cargo target dir>/bench].
    #[arg(long)]
    out: Option<PathBuf>,
    /// An empty PostgreSQL database for the two-node workload; without it, that workload is
    /// skipped.
    #[arg(long, env = "VELDWERK_BENCH_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// Run only these workloads (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Workload>,

    /// Clients adding visits at once.
    #[arg(long, default_value_t = 100)]
    throughput_clients: usize,
    /// Cases each of those clients writes to, in turn.
    #[arg(long, default_value_t = 2)]
    cases_per_client: usize,
    /// Seconds the throughput is measured over.
    #[arg(long, default_value_t = 10)]
    throughput_secs: u64,
    /// Cases in the caseload a fresh tablet fetches.
    #[arg(long, default_value_t = 200)]
    caseload_cases: usize,
    /// Visits in each of those cases, each its own change.
    #[arg(long, default_value_t = 50)]
    caseload_visits: usize,
    /// Idle connections whose memory is measured.
    #[arg(long, default_value_t = 1000)]
    idle_clients: usize,
    /// Milliseconds to let memory settle before each reading.
    #[arg(long, default_value_t = 2000)]
    settle_ms: u64,
    /// Clients reconnecting at once with a pending change.
    #[arg(long, default_value_t = 1000)]
    storm_clients: usize,
    /// Changes sent through node 1 in the two-node workload.
    #[arg(long, default_value_t = 20)]
    fanout_samples: usize,
    /// Milliseconds a change may take to reach node 2's client.
    #[arg(long, default_value_t = 5000)]
    fanout_timeout_ms: u64,
    /// Characters of observation text per visit.
    #[arg(long, default_value_t = 240)]
    observation_chars: usize,
    /// Seconds any one step may take before its measurement counts as failed.
    #[arg(long, default_value_t = 120)]
    patience_secs: u64,
    /// Times each workload runs on each server; the median round is reported.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Seed for the generated text and ids.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Workload {
    Throughput,
    Caseload,
    Idle,
    Storm,
    Fanout,
}

/// What the figures were measured on.
#[derive(Debug, Serialize)]
struct Machine {
    processors: usize,
    cpu_model: Option<String>,
    memory_bytes: Option<u64>,
    kernel: Option<String>,
    node: Option<String>,
    load_average_at_start: Option<String>,
}

#[derive(Serialize)]
struct Results<'a> {
    started_at_unix: u64,
    seconds: f64,
    machine: &'a Machine,
    options: &'a Options,
    rows: &'a [Row],
    notes: &'a [String],
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = Options::parse();
    match run(options).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("veldwerk-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the workloads; `Ok(false)` when some measurement failed.
async fn run(options: Options) -> Result<bool> {
    let started = Instant::now();
    let started_at_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    ensure!(
        options.cases_per_client > 0 && options.throughput_secs > 0,
        "--cases-per-client and --throughput-secs must be at least 1"
    );
    let sockets = options.idle_clients.max(options.storm_clients) as u64;
    raise_open_file_limit(2 * sockets + 256)?;
    let programs = locate_programs(&options)?;
    let out = match &options.out {
        Some(out) => out.clone(),
        None => cargo_target_dir()?.join("bench"),
    };
    let machine = machine(&programs.node);
    let work_dir = tempfile::Builder::new()
        .prefix("veldwerk-bench-")
        .tempdir()
        .context("could not create a temporary folder")?;
    eprintln!(
        "veldwerk-bench: data and server logs in {}",
        work_dir.path().display()
    );

    let bench = Bench::new(programs, options.clone(), work_dir.path());
    let (rows, notes) = run_workloads(&bench).await;
    let seconds = started.elapsed().as_secs_f64();

    let table = report::text_table(&rows, &notes);
    println!("\n{table}");
    std::fs::create_dir_all(&out).with_context(|| format!("could not create {}", out.display()))?;
    let results = Results {
        started_at_unix,
        seconds,
        machine: &machine,
        options: &options,
        rows: &rows,
        notes: &notes,
    };
    let json_path = out.join("bench.json");
    let json = serde_json::to_string_pretty(&results).context("encoding the results")?;
    std::fs::write(&json_path, json + "\n")
        .with_context(|| format!("could not write {}", json_path.display()))?;
    let markdown_path = out.join("bench.md");
    std::fs::write(&markdown_path, markdown(&machine, seconds, &rows, &notes))
        .with_context(|| format!("could not write {}", markdown_path.display()))?;
    println!(
        "written: {} and {} ({seconds:.0} s in all)",
        json_path.display(),
        markdown_path.display()
    );

    let ok = !rows.iter().any(Row::failed);
    if ok {
        drop(work_dir);
    } else {
        let kept = work_dir.keep();
        eprintln!(
            "veldwerk-bench: some measurements failed; server logs kept in {}",
            kept.display()
        );
    }
    Ok(ok)
}

async fn run_workloads(bench: &Bench) -> (Vec<Row>, Vec<String>) {
    let options = &bench.options;
    let wanted = |workload| options.only.is_empty() || options.only.contains(&workload);
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    // The servers take turns going first, so neither always meets a machine warmed by the other.
    let mut order = [Kind::Veldwerk, Kind::Reference];
    let mut next_order = || {
        let this = order;
        order.reverse();
        this
    };

    if wanted(Workload::Throughput) {
        let clients = options.throughput_clients;
        section(&format!(
            "durable change throughput: {clients} clients, {} s",
            options.throughput_secs
        ));
        let results = both(
            next_order(),
            options.rounds,
            |t: &Throughput| t.changes_per_second,
            |kind| workloads::throughput::measure(bench, kind),
        )
        .await;
        let (ours, theirs) = by_kind(results);
        for (kind, result) in [(Kind::Veldwerk, &ours), (Kind::Reference, &theirs)] {
            if let Ok(t) = result {
                notes.push(format!(
                    "durable change throughput, {}: {} changes acknowledged in {} s by {clients} \
                     clients ({} sent); on the wire {} bytes in {} messages ({:.1} per change) \
                     for {} bytes of compressed changes ({} bytes uncompressed, as sync messages \
                     carry them); server CPU {:.1} s",
                    kind.name(),
                    t.acknowledged,
                    options.throughput_secs,
                    t.sent,
                    t.wire_bytes,
                    t.messages,
                    t.messages as f64 / t.sent.max(1) as f64,
                    t.compressed_change_bytes,
                    t.raw_change_bytes,
                    t.server_cpu_seconds
                ));
            }
        }
        rows.push(Row::new(
            "durable change throughput (changes/s)",
            Unit::ChangesPerSecond,
            Figure::from_result(&ours, |t| t.changes_per_second),
            Figure::from_result(&theirs, |t| t.changes_per_second),
            Some((Target::RatioAtLeast { bound: 5.0 }, "≥ 5")),
        ));
        rows.push(Row::new(
            "server CPU per change",
            Unit::Milliseconds,
            Figure::from_result(&ours, |t| t.server_cpu_ms_per_change()),
            Figure::from_result(&theirs, |t| t.server_cpu_ms_per_change()),
            None,
        ));
        rows.push(Row::new(
            "wire bytes ÷ compressed change bytes",
            Unit::Ratio,
            Figure::from_result(&ours, |t| t.wire_ratio()),
            Figure::from_result(&theirs, |t| t.wire_ratio()),
            Some((Target::VeldwerkAtMost { bound: 1.3 }, "veldwerk ≤ 1.3")),
        ));
    }

    if wanted(Workload::Caseload) {
        section(&format!(
            "initial caseload sync: {} cases × {} visits",
            options.caseload_cases, options.caseload_visits
        ));
        let results = both(
            next_order(),
            options.rounds,
            |c: &Caseload| c.seconds,
            |kind| workloads::caseload::measure(bench, kind),
        )
        .await;
        let (ours, theirs) = by_kind(results);
        rows.push(Row::new(
            "initial caseload sync: time",
            Unit::Seconds,
            Figure::from_result(&ours, |c| c.seconds),
            Figure::from_result(&theirs, |c| c.seconds),
            Some((
                Target::RatioAtMost { bound: 1.0 / 3.0 },
                "≤ 1/3 (3× faster)",
            )),
        ));
        rows.push(Row::new(
            "initial caseload sync: bytes on the wire",
            Unit::Bytes,
            Figure::from_result(&ours, |c| c.wire_bytes as f64),
            Figure::from_result(&theirs, |c| c.wire_bytes as f64),
            Some((Target::RatioAtMost { bound: 1.0 }, "≤ 1 (no more bytes)")),
        ));
    }

    if wanted(Workload::Idle) {
        section(&format!("idle connections: {}", options.idle_clients));
        let results = both(
            next_order(),
            options.rounds,
            Idle::bytes_per_connection,
            |kind| workloads::idle::measure(bench, kind),
        )
        .await;
        let (ours, theirs) = by_kind(results);
        for (kind, result) in [(Kind::Veldwerk, &ours), (Kind::Reference, &theirs)] {
            if let Ok(idle) = result {
                notes.push(format!(
                    "idle connections, {}: VmRSS {} bytes before and {} bytes with {} idle \
                     connections",
                    kind.name(),
                    idle.rss_before,
                    idle.rss_after,
                    idle.connections
                ));
            }
        }
        rows.push(Row::new(
            "memory per idle connection (RSS)",
            Unit::Bytes,
            Figure::from_result(&ours, |i| i.bytes_per_connection()),
            Figure::from_result(&theirs, |i| i.bytes_per_connection()),
            Some((Target::RatioAtMost { bound: 0.2 }, "≤ 1/5")),
        ));
    }

    if wanted(Workload::Storm) {
        section(&format!(
            "reconnect storm: {} clients with a pending change",
            options.storm_clients
        ));
        let results = both(
            next_order(),
            options.rounds,
            |s: &Storm| s.seconds,
            |kind| workloads::storm::measure(bench, kind),
        )
        .await;
        let (ours, theirs) = by_kind(results);
        for (kind, result) in [(Kind::Veldwerk, &ours), (Kind::Reference, &theirs)] {
            if let Ok(storm) = result {
                notes.push(format!(
                    "reconnect storm, {}: the last of {} clients was acknowledged {:.2} s after they \
                     all started connecting",
                    kind.name(),
                    storm.clients,
                    storm.seconds
                ));
            }
        }
        rows.push(Row::new(
            "reconnect storm: time until all converged",
            Unit::Seconds,
            Figure::from_result(&ours, |s| s.seconds),
            Figure::from_result(&theirs, |s| s.seconds),
            Some((Target::RatioAtMost { bound: 1.0 / 3.0 }, "≤ 1/3")),
        ));
    }

    if wanted(Workload::Fanout) {
        section("two nodes on one PostgreSQL: a change through node 1 reaching node 2");
        let (fanout, note) = fanout_rows(bench).await;
        rows.extend(fanout);
        notes.extend(note);
    }
    (rows, notes)
}

async fn fanout_rows(bench: &Bench) -> (Vec<Row>, Option<String>) {
    let reference = Figure::NotApplicable {
        reason: "the reference server has no shared database for several nodes".into(),
    };
    let mut note = None;
    let (median, p99) = match &bench.options.postgres_url {
        None => {
            let skipped = Figure::Skipped {
                reason: "no PostgreSQL (give --postgres-url; cargo xtask bench starts a \
                         throwaway one when PostgreSQL is installed)"
                    .into(),
            };
            (skipped.clone(), skipped)
        }
        Some(url) => match workloads::fanout::measure(bench, url).await {
            Ok(workloads::fanout::Fanout::Delivered {
                median_ms,
                p99_ms,
                samples,
            }) => {
                note = Some(format!(
                    "two nodes, PostgreSQL: all {samples} changes reached the client on node 2"
                ));
                (
                    Figure::Measured { value: median_ms },
                    Figure::Measured { value: p99_ms },
                )
            }
            Ok(workloads::fanout::Fanout::NotDelivered {
                delivered,
                attempted,
                timeout_ms,
            }) => {
                let missed = format!(
                    "change {attempted} did not reach the client on node 2 within {timeout_ms} ms"
                );
                let figure = Figure::Failed {
                    error: format!("{missed}, after {delivered} did"),
                };
                (figure.clone(), figure)
            }
            Err(error) => {
                eprintln!("    veldwerk failed: {error:#}");
                let figure = Figure::Failed {
                    error: format!("{error:#}"),
                };
                (figure.clone(), figure)
            }
        },
    };
    let rows = vec![
        Row::new(
            "two nodes, PostgreSQL: delivery to the other node, median",
            Unit::Milliseconds,
            median,
            reference.clone(),
            None,
        ),
        Row::new(
            "two nodes, PostgreSQL: delivery to the other node, p99",
            Unit::Milliseconds,
            p99,
            reference,
            None,
        ),
    ];
    (rows, note)
}

fn section(title: &str) {
    eprintln!("==> {title}");
}

/// 1,000+ sockets need more file descriptors than some shells allow by default. The servers are
/// started by this process, so they inherit the raised limit.
fn raise_open_file_limit(needed: u64) -> Result<()> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error()).context("getrlimit(RLIMIT_NOFILE)");
    }
    if limit.rlim_cur >= needed {
        return Ok(());
    }
    ensure!(
        limit.rlim_max >= needed,
        "the open-file limit is {} (hard), and this run needs {needed}: raise it (ulimit -Hn) or \
         use fewer --idle-clients/--storm-clients",
        limit.rlim_max
    );
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(std::io::Error::last_os_error()).context("setrlimit(RLIMIT_NOFILE)");
    }
    Ok(())
}

fn locate_programs(options: &Options) -> Result<Programs> {
    let veldwerk = match &options.veldwerk {
        Some(path) => path.clone(),
        None => std::env::current_exe()
            .context("could not find this program's path")?
            .with_file_name("veldwerk"),
    };
    ensure!(
        veldwerk.is_file(),
        "no veldwerk binary at {}: build it with `cargo build --release -p veldwerk-server` \
         (cargo xtask bench does) or pass --veldwerk",
        veldwerk.display()
    );
    let peer_dir = match &options.peer_dir {
        Some(path) => path.clone(),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("peer"),
    };
    ensure!(
        peer_dir
            .join("node_modules/@automerge/automerge-repo")
            .is_dir(),
        "{} has no node_modules: run `npm ci` there (cargo xtask bench does)",
        peer_dir.display()
    );
    Ok(Programs {
        veldwerk,
        peer_dir,
        node: options.node.clone(),
    })
}

/// The cargo target directory, which CARGO_TARGET_DIR or a config file may have moved.
fn cargo_target_dir() -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(&cargo)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .context("could not run cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("cargo metadata printed no JSON")?;
    let dir = metadata
        .get("target_directory")
        .and_then(serde_json::Value::as_str)
        .context("cargo metadata names no target_directory")?;
    Ok(PathBuf::from(dir))
}

fn machine(node: &Path) -> Machine {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let cpu_model = read("/proc/cpuinfo").and_then(|info| {
        info.lines()
            .find_map(|line| line.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map(|(_, model)| model.trim().to_owned())
    });
    let memory_bytes = read("/proc/meminfo").and_then(|info| {
        info.lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kib| kib * 1024)
    });
    let node = Command::new(node)
        .arg("--version")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_owned());
    Machine {
        processors: std::thread::available_parallelism().map_or(1, usize::from),
        cpu_model,
        memory_bytes,
        kernel: read("/proc/sys/kernel/osrelease").map(|s| s.trim().to_owned()),
        node,
        load_average_at_start: read("/proc/loadavg").map(|s| s.trim().to_owned()),
    }
}

fn markdown(machine: &Machine, seconds: f64, rows: &[Row], notes: &[String]) -> String {
    let memory = machine.memory_bytes.map_or("unknown".into(), |bytes| {
        format!("{:.1} GiB", bytes as f64 / (1024.0 * 1024.0 * 1024.0))
    });
    format!(
        "# cargo xtask bench\n\n\
         Machine: {} processors, {}, {memory} memory, Linux {}, Node {}; load average at the \
         start {}. The run took {seconds:.0} s.\n\n{}",
        machine.processors,
        machine.cpu_model.as_deref().unwrap_or("unknown CPU"),
        machine.kernel.as_deref().unwrap_or("unknown"),
        machine.node.as_deref().unwrap_or("unknown"),
        machine
            .load_average_at_start
            .as_deref()
            .unwrap_or("unknown"),
        report::markdown_table(rows, notes)
    )
}
