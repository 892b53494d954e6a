//! A document in memory: the automerge document, the peers syncing it, and
//! how far it follows the store.

use std::collections::HashMap;
use std::time::Instant;

use automerge::{Automerge, ChangeHash};
use veldwerk_core::case::CaseProjection;
use veldwerk_core::identity::Compartment;
use veldwerk_core::protocol::PeerId;
use veldwerk_core::session::SyncSession;

use super::docs::ConnectionId;
use super::outbox::Outbox;
use crate::store::{DocumentNews, StoredDocument};

pub(super) struct DocPeer {
    pub(super) peer_id: PeerId,
    pub(super) session: SyncSession,
    pub(super) outbox: Outbox,
}

/// One document loaded in memory, with the peers syncing it.
pub struct LiveDoc {
    pub(super) doc: Automerge,
    pub(super) case_id: Option<i64>,
    pub(super) compartment: Compartment,
    pub(super) peers: HashMap<ConnectionId, DocPeer>,
    pub(super) last_used: Instant,
    pub(super) logged_changes: usize,
    /// Bytes of the document as stored: its snapshot and the changes logged
    /// since (what loading it reads; compaction makes it smaller).
    pub(super) stored_bytes: usize,
    /// The highest change `seq` of the store this holds: everything logged up
    /// to it is in `doc`. Other nodes' commits come after it.
    pub(super) loaded_seq: i64,
    /// The validated projection of `doc` as it is, when known: new changes
    /// are then validated by what they touch, not by the whole record.
    pub(super) projection: Option<CaseProjection>,
}

/// A document being created offline, before it validates: kept per connection.
#[derive(Default)]
pub struct PendingDoc {
    pub(super) doc: Automerge,
    pub(super) session: SyncSession,
}

impl LiveDoc {
    /// The document as the store holds it: its snapshot and the changes
    /// logged since, applied in one batch.
    pub(super) fn from_stored(stored: StoredDocument) -> Result<Self, String> {
        let stored_bytes = stored.snapshot.as_ref().map_or(0, Vec::len)
            + stored.changes.iter().map(Vec::len).sum::<usize>();
        let mut doc = match &stored.snapshot {
            Some(snapshot) => Automerge::load(snapshot).map_err(|e| e.to_string())?,
            None => Automerge::new(),
        };
        if !stored.changes.is_empty() {
            doc.load_incremental(&stored.changes.concat())
                .map_err(|e| e.to_string())?;
        }
        Ok(LiveDoc {
            doc,
            case_id: Some(stored.case_id),
            compartment: stored.compartment,
            peers: HashMap::new(),
            last_used: Instant::now(),
            logged_changes: stored.changes.len(),
            stored_bytes,
            loaded_seq: stored.last_seq,
            projection: None,
        })
    }

    /// Adds what other nodes committed (see `Store::document_news`).
    pub(super) fn absorb(&mut self, news: DocumentNews) -> Result<(), String> {
        if !news.is_empty() {
            // Others' changes were not validated here against this projection.
            self.projection = None;
        }
        if let Some(snapshot) = &news.snapshot {
            self.doc
                .load_incremental(snapshot)
                .map_err(|e| e.to_string())?;
            self.logged_changes = 0;
            self.stored_bytes = snapshot.len();
        }
        if !news.changes.is_empty() {
            self.doc
                .load_incremental(&news.changes.concat())
                .map_err(|e| e.to_string())?;
            self.logged_changes += news.changes.len();
            self.stored_bytes += news.changes.iter().map(Vec::len).sum::<usize>();
        }
        self.loaded_seq = self.loaded_seq.max(news.last_seq);
        Ok(())
    }

    /// Drops whatever was applied after `heads` (it was never stored), and
    /// starts the negotiation with `connection` afresh: what it was told of
    /// this document no longer holds. `false` when the document could not
    /// be rewound: it must then be loaded from the store again, or peers
    /// would be told of changes that are not stored.
    #[must_use]
    pub(super) fn rewind(&mut self, heads: &[ChangeHash], connection: ConnectionId) -> bool {
        if let Some(peer) = self.peers.get_mut(&connection) {
            peer.session.reset();
        }
        if self.doc.get_heads() == heads {
            return true;
        }
        match self.doc.fork_at(heads) {
            Ok(doc) => {
                self.doc = doc;
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "could not rewind a document to its stored state");
                false
            }
        }
    }
}
