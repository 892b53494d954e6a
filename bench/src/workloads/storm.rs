//! Reconnect storm: many tablets, each with a change made offline to its own case, reconnect at
//! the same moment (after an outage, say); the figure is the time until the last one's change is
//! acknowledged. Converged clients stay connected until all have, as real tablets would.

use anyhow::{Context, Result, bail};
use tokio::sync::watch;
use tokio::time::Instant;

use super::{Bench, finish, join_all, push_through};
use crate::cases::CaseWriter;
use crate::client::{Client, Held, Traffic};
use crate::server::{Kind, Server};

/// Connections that register the cases before the storm, each pushing its share at once.
const LOADERS: usize = 20;

#[derive(Debug, Clone)]
pub struct Storm {
    pub clients: usize,
    pub seconds: f64,
}

pub async fn measure(bench: &Bench, kind: Kind) -> Result<Storm> {
    let instance = bench.instance(kind, "storm")?;
    let server = bench.start(&instance)?;
    let outcome = drive(bench, &server).await;
    finish(server, outcome)
}

async fn drive(bench: &Bench, server: &Server) -> Result<Storm> {
    let options = &bench.options;
    let clients = options.storm_clients;
    let mut writer = CaseWriter::new(options.seed, options.observation_chars);
    let mut docs = Vec::with_capacity(clients);
    for number in 0..clients {
        docs.push(Held {
            id: writer.document_id(),
            doc: writer.new_case(number)?,
            has_content: true,
        });
    }
    let mut docs = push_through(bench, &server.endpoint, docs, LOADERS)
        .await
        .context("registering the storm's cases")?;
    // The change each tablet made while offline.
    for held in &mut docs {
        writer.add_visit(&mut held.doc)?;
    }

    let traffic = Traffic::new();
    let (go_tx, go_rx) = watch::channel(false);
    let mut handles = Vec::with_capacity(clients);
    for mut held in docs {
        let endpoint = server.endpoint.clone();
        let traffic = traffic.clone();
        let mut go = go_rx.clone();
        let patience = bench.patience();
        handles.push(tokio::spawn(async move {
            go.wait_for(|go| *go)
                .await
                .context("the bench stopped before the storm")?;
            let deadline = Instant::now() + patience;
            let mut client = Client::connect(&endpoint, traffic, deadline).await?;
            client
                .push(std::slice::from_mut(&mut held), deadline)
                .await
                .context("waiting for the offline change to be acknowledged")?;
            Ok((Instant::now(), client))
        }));
    }
    // Every task waits for `go`: release them together.
    let start = Instant::now();
    let _ = go_tx.send(true);
    let converged = join_all(handles).await?;
    let Some(last) = converged.iter().map(|(at, _)| *at).max() else {
        bail!("the storm had no clients");
    };
    let seconds = last.duration_since(start).as_secs_f64();
    let mut closing = Vec::with_capacity(converged.len());
    for (_, client) in converged {
        closing.push(tokio::spawn(async move {
            client.close().await;
            Ok(())
        }));
    }
    join_all(closing).await?;
    Ok(Storm { clients, seconds })
}
