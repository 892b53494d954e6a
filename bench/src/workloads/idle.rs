//! Idle connections: many joined clients that send nothing, and what each costs the server in
//! resident memory: VmRSS after connecting them all, minus before, divided by their number.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, ensure};
use tokio::sync::{Semaphore, mpsc, watch};

use super::{Bench, finish, join_all};
use crate::client::{Client, Traffic};
use crate::server::{Kind, Server};

/// Connections opened at the same time while filling up (a connect storm is another workload).
const CONNECTING_AT_ONCE: usize = 64;
/// Connections opened and closed before the baseline, so one-time costs of the first
/// connections (buffers, pools, code paths warmed up) are not charged to the idle ones.
const WARM_UP_CONNECTIONS: usize = 16;

#[derive(Debug, Clone)]
pub struct Idle {
    pub connections: usize,
    pub rss_before: u64,
    pub rss_after: u64,
}

impl Idle {
    pub fn bytes_per_connection(&self) -> f64 {
        (self.rss_after as f64 - self.rss_before as f64) / self.connections.max(1) as f64
    }
}

pub async fn measure(bench: &Bench, kind: Kind) -> Result<Idle> {
    let instance = bench.instance(kind, "idle")?;
    let server = bench.start(&instance)?;
    let outcome = drive(bench, &server).await;
    finish(server, outcome)
}

async fn drive(bench: &Bench, server: &Server) -> Result<Idle> {
    let connections = bench.options.idle_clients;
    let settle = Duration::from_millis(bench.options.settle_ms);
    let traffic = Traffic::new();

    let mut warm_up = Vec::with_capacity(WARM_UP_CONNECTIONS);
    for _ in 0..WARM_UP_CONNECTIONS {
        warm_up.push(Client::connect(&server.endpoint, traffic.clone(), bench.deadline()).await?);
    }
    for client in warm_up {
        client.close().await;
    }
    // Memory settles over time (allocator, garbage collector); both servers get the same wait.
    tokio::time::sleep(settle).await;
    let rss_before = server.rss_bytes()?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let (joined_tx, mut joined_rx) = mpsc::channel::<()>(connections.max(1));
    let connecting = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let mut handles = Vec::with_capacity(connections);
    for _ in 0..connections {
        let endpoint = server.endpoint.clone();
        let traffic = traffic.clone();
        let stop = stop_rx.clone();
        let joined = joined_tx.clone();
        let connecting = connecting.clone();
        let deadline = bench.deadline();
        // Long enough to outlast the whole measurement; `stop` normally ends it first.
        let idle_until = deadline + bench.patience();
        handles.push(tokio::spawn(async move {
            let permit = connecting.acquire_owned().await?;
            let client = Client::connect(&endpoint, traffic, deadline).await?;
            drop(permit);
            let _ = joined.send(()).await;
            drop(joined);
            client.idle(stop, idle_until).await
        }));
    }
    drop(joined_tx);

    let deadline = bench.deadline();
    let mut joined = 0;
    while joined < connections {
        match tokio::time::timeout_at(deadline, joined_rx.recv()).await {
            Ok(Some(())) => joined += 1,
            Ok(None) | Err(_) => break,
        }
    }
    let outcome = if joined == connections {
        tokio::time::sleep(settle).await;
        server.rss_bytes()
    } else {
        Err(anyhow::anyhow!(
            "only {joined} of {connections} clients connected"
        ))
    };
    let _ = stop_tx.send(true);
    let closed = join_all(handles).await;
    let rss_after = outcome?;
    closed?;
    ensure!(
        traffic.total() > 0,
        "no bytes were exchanged: the clients never joined"
    );
    Ok(Idle {
        connections,
        rss_before,
        rss_after,
    })
}
