//! Cross-node delivery on PostgreSQL: two server nodes on one database; a tablet on node 1 adds a
//! visit, and the figure is how long until a tablet on node 2 (with the case open) has it: node
//! 1's commit, its NOTIFY, node 2 reading the change from the database and syncing it to its
//! client. A change that does not arrive in time ends the sampling and is reported. The reference
//! server has no shared database to run on, so it has no figure here.

use anyhow::{Context, Result};
use automerge::AutoCommit;
use tokio::time::Instant;

use super::{Bench, finish, percentiles};
use crate::cases::CaseWriter;
use crate::client::{Client, Held, Traffic, is_timeout};
use crate::server::Server;

#[derive(Debug, Clone)]
pub enum Fanout {
    /// Every sample arrived: latencies in milliseconds.
    Delivered {
        median_ms: f64,
        p99_ms: f64,
        samples: usize,
    },
    /// A change did not reach node 2's client in time; sampling stopped there.
    NotDelivered {
        delivered: usize,
        attempted: usize,
        timeout_ms: u64,
    },
}

pub async fn measure(bench: &Bench, database_url: &str) -> Result<Fanout> {
    let instance = bench
        .shared_database(database_url, "fanout")
        .context("setting up the PostgreSQL database")?;
    let node1 = bench.start(&instance)?;
    let node2 = match bench.start(&instance) {
        Ok(node2) => node2,
        Err(error) => return finish(node1, Err(error)),
    };
    let outcome = drive(bench, &node1, &node2).await;
    let outcome = finish(node2, outcome);
    finish(node1, outcome)
}

async fn drive(bench: &Bench, node1: &Server, node2: &Server) -> Result<Fanout> {
    let options = &bench.options;
    let timeout = std::time::Duration::from_millis(options.fanout_timeout_ms);
    let traffic = Traffic::new();
    let deadline = bench.deadline();
    let mut writer = CaseWriter::new(options.seed, options.observation_chars);
    let mut case = Held {
        id: writer.document_id(),
        doc: writer.new_case(0)?,
        has_content: true,
    };
    let mut tablet1 = Client::connect(&node1.endpoint, traffic.clone(), deadline).await?;
    tablet1
        .push(std::slice::from_mut(&mut case), deadline)
        .await
        .context("creating the case through node 1")?;
    let mut tablet2 = Client::connect(&node2.endpoint, traffic, deadline).await?;
    let mut copy = Held {
        id: case.id,
        doc: AutoCommit::new(),
        has_content: false,
    };
    tablet2
        .fetch(std::slice::from_mut(&mut copy), deadline)
        .await
        .context("opening the case through node 2")?;

    let mut latencies = Vec::with_capacity(options.fanout_samples);
    for attempt in 1..=options.fanout_samples {
        let change = writer.add_visit(&mut case.doc)?;
        let start = Instant::now();
        tablet1
            .push(std::slice::from_mut(&mut case), start + bench.patience())
            .await
            .context("adding a visit through node 1")?;
        match tablet2
            .wait_for_change(&mut copy, change, start + timeout)
            .await
        {
            Ok(()) => latencies.push(start.elapsed().as_secs_f64() * 1000.0),
            Err(error) if is_timeout(&error) => {
                tablet1.close().await;
                tablet2.close().await;
                return Ok(Fanout::NotDelivered {
                    delivered: attempt - 1,
                    attempted: attempt,
                    timeout_ms: options.fanout_timeout_ms,
                });
            }
            Err(error) => return Err(error.context("waiting on node 2")),
        }
    }
    tablet1.close().await;
    tablet2.close().await;
    let samples = latencies.len();
    let (median_ms, p99_ms) = percentiles(&mut latencies).context("no samples were asked for")?;
    Ok(Fanout::Delivered {
        median_ms,
        p99_ms,
        samples,
    })
}
