//! Several server nodes on one PostgreSQL database: each node follows the
//! others' commits (LISTEN/NOTIFY) and brings the documents it has loaded up
//! to date, so its clients hear of a change wherever it was made. Nothing
//! depends on a notification arriving: a commit always catches up under the
//! document's lock first (see `docs.rs`); notifications only make delivery
//! prompt. A lost feed is reopened, and then every loaded document caught up.

use std::sync::Arc;
use std::time::Duration;

use crate::AppState;
use crate::metrics::Metrics;
use crate::store::{ChangeFeed, FeedEvent, Store};
use crate::sync::docs::DocRegistry;

/// Follows other nodes' commits until the task is aborted. Returns at once on
/// SQLite, where a database has one node.
pub async fn follow_other_nodes(state: AppState) {
    let store = state.store.clone();
    let docs = state.docs.clone();
    let metrics = state.metrics.clone();
    let mut feed = match store.change_feed().await {
        Ok(Some(feed)) => {
            // Documents loaded before the feed listened may have missed a commit.
            catch_up_all(&docs).await;
            feed
        }
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "could not follow other nodes' commits; retrying");
            reopen(&store, &docs, &metrics).await
        }
    };
    loop {
        match feed.next().await {
            Ok(FeedEvent::Changed {
                origin,
                document_id,
            }) => {
                if origin == state.server_peer {
                    continue;
                }
                if let Ok(id) = document_id.parse() {
                    docs.catch_up(id).await;
                }
            }
            Ok(FeedEvent::Resumed) => {
                // Reconnected and listening again: what was missed is in the store.
                Metrics::inc(&metrics.change_feed_interruptions_total);
                tracing::warn!("the feed of other nodes' commits was interrupted; catching up");
                catch_up_all(&docs).await;
            }
            Err(e) => {
                Metrics::inc(&metrics.change_feed_interruptions_total);
                tracing::warn!(error = %e, "lost the feed of other nodes' commits; reopening");
                drop(feed);
                feed = reopen(&store, &docs, &metrics).await;
            }
        }
    }
}

/// Opens the feed again (waiting longer after each failure), then catches up
/// every loaded document: it listens before it reads, so nothing falls between.
async fn reopen(store: &Store, docs: &Arc<DocRegistry>, metrics: &Metrics) -> ChangeFeed {
    let mut wait = Duration::from_millis(100);
    loop {
        tokio::time::sleep(wait).await;
        match store.change_feed().await {
            Ok(Some(feed)) => {
                catch_up_all(docs).await;
                return feed;
            }
            Ok(None) => std::future::pending::<()>().await,
            Err(e) => {
                Metrics::inc(&metrics.store_errors_total);
                tracing::warn!(error = %e, "could not reopen the feed of other nodes' commits");
                wait = (wait * 2).min(Duration::from_secs(10));
            }
        }
    }
}

async fn catch_up_all(docs: &DocRegistry) {
    for id in docs.loaded_ids() {
        docs.catch_up(id).await;
    }
}
