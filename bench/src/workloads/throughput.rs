//! Durable change throughput: many clients, each adding visits to its own cases as fast as the
//! server acknowledges them (one change in flight per client). Also yields the wire efficiency:
//! payload bytes in both directions per byte of compressed change sent.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::{Bench, finish, join_all};
use crate::cases::{CaseWriter, change_sizes};
use crate::client::{Client, Endpoint, Held, Traffic};
use crate::server::{Kind, Server};

/// What one server achieved.
#[derive(Debug, Clone)]
pub struct Throughput {
    pub changes_per_second: f64,
    /// Changes acknowledged within the measured period.
    pub acknowledged: u64,
    /// Changes sent from the start of the period until the last one was acknowledged.
    pub sent: u64,
    pub wire_bytes: u64,
    pub compressed_change_bytes: u64,
    pub raw_change_bytes: u64,
    /// Protocol messages in both directions.
    pub messages: u64,
    /// CPU the server process used from the start of the period until the last acknowledgement.
    pub server_cpu_seconds: f64,
}

impl Throughput {
    /// Payload bytes on the wire per byte of compressed change.
    pub fn wire_ratio(&self) -> f64 {
        self.wire_bytes as f64 / self.compressed_change_bytes.max(1) as f64
    }

    /// Server CPU per change sent, in milliseconds.
    pub fn server_cpu_ms_per_change(&self) -> f64 {
        self.server_cpu_seconds * 1000.0 / self.sent.max(1) as f64
    }
}

/// One client's tally.
#[derive(Default)]
struct Tally {
    acknowledged_in_time: u64,
    sent: u64,
    compressed: u64,
    raw: u64,
}

pub async fn measure(bench: &Bench, kind: Kind) -> Result<Throughput> {
    let instance = bench.instance(kind, "throughput")?;
    let server = bench.start(&instance)?;
    let outcome = drive(bench, &server).await;
    finish(server, outcome)
}

async fn drive(bench: &Bench, server: &Server) -> Result<Throughput> {
    let options = &bench.options;
    let clients = options.throughput_clients;
    let period = std::time::Duration::from_secs(options.throughput_secs);
    let setup_traffic = Traffic::new();
    let traffic = Traffic::new();
    let (ready_tx, mut ready_rx) = mpsc::channel::<()>(clients.max(1));
    // None: wait; Some(true): go; Some(false): give up (another client failed its set-up).
    let (go_tx, go_rx) = watch::channel(None::<bool>);
    let mut handles = Vec::with_capacity(clients);
    for number in 0..clients {
        let endpoint = server.endpoint.clone();
        let setup_traffic = setup_traffic.clone();
        let traffic = traffic.clone();
        let ready = ready_tx.clone();
        let go = go_rx.clone();
        let job = Job {
            number,
            cases: options.cases_per_client,
            seed: options
                .seed
                .wrapping_mul(1_000_003)
                .wrapping_add(number as u64),
            observation_chars: options.observation_chars,
            period,
            patience: bench.patience(),
        };
        handles.push(tokio::spawn(async move {
            job.run(&endpoint, setup_traffic, traffic, ready, go).await
        }));
    }
    drop(ready_tx);

    let setup_deadline = bench.deadline();
    let mut ready = 0;
    while ready < clients {
        match tokio::time::timeout_at(setup_deadline, ready_rx.recv()).await {
            Ok(Some(())) => ready += 1,
            // A client gave up before it was ready, or set-up is taking too long.
            Ok(None) | Err(_) => break,
        }
    }
    if ready < clients {
        let _ = go_tx.send(Some(false));
        join_all(handles).await?;
        bail!("only {ready} of {clients} clients finished set-up");
    }
    let cpu_before = server.cpu_seconds()?;
    let _ = go_tx.send(Some(true));
    let tallies = join_all(handles).await?;
    let server_cpu_seconds = server.cpu_seconds()? - cpu_before;

    let acknowledged: u64 = tallies.iter().map(|t| t.acknowledged_in_time).sum();
    Ok(Throughput {
        changes_per_second: acknowledged as f64 / period.as_secs_f64(),
        acknowledged,
        sent: tallies.iter().map(|t| t.sent).sum(),
        wire_bytes: traffic.total(),
        compressed_change_bytes: tallies.iter().map(|t| t.compressed).sum(),
        raw_change_bytes: tallies.iter().map(|t| t.raw).sum(),
        messages: traffic.messages(),
        server_cpu_seconds,
    })
}

/// One client's part.
struct Job {
    number: usize,
    cases: usize,
    seed: u64,
    observation_chars: usize,
    period: std::time::Duration,
    patience: std::time::Duration,
}

impl Job {
    async fn run(
        self,
        endpoint: &Endpoint,
        setup_traffic: Arc<Traffic>,
        traffic: Arc<Traffic>,
        ready: mpsc::Sender<()>,
        mut go: watch::Receiver<Option<bool>>,
    ) -> Result<Tally> {
        let mut writer = CaseWriter::new(self.seed, self.observation_chars);
        let mut docs = Vec::with_capacity(self.cases);
        for case in 0..self.cases {
            docs.push(Held {
                id: writer.document_id(),
                doc: writer.new_case(self.number * self.cases + case)?,
                has_content: true,
            });
        }
        // Set-up on its own connection, so the measured one carries only measured traffic.
        let deadline = Instant::now() + self.patience;
        let mut setup = Client::connect(endpoint, setup_traffic, deadline).await?;
        setup
            .push(&mut docs, deadline)
            .await
            .context("creating the client's cases")?;
        setup.close().await;
        let mut client = Client::connect(endpoint, traffic, deadline).await?;
        let _ = ready.send(()).await;
        drop(ready);
        let go_ahead = *go
            .wait_for(Option::is_some)
            .await
            .context("the bench stopped before the start")?;
        if go_ahead != Some(true) {
            client.close().await;
            return Ok(Tally::default());
        }

        // A new connection starts with a fresh sync state: the first round trip per document
        // only learns the server's heads. That is part of the measured traffic, as it is of a
        // real tablet's.
        let end = Instant::now() + self.period;
        let mut tally = Tally::default();
        let mut turn = 0;
        while Instant::now() < end {
            let index = turn % docs.len();
            let held = &mut docs[index];
            turn += 1;
            let hash = writer.add_visit(&mut held.doc)?;
            let (compressed, raw) = change_sizes(&mut held.doc, hash)?;
            tally.sent += 1;
            tally.compressed += compressed;
            tally.raw += raw;
            client
                .push(std::slice::from_mut(held), Instant::now() + self.patience)
                .await
                .context("waiting for an acknowledgement")?;
            if Instant::now() <= end {
                tally.acknowledged_in_time += 1;
            }
        }
        client.close().await;
        Ok(tally)
    }
}
