//! Initial caseload sync: a fresh tablet (no documents, new connection) fetching a whole caseload
//! of cases with their visit histories, from a server just restarted so that every document comes
//! from storage, as it would on a morning's first sync.

use anyhow::{Context, Result, ensure};
use automerge::AutoCommit;
use tokio::time::Instant;
use veldwerk_core::case::CaseRecord;

use super::{Bench, finish, push_through};
use crate::cases::CaseWriter;
use crate::client::{Client, Held, Traffic};
use crate::server::Kind;

/// Connections that load the caseload onto the server, each pushing its share at once.
const LOADERS: usize = 4;

#[derive(Debug, Clone)]
pub struct Caseload {
    pub seconds: f64,
    pub wire_bytes: u64,
}

pub async fn measure(bench: &Bench, kind: Kind) -> Result<Caseload> {
    let options = &bench.options;
    let instance = bench.instance(kind, "caseload")?;

    // Each visit its own change, as a worker records them one by one.
    let mut writer = CaseWriter::new(options.seed, options.observation_chars);
    let mut docs = Vec::with_capacity(options.caseload_cases);
    for number in 0..options.caseload_cases {
        let mut doc = writer.new_case(number)?;
        for _ in 0..options.caseload_visits {
            writer.add_visit(&mut doc)?;
        }
        docs.push(Held {
            id: writer.document_id(),
            doc,
            has_content: true,
        });
    }
    let ids: Vec<_> = docs.iter().map(|held| held.id).collect();

    let server = bench.start(&instance)?;
    let loaded = push_through(bench, &server.endpoint, docs, LOADERS)
        .await
        .context("loading the caseload")
        .map(|_| ());
    finish(server, loaded)?;
    let server = bench
        .start(&instance)
        .context("restarting the server after loading the caseload")?;

    let traffic = Traffic::new();
    let outcome = async {
        let start = Instant::now();
        let deadline = start + bench.patience();
        let mut tablet = Client::connect(&server.endpoint, traffic.clone(), deadline).await?;
        let mut fetched: Vec<Held> = ids
            .iter()
            .map(|&id| Held {
                id,
                doc: AutoCommit::new(),
                has_content: false,
            })
            .collect();
        tablet
            .fetch(&mut fetched, deadline)
            .await
            .context("fetching the caseload into a fresh tablet")?;
        let seconds = start.elapsed().as_secs_f64();
        tablet.close().await;
        for held in &fetched {
            let visits = CaseRecord::new(&held.doc)
                .visit_ids()
                .with_context(|| format!("fetched document {} is not a case record", held.id))?
                .len();
            ensure!(
                visits == options.caseload_visits,
                "fetched document {} has {visits} visits, not {}",
                held.id,
                options.caseload_visits
            );
        }
        Ok(Caseload {
            seconds,
            wire_bytes: traffic.total(),
        })
    }
    .await;
    finish(server, outcome)
}
