//! Who sends a sync message to the registry, and what becomes of it.

use std::collections::HashSet;

use veldwerk_core::protocol::PeerId;

use super::outbox::Outbox;
use crate::store::{Principal, StoreError};

/// Identifies one WebSocket connection within this process.
pub type ConnectionId = u64;

/// Who is sending a sync message, and where replies go.
pub struct Sender<'a> {
    pub connection: ConnectionId,
    pub peer_id: &'a PeerId,
    pub principal: &'a Principal,
    pub outbox: &'a Outbox,
    /// Actor ids known to be bound to this connection's device.
    pub own_actors: &'a mut HashSet<String>,
}

/// Why a sync message was refused. Nothing of it was stored or merged.
#[derive(Debug, thiserror::Error)]
pub enum SyncRefusal {
    #[error("{0}")]
    Payload(veldwerk_core::session::SyncError),
    #[error("sync payload carries automerge data that cannot be applied: {0}")]
    Automerge(String),
    /// Sent as a [`veldwerk_core::api::TryAgainNotice`]: the peer sends again.
    #[error("{}", not_stored(.0))]
    Storage(#[source] StoreError),
    #[error("this document could not be loaded")]
    Load(String),
    #[error(
        "these changes would grow the document past {limit} bytes (VELDWERK_MAX_DOCUMENT_BYTES); \
         they were not accepted"
    )]
    TooLarge { limit: usize },
}

/// Why nothing of a sync message was stored, as the peer is told it.
fn not_stored(error: &StoreError) -> &'static str {
    match error {
        StoreError::Full(_) => {
            "the server's storage is full: nothing of this message was stored; \
             keep your changes and send them again later"
        }
        _ => {
            "the database is unavailable: nothing of this message was stored; \
             keep your changes and send them again later"
        }
    }
}

/// What became of a sync message for a document not yet known.
#[derive(Debug)]
pub enum Creation {
    /// Negotiating: the message carried no changes yet.
    Pending,
    /// The document validated and is now a case.
    Registered { case_id: i64 },
    /// The document's changes were quarantined; the reasons are given.
    Refused { reasons: Vec<String> },
}
