//! Several server nodes on one PostgreSQL database: each node follows the
//! others (LISTEN/NOTIFY). It brings the documents it has loaded up to date
//! with their commits, so its clients hear of a change wherever it was made,
//! and it passes on revocations, sign-outs and team changes, so connections
//! open on any node end or lose access as they would on the node that made
//! the change.
//!
//! Nothing depends on a notification arriving: a commit always catches up
//! under the document's lock first (see `docs.rs`), and a revoked device's
//! credentials are refused by the database; notifications make it prompt. A
//! lost feed is reopened, and then every loaded document caught up and every
//! connection's access checked again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;

use crate::metrics::Metrics;
use crate::store::{ChangeFeed, FeedEvent};
use crate::sync::docs::DocRegistry;
use crate::{AppState, SessionEnd};

const REVOKED: &str = "device-revoked";
const TEAM_CHANGED: &str = "team-changed";
const SESSION_ENDED: &str = "session-ended";
const USER_SIGNED_OUT: &str = "user-signed-out";

/// Events received from other nodes and passed to this node's connections,
/// counted so this node does not announce them back.
type Relayed = Arc<Mutex<HashMap<(&'static str, String), usize>>>;

/// Follows the other nodes until the task is aborted. Returns at once on
/// SQLite, where a database has one node.
pub async fn follow_other_nodes(state: AppState) {
    if state.store.backend_name() != "postgres" {
        return;
    }
    let relayed = Relayed::default();
    // Subscribed before anything is relayed, so every relayed event is seen here.
    let local = (
        state.revocations.subscribe(),
        state.team_changes.subscribe(),
        state.session_ends.subscribe(),
    );
    tokio::join!(
        follow(state.clone(), relayed.clone()),
        announce(state, relayed, local)
    );
}

async fn follow(state: AppState, relayed: Relayed) {
    let docs = state.docs.clone();
    let metrics = state.metrics.clone();
    let mut feed = open(&state).await;
    // Documents loaded before the feed listened may have missed a commit.
    catch_up_all(&state, &docs, &relayed).await;
    loop {
        match feed.next().await {
            Ok(FeedEvent::Changed {
                origin,
                document_id,
            }) => {
                if origin != state.server_peer
                    && let Ok(id) = document_id.parse()
                {
                    docs.catch_up(id).await;
                }
            }
            Ok(FeedEvent::Announced {
                origin,
                topic,
                subject,
            }) => {
                if origin != state.server_peer {
                    relay(&state, &relayed, &topic, subject);
                }
            }
            Ok(FeedEvent::Resumed) => {
                // Reconnected and listening again: what was missed is in the store.
                Metrics::inc(&metrics.change_feed_interruptions_total);
                tracing::warn!("the feed of other nodes' changes was interrupted; catching up");
                catch_up_all(&state, &docs, &relayed).await;
            }
            Err(e) => {
                Metrics::inc(&metrics.change_feed_interruptions_total);
                tracing::warn!(error = %e, "lost the feed of other nodes' changes; reopening");
                drop(feed);
                tokio::time::sleep(Duration::from_millis(100)).await;
                feed = open(&state).await;
                catch_up_all(&state, &docs, &relayed).await;
            }
        }
    }
}

/// Opens the feed, waiting longer after each failure. Everything loaded
/// before it listens is caught up by the caller, so nothing falls between.
async fn open(state: &AppState) -> ChangeFeed {
    let mut wait = Duration::from_millis(100);
    loop {
        match state.store.change_feed().await {
            Ok(Some(feed)) => {
                return feed;
            }
            Ok(None) => std::future::pending::<()>().await,
            Err(e) => {
                Metrics::inc(&state.metrics.store_errors_total);
                tracing::warn!(error = %e, "could not open the feed of other nodes' changes");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// After a gap in the feed: every loaded document reads what it missed, and
/// every connection checks its access again.
async fn catch_up_all(state: &AppState, docs: &DocRegistry, relayed: &Relayed) {
    for id in docs.loaded_ids() {
        docs.catch_up(id).await;
    }
    relay(state, relayed, TEAM_CHANGED, "0".to_owned());
}

/// Passes an event from another node to this node's connections.
fn relay(state: &AppState, relayed: &Relayed, topic: &str, subject: String) {
    let (topic, sent) = match topic {
        REVOKED => match subject.parse() {
            Ok(device) => (REVOKED, state.revocations.send(device).is_ok()),
            Err(_) => return,
        },
        TEAM_CHANGED => match subject.parse() {
            Ok(case) => (TEAM_CHANGED, state.team_changes.send(case).is_ok()),
            Err(_) => return,
        },
        SESSION_ENDED => (
            SESSION_ENDED,
            state
                .session_ends
                .send(SessionEnd::Session(subject.clone()))
                .is_ok(),
        ),
        USER_SIGNED_OUT => match subject.parse() {
            Ok(user) => (
                USER_SIGNED_OUT,
                state.session_ends.send(SessionEnd::User(user)).is_ok(),
            ),
            Err(_) => return,
        },
        _ => return,
    };
    if sent {
        let mut relayed = relayed.lock().unwrap_or_else(|p| p.into_inner());
        *relayed.entry((topic, subject)).or_default() += 1;
    }
}

/// Announces this node's revocations, sign-outs and team changes to the others.
async fn announce(
    state: AppState,
    relayed: Relayed,
    (mut revocations, mut team_changes, mut session_ends): (
        broadcast::Receiver<i64>,
        broadcast::Receiver<i64>,
        broadcast::Receiver<SessionEnd>,
    ),
) {
    loop {
        let (topic, subject) = tokio::select! {
            Ok(device) = revocations.recv() => (REVOKED, device.to_string()),
            Ok(case) = team_changes.recv() => (TEAM_CHANGED, case.to_string()),
            Ok(ended) = session_ends.recv() => match ended {
                SessionEnd::Session(hash) => (SESSION_ENDED, hash),
                SessionEnd::User(user) => (USER_SIGNED_OUT, user.to_string()),
            },
            else => return,
        };
        {
            let mut relayed = relayed.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(count) = relayed.get_mut(&(topic, subject.clone())) {
                // Came from another node: it has told everyone already.
                *count -= 1;
                if *count == 0 {
                    relayed.remove(&(topic, subject));
                }
                continue;
            }
        }
        if let Err(e) = state
            .store
            .announce(&state.server_peer, topic, &subject)
            .await
        {
            Metrics::inc(&state.metrics.store_errors_total);
            tracing::warn!(error = %e, topic, "could not tell the other nodes");
        }
    }
}
