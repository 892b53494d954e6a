//! One document's sync session with one peer: automerge's sync state plus the
//! encoding of sync payloads. A runtime (tokio on the server, the browser event
//! loop in the app) decides when to call it; this type never does I/O.

use automerge::sync::{self, SyncDoc};
use automerge::{Automerge, Change, ChangeHash};

/// Why a sync payload could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("sync payload is not an automerge sync message")]
    Decode,
    #[error("sync payload carries changes automerge cannot apply: {0}")]
    Apply(String),
    #[error("change {0} of the sync payload is not valid automerge data")]
    Change(usize),
}

/// The state of syncing one document with one peer.
#[derive(Debug, Default)]
pub struct SyncSession {
    state: sync::State,
}

impl SyncSession {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes the `data` of a `sync` or `request` message and checks that
    /// every change chunk in it parses: automerge itself would skip a chunk it
    /// cannot read without saying so, and the sender deserves to know.
    pub fn decode(data: &[u8]) -> Result<sync::Message, SyncError> {
        let message = sync::Message::decode(data).map_err(|_| SyncError::Decode)?;
        for (index, chunk) in message.changes.iter().enumerate() {
            let parses = Change::from_bytes(chunk.to_vec()).is_ok()
                // A v2 sync message may carry a whole document instead.
                || Automerge::load(chunk).is_ok();
            if !parses {
                return Err(SyncError::Change(index));
            }
        }
        Ok(message)
    }

    /// Applies a peer's sync message to `doc`.
    pub fn receive<D: SyncDoc>(
        &mut self,
        doc: &mut D,
        message: sync::Message,
    ) -> Result<(), SyncError> {
        doc.receive_sync_message(&mut self.state, message)
            .map_err(|e| SyncError::Apply(e.to_string()))
    }

    /// The next payload to send the peer, if it lacks anything or is owed an answer.
    pub fn generate<D: SyncDoc>(&mut self, doc: &D) -> Option<Vec<u8>> {
        doc.generate_sync_message(&mut self.state)
            .map(sync::Message::encode)
    }

    /// Starts negotiation afresh, for when what we told the peer no longer holds
    /// (changes it sent were quarantined instead of merged).
    pub fn reset(&mut self) {
        self.state = sync::State::new();
    }

    /// The heads the peer last told us it has.
    pub fn their_heads(&self) -> Option<&[ChangeHash]> {
        self.state.their_heads.as_deref()
    }
}
