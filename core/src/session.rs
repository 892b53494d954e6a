//! One document's sync session with one peer: automerge's sync state plus the
//! encoding of sync payloads. A runtime (tokio on the server, the browser event
//! loop in the app) decides when to call it; this type never does I/O.

use automerge::sync::{self, SyncDoc};
use automerge::{Change, ChangeHash};

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

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const CHUNK_CHANGE: u8 = 1;
const CHUNK_COMPRESSED_CHANGE: u8 = 2;

/// Splits bytes into automerge storage chunks (magic, checksum, type, LEB128
/// length, body); `None` when they are not a whole number of chunks.
fn split_chunks(mut bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut pieces = Vec::new();
    while !bytes.is_empty() {
        if bytes.get(..4)? != MAGIC {
            return None;
        }
        let mut length: u64 = 0;
        let mut at = 9;
        for shift in (0..64).step_by(7) {
            let byte = *bytes.get(at)?;
            at += 1;
            length |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
        }
        let end = at.checked_add(usize::try_from(length).ok()?)?;
        pieces.push(bytes.get(..end)?);
        bytes = &bytes[end..];
    }
    Some(pieces)
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
        let mut index = 0;
        for chunk in message.changes.iter() {
            // A v2 message packs several changes (or a document) in one chunk.
            for piece in split_chunks(chunk).ok_or(SyncError::Change(index))? {
                let is_change = matches!(
                    piece.get(8).copied(),
                    Some(CHUNK_CHANGE | CHUNK_COMPRESSED_CHANGE)
                );
                if is_change && Change::from_bytes(piece.to_vec()).is_err() {
                    return Err(SyncError::Change(index));
                }
                index += 1;
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

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::{AutoCommit, ROOT, transaction::Transactable};

    #[test]
    fn accepts_the_chunks_real_sync_messages_carry() {
        let mut doc = AutoCommit::new();
        for n in 0..5 {
            doc.put(ROOT, format!("k{n}"), n).unwrap();
            doc.commit();
        }
        let changes: Vec<Vec<u8>> = doc
            .get_changes(&[])
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        assert_eq!(split_chunks(&changes.concat()).unwrap().len(), 5);
        assert_eq!(split_chunks(&doc.save()).unwrap().len(), 1);
        assert!(split_chunks(&[0x85, 0x6f, 0x4a, 0x83, 1, 2, 3, 4, 5]).is_none());
        let mut cut = changes.concat();
        cut.pop();
        assert!(split_chunks(&cut).is_none());
        assert!(split_chunks(b"not automerge").is_none());
    }
}
