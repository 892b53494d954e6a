//! The workloads, and what they share: a fresh server per measurement (its own database or
//! storage folder), the options that size them, and the bookkeeping of many client tasks. Every
//! wait is bounded by `--patience-secs`; every server is stopped whichever way a measurement ends.

pub mod caseload;
pub mod fanout;
pub mod idle;
pub mod storm;
pub mod throughput;

use std::cell::Cell;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::Options;
use crate::client::{Client, Endpoint, Held, Traffic};
use crate::server::{Kind, Programs, Server};

/// Everything a workload needs to start servers and size its load.
pub struct Bench {
    pub programs: Programs,
    pub options: Options,
    work_dir: PathBuf,
    instances: Cell<u32>,
}

/// One server's data: a folder, and for our server the database in it and the bench's token.
pub struct Instance {
    pub kind: Kind,
    dir: PathBuf,
    database_url: String,
    token: String,
    starts: Cell<u32>,
}

impl Bench {
    pub fn new(programs: Programs, options: Options, work_dir: &Path) -> Self {
        Self {
            programs,
            options,
            work_dir: work_dir.to_path_buf(),
            instances: Cell::new(0),
        }
    }

    /// A server of `kind` with nothing stored yet, for `workload`.
    pub fn instance(&self, kind: Kind, workload: &str) -> Result<Instance> {
        let number = self.instances.get() + 1;
        self.instances.set(number);
        let dir = self
            .work_dir
            .join(format!("{number:02}-{workload}-{}", kind.name()));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        let (database_url, token) = match kind {
            Kind::Veldwerk => {
                let url = format!("sqlite://{}", dir.join("veldwerk.db").display());
                let token = self.programs.prepare_veldwerk_database(&url)?;
                (url, token)
            }
            Kind::Reference => (String::new(), String::new()),
        };
        Ok(Instance {
            kind,
            dir,
            database_url,
            token,
            starts: Cell::new(0),
        })
    }

    /// Our server on a database someone else provides (PostgreSQL), set up for the bench.
    pub fn shared_database(&self, url: &str, workload: &str) -> Result<Instance> {
        let number = self.instances.get() + 1;
        self.instances.set(number);
        let dir = self
            .work_dir
            .join(format!("{number:02}-{workload}-veldwerk"));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("could not create {}", dir.display()))?;
        let token = self.programs.prepare_veldwerk_database(url)?;
        Ok(Instance {
            kind: Kind::Veldwerk,
            dir,
            database_url: url.to_owned(),
            token,
            starts: Cell::new(0),
        })
    }

    /// Starts a server process on the instance's data (again, after a stop: a restart).
    /// Must be called from the bench's main task, never from a spawned one (see `server::spawn`).
    pub fn start(&self, instance: &Instance) -> Result<Server> {
        let start = instance.starts.get() + 1;
        instance.starts.set(start);
        let log = instance.dir.join(format!("server-{start}.log"));
        match instance.kind {
            Kind::Veldwerk => {
                self.programs
                    .start_veldwerk(&instance.database_url, &instance.token, &log)
            }
            Kind::Reference => {
                let storage = instance.dir.join("storage");
                self.programs.start_reference(&storage, &log)
            }
        }
    }

    /// How long any one step may take before the measurement counts as failed.
    pub fn patience(&self) -> Duration {
        Duration::from_secs(self.options.patience_secs)
    }

    pub fn deadline(&self) -> Instant {
        Instant::now() + self.patience()
    }
}

/// Stops the server whatever the outcome; a failure to stop is reported, the outcome kept.
pub fn finish<T>(server: Server, outcome: Result<T>) -> Result<T> {
    let kind = server.kind;
    if let Err(error) = server.stop() {
        eprintln!("warning: stopping {}: {error:#}", kind.name());
    }
    outcome
}

/// Runs `measure` against each server `rounds` times, the servers taking turns to go first
/// (starting with `order`), and keeps for each server the round whose `key` is the median. A
/// failure of one server does not stop the other; a server's first failure ends its rounds.
pub async fn both<T, F, Fut>(
    order: [Kind; 2],
    rounds: usize,
    key: impl Fn(&T) -> f64,
    mut measure: F,
) -> [(Kind, Result<T>); 2]
where
    F: FnMut(Kind) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut runs: [(Kind, Result<Vec<T>>); 2] = order.map(|kind| (kind, Ok(Vec::new())));
    for round in 0..rounds.max(1) {
        let turn: [usize; 2] = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for index in turn {
            let (kind, results) = &mut runs[index];
            let Ok(done) = results else { continue };
            if rounds > 1 {
                eprintln!("    {} round {}", kind.name(), round + 1);
            }
            match measure(*kind).await {
                Ok(outcome) => done.push(outcome),
                Err(error) => {
                    report_failure(*kind, &error);
                    *results = Err(error);
                }
            }
        }
    }
    runs.map(|(kind, results)| {
        let median = results.and_then(|mut done| {
            done.sort_by(|a, b| key(a).total_cmp(&key(b)));
            let middle = done.len() / 2;
            done.into_iter().nth(middle).context("no rounds were run")
        });
        (kind, median)
    })
}

fn report_failure(kind: Kind, error: &anyhow::Error) {
    eprintln!("    {} failed: {error:#}", kind.name());
}

/// The two results in table order: ours first.
pub fn by_kind<T>(results: [(Kind, Result<T>); 2]) -> (Result<T>, Result<T>) {
    let [(first_kind, first), (_, second)] = results;
    match first_kind {
        Kind::Veldwerk => (first, second),
        Kind::Reference => (second, first),
    }
}

/// Awaits every task; on the first failure the others are aborted and that failure returned.
pub async fn join_all<T>(handles: Vec<JoinHandle<Result<T>>>) -> Result<Vec<T>> {
    let mut results = Vec::with_capacity(handles.len());
    let mut handles = handles.into_iter();
    while let Some(handle) = handles.next() {
        let outcome = handle
            .await
            .map_err(|e| anyhow!("a client task ended abnormally: {e}"))
            .and_then(|outcome| outcome);
        match outcome {
            Ok(value) => results.push(value),
            Err(error) => {
                for rest in handles {
                    rest.abort();
                }
                return Err(error);
            }
        }
    }
    Ok(results)
}

/// Documents one connection pushes at once: our server lets a connection negotiate at most 32
/// documents it does not know yet at a time, and refuses more.
const NEW_DOCUMENTS_AT_ONCE: usize = 16;

/// Pushes documents to the server through `connections` connections at once, each pushing its
/// share in batches; returns them once the server has acknowledged them all.
pub async fn push_through(
    bench: &Bench,
    endpoint: &Endpoint,
    docs: Vec<Held>,
    connections: usize,
) -> Result<Vec<Held>> {
    let traffic = Traffic::new();
    let share = docs.len().div_ceil(connections.max(1)).max(1);
    let mut docs = docs.into_iter();
    let mut handles = Vec::new();
    loop {
        let mut part: Vec<Held> = docs.by_ref().take(share).collect();
        if part.is_empty() {
            break;
        }
        let endpoint = endpoint.clone();
        let traffic = traffic.clone();
        let deadline = bench.deadline();
        handles.push(tokio::spawn(async move {
            let mut client = Client::connect(&endpoint, traffic, deadline).await?;
            for batch in part.chunks_mut(NEW_DOCUMENTS_AT_ONCE) {
                client.push(batch, deadline).await?;
            }
            client.close().await;
            Ok(part)
        }));
    }
    Ok(join_all(handles).await?.into_iter().flatten().collect())
}

/// Median and 99th percentile (nearest rank) of a sample.
pub fn percentiles(samples: &mut [f64]) -> Option<(f64, f64)> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let index = ((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1;
        samples[index]
    };
    Some((rank(0.5), rank(0.99)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(percentiles(&mut samples), Some((50.0, 99.0)));
        assert_eq!(percentiles(&mut [7.0]), Some((7.0, 7.0)));
        assert_eq!(percentiles(&mut []), None);
    }
}
