//! One document's sync session with one peer: automerge's sync state plus the
//! encoding of sync payloads. A runtime (tokio on the server, the browser event
//! loop in the app) decides when to call it; this type never does I/O.

use automerge::sync::{self, SyncDoc};
use automerge::{Change, ChangeHash};

use crate::chunks::{self, ChunkKind, Inflation};

/// Why a sync payload could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    #[error("sync payload is not an automerge sync message")]
    Decode,
    #[error("sync payload carries changes automerge cannot apply: {0}")]
    Apply(String),
    #[error("change {0} of the sync payload is not valid automerge data")]
    Change(usize),
    #[error("chunk {0} of the sync payload is a bundle, which the sync protocol never sends")]
    Bundle(usize),
    #[error(
        "sync payload would inflate to more than {budget} bytes (at most {INFLATION_RATIO} times its size, and {MAX_INFLATED_BYTES} bytes); nothing of it was applied"
    )]
    TooLarge { budget: u64 },
}

/// A sync payload may inflate to this many bytes per byte on the wire. Real
/// changes and documents of a case record compress far less (about 15:1 for
/// a record of 500 near-identical visits, see the tests);
/// DEFLATE reaches about 1,000:1 on zeros, which is what a bomb is made of.
pub const INFLATION_RATIO: u64 = 128;
/// Whatever its size on the wire, a sync payload may inflate to this much: a
/// short change of one repeated character compresses better than the ratio.
pub const MIN_INFLATION_BUDGET: u64 = 1 << 20;
/// And never to more than this, however large the frame.
pub const MAX_INFLATED_BYTES: u64 = 64 << 20;

/// What a sync payload of `len` bytes may inflate to.
pub fn inflation_budget(len: usize) -> u64 {
    (len as u64)
        .saturating_mul(INFLATION_RATIO)
        .clamp(MIN_INFLATION_BUDGET, MAX_INFLATED_BYTES)
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
    /// cannot read without saying so, and the sender deserves to know. A
    /// bundle chunk, which the sync protocol never sends, is refused. Before
    /// anything is inflated, the payload's inflated size is counted against
    /// [`inflation_budget`]: automerge would inflate it with no limit.
    pub fn decode(data: &[u8]) -> Result<sync::Message, SyncError> {
        let message = sync::Message::decode(data).map_err(|_| SyncError::Decode)?;
        let budget = inflation_budget(data.len());
        let mut inflated = 0u64;
        let mut index = 0;
        for chunk in message.changes.iter() {
            // A v2 message packs several changes (or a document) in one chunk.
            for piece in chunks::split(chunk).ok_or(SyncError::Change(index))? {
                inflated +=
                    chunks::inflated_size(&piece, budget - inflated).map_err(|e| match e {
                        Inflation::Malformed => SyncError::Change(index),
                        Inflation::OverBudget => SyncError::TooLarge { budget },
                    })?;
                let is_change =
                    matches!(piece.kind, ChunkKind::Change | ChunkKind::CompressedChange);
                if is_change && Change::from_bytes(piece.bytes.to_vec()).is_err() {
                    return Err(SyncError::Change(index));
                }
                // automerge's sync sends changes, or a whole document in a v2
                // message, never a bundle; and automerge 0.12 panics loading
                // some malformed bundles instead of answering an error.
                if piece.kind == ChunkKind::Bundle {
                    return Err(SyncError::Bundle(index));
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
    use crate::case::{self, AddressStatus, NewCase, NewVisit, Theme, VisitKind, VisitStatus};
    use automerge::sync::{Message, MessageVersion};
    use automerge::{AutoCommit, Automerge};
    use std::io::Write;

    fn deflated_zeros(len: usize) -> Vec<u8> {
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let block = vec![0u8; 1 << 20];
        for _ in 0..len / block.len() {
            encoder.write_all(&block).unwrap();
        }
        encoder.finish().unwrap()
    }

    /// A chunk of `kind` around `body`; the checksum is never reached.
    fn chunk(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, kind];
        let mut len = body.len() as u64;
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            bytes.push(if len == 0 { byte } else { byte | 0x80 });
            if len == 0 {
                break;
            }
        }
        bytes.extend_from_slice(body);
        bytes
    }

    fn payload(chunks: Vec<Vec<u8>>) -> Vec<u8> {
        Message {
            heads: vec![],
            need: vec![],
            have: vec![],
            changes: chunks.into(),
            flags: None,
            version: MessageVersion::V1,
        }
        .encode()
    }

    fn uleb(mut n: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            out.push(if n == 0 { byte } else { byte | 0x80 });
            if n == 0 {
                return;
            }
        }
    }

    #[test]
    fn a_compressed_change_that_inflates_past_the_budget_is_refused_before_inflating_it() {
        let bomb = deflated_zeros(32 << 20);
        let data = payload(vec![chunk(2, &bomb)]);
        assert!(data.len() < 64 * 1024, "{} bytes", data.len());
        let budget = inflation_budget(data.len());
        assert_eq!(
            SyncSession::decode(&data).unwrap_err(),
            SyncError::TooLarge { budget }
        );
    }

    #[test]
    fn a_document_or_bundle_with_a_column_that_inflates_past_the_budget_is_refused() {
        let bomb = deflated_zeros(32 << 20);
        // One change column, DEFLATE bit set; no actors, heads or op columns.
        let columns = |out: &mut Vec<u8>| {
            uleb(1, out);
            uleb(0b1000, out);
            uleb(bomb.len() as u64, out);
        };
        let mut document = vec![0, 0];
        columns(&mut document);
        document.push(0);
        document.extend_from_slice(&bomb);
        let mut bundle = vec![0, 0];
        columns(&mut bundle);
        bundle.extend_from_slice(&bomb);
        bundle.push(0);
        for (kind, body) in [(0, document), (3, bundle)] {
            let data = payload(vec![chunk(kind, &body)]);
            assert!(
                matches!(SyncSession::decode(&data), Err(SyncError::TooLarge { .. })),
                "chunk type {kind}"
            );
        }
    }

    /// Found by the `document_load` fuzz target: automerge 0.12 panics (an
    /// unwrap in its column reader) loading this bundle chunk, and it loads
    /// every chunk of a sync message.
    #[test]
    fn a_bundle_chunk_is_refused_before_automerge_loads_it() {
        let bundle = [
            0x85, 0x6f, 0x4a, 0x83, 0x7d, 0x02, 0x7f, 0x02, 0x03, 0x07, 0x00, 0x00, 0x00, 0x01,
            0x23, 0x01, 0x73,
        ];
        let data = payload(vec![bundle.to_vec()]);
        let result = SyncSession::decode(&data)
            .and_then(|message| SyncSession::new().receive(&mut Automerge::new(), message));
        assert_eq!(result, Err(SyncError::Bundle(0)));
    }

    #[test]
    fn real_sync_messages_of_a_large_case_record_stay_far_inside_the_budget() {
        let mut doc = AutoCommit::new();
        case::init_case(
            &mut doc,
            &NewCase {
                label: "Familie Jansen".into(),
                address: "Dorpsstraat 1".into(),
                address_status: AddressStatus::Known,
            },
        )
        .unwrap();
        doc.commit();
        for n in 0..500 {
            case::add_visit(
                &mut doc,
                &NewVisit {
                    id: format!("visit-{n:04}"),
                    at_ms: 1_700_000_000_000 + n * 86_400_000,
                    author: "jan".into(),
                    organisation: "Gemeente Ergens".into(),
                    kind: VisitKind::Home,
                    present: vec![],
                    observations: vec![
                        (
                            Theme::Housing,
                            format!("Bezoek {n}: de woning is op orde, de huur is betaald."),
                        ),
                        (
                            Theme::Wellbeing,
                            "Moeder maakt zich zorgen over de oudste zoon.".into(),
                        ),
                    ],
                    status: VisitStatus::Submitted,
                },
            )
            .unwrap();
            doc.commit();
        }
        let doc: Automerge = doc.document().clone();
        // A peer with nothing is sent the whole document (a v2 message)...
        let mut peer = Automerge::new();
        let (mut ours, mut theirs) = (sync::State::new(), sync::State::new());
        let mut worst: f64 = 0.0;
        while let Some(message) = doc.generate_sync_message(&mut ours) {
            let data = message.encode();
            let decoded = SyncSession::decode(&data).unwrap();
            let inflated: u64 = decoded
                .changes
                .iter()
                .flat_map(|c| chunks::split(c).unwrap())
                .map(|c| chunks::inflated_size(&c, u64::MAX).unwrap())
                .sum();
            worst = worst.max(inflated as f64 / data.len() as f64);
            peer.receive_sync_message(&mut theirs, decoded).unwrap();
            if let Some(reply) = peer.generate_sync_message(&mut theirs) {
                let mut doc = doc.clone();
                doc.receive_sync_message(&mut ours, reply).unwrap();
            }
        }
        assert_eq!(peer.get_heads(), doc.get_heads(), "the peer got everything");
        // ...and a peer that has the start gets the changes one by one (v1).
        let changes = doc
            .get_changes(&[])
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        SyncSession::decode(&payload(changes)).unwrap();
        eprintln!("a 500-visit record's sync message inflates {worst:.1}×");
        assert!(
            worst < (INFLATION_RATIO / 4) as f64,
            "a real sync message inflates {worst:.1}×"
        );
    }
}
