//! The server's part in a fuzzed exchange: a tablet makes changes to a
//! record (fuzzed edits, in order or concurrently), sends them (applied
//! directly, or through the sync protocol as over the socket), and the server
//! judges the new changes with `core::judge` as `server/src/sync/docs.rs`
//! does. Beyond not panicking, what must hold afterwards is checked here:
//! every change is accepted or refused, a tablet's own sync message passes
//! the payload check, and the record kept is valid, with the projection the
//! judgement reports equal to a whole validation's.

use std::collections::HashMap;

use arbitrary::Arbitrary;
use automerge::sync::{self, SyncDoc};
use automerge::{ActorId, Automerge, Change, ChangeHash, ReadDoc};
use veldwerk_core::case::{self, CaseRecord};
use veldwerk_core::identity::Compartment;
use veldwerk_core::judge::{Binding, Verdict, judge_changes};
use veldwerk_core::session::{SyncError, SyncSession};

use crate::edits::{self, Op};
use crate::fixtures::{self, FIXTURE_ACTOR, TABLET_ACTOR, WriterChoice};

/// At most this many changes, and operations in each, per input: more finds
/// nothing new and slows every run.
const MAX_CHANGES: usize = 8;
const MAX_OPS: usize = 32;
/// Rounds of the sync protocol before the tablet has said everything.
const MAX_ROUNDS: usize = 8;

/// Which record the changes are made to.
#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum Record {
    General,
    Restricted,
    /// A household registered offline: the server judges the whole document.
    New,
}

/// One change the tablet makes.
#[derive(Debug, Arbitrary)]
pub struct ChangeSpec {
    /// Which of the tablet's actor ids writes it (one is the fixture's own).
    actor: u8,
    /// Made on the record as the server holds it, not after the tablet's
    /// earlier changes: concurrent with them.
    concurrent: bool,
    ops: Vec<Op>,
}

/// One exchange: who writes, how the store knows each actor id, how the
/// changes travel, and the changes.
#[derive(Debug, Arbitrary)]
pub struct Exchange {
    record: Record,
    writer: WriterChoice,
    bindings: [u8; 5],
    via_sync: bool,
    /// Whether the server holds the record's projection (the fast path).
    projected: bool,
    /// Whether the record is also read as the tablet reads it (which costs
    /// as much as the judgement).
    read: bool,
    changes: Vec<ChangeSpec>,
}

/// The tablet's actor ids: the first is [`TABLET_ACTOR`], the last the
/// fixtures' own.
fn actor(index: u8) -> ActorId {
    match index % 5 {
        4 => ActorId::from(FIXTURE_ACTOR.as_slice()),
        n => ActorId::from([TABLET_ACTOR[0] + n; 16].as_slice()),
    }
}

impl Exchange {
    pub fn run(&self) {
        let (base, compartment) = match self.record {
            Record::General => (fixtures::general().clone(), Compartment::General),
            Record::Restricted => (fixtures::restricted().clone(), Compartment::Restricted),
            Record::New => (Automerge::new(), Compartment::General),
        };
        let before = base.get_heads();
        let mut tablet = match self.record {
            Record::New => fixtures::new_case().clone(),
            _ => base.clone(),
        };
        for spec in self.changes.iter().take(MAX_CHANGES) {
            let mut copy = if spec.concurrent {
                base.fork()
            } else {
                tablet.fork()
            };
            copy.set_actor(actor(spec.actor));
            let mut tx = copy.transaction();
            edits::apply(&mut tx, &spec.ops[..spec.ops.len().min(MAX_OPS)]);
            let (Some(hash), _) = tx.commit() else {
                continue;
            };
            if let Some(change) = copy.get_change_by_hash(&hash) {
                // A change whose actor and sequence number the tablet already
                // used is refused by automerge itself; a real tablet never
                // makes one.
                let _ = tablet.apply_changes([change]);
            }
        }

        let mut server = base.clone();
        if self.via_sync {
            sync(&tablet, &mut server);
        } else {
            let changes = tablet.get_changes(&before);
            if server.apply_changes(changes).is_err() {
                return;
            }
        }
        let new: Vec<Change> = server.get_changes(&before);
        if new.is_empty() {
            return;
        }
        let previous = match (compartment, self.projected, before.is_empty()) {
            (Compartment::General, true, false) => CaseRecord::new(&base).project().ok(),
            _ => None,
        };
        let binding: HashMap<String, Binding> = self
            .bindings
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let binding = match b % 3 {
                    0 => Binding::Sender,
                    1 => Binding::OtherDevice,
                    _ => Binding::Unbound,
                };
                (actor(i as u8).to_hex_string(), binding)
            })
            .collect();
        let writer = self.writer.writer();
        let count = new.len();
        let Ok(verdict) = judge_changes(
            &server,
            &before,
            new,
            compartment,
            &writer,
            previous.as_ref(),
            &binding,
        ) else {
            // An automerge error: the server refuses the whole message.
            return;
        };
        check_verdict(&server, &before, compartment, count, &verdict);
        if self.read {
            read_as_the_tablet_does(&server);
        }
    }
}

/// The tablet sends what the server lacks, as over the socket.
fn sync(tablet: &Automerge, server: &mut Automerge) {
    let mut tablet = tablet.clone();
    let mut theirs = sync::State::new();
    let mut ours = SyncSession::new();
    for _ in 0..MAX_ROUNDS {
        let Some(message) = tablet.generate_sync_message(&mut theirs) else {
            return;
        };
        let data = message.encode();
        let message = match SyncSession::decode(&data) {
            Ok(message) => message,
            // Text of one character repeated compresses past the ratio.
            Err(SyncError::TooLarge { .. }) => return,
            Err(e) => panic!("a sync message automerge made is refused: {e}"),
        };
        if ours.receive(server, message).is_err() {
            return;
        }
        if let Some(reply) = ours.generate(server) {
            let reply = sync::Message::decode(&reply).expect("our own reply decodes");
            if tablet.receive_sync_message(&mut theirs, reply).is_err() {
                return;
            }
        }
    }
}

/// What must hold after a judgement.
pub fn check_verdict(
    doc: &Automerge,
    before: &[ChangeHash],
    compartment: Compartment,
    count: usize,
    verdict: &Verdict,
) {
    assert_eq!(
        verdict.accepted.len() + verdict.refused.len(),
        count,
        "every change is accepted or refused"
    );
    let kept = verdict.rebuilt.as_ref().unwrap_or(doc);
    let record = CaseRecord::new(kept);
    match compartment {
        Compartment::General => {
            if !before.is_empty() {
                assert!(
                    verdict.judged.projection.is_some(),
                    "a valid record stays valid: {:?}",
                    verdict.refused
                );
            }
            if let Some(judged) = &verdict.judged.projection {
                let whole = record
                    .project()
                    .expect("the record kept after a judgement validates as a whole");
                assert_eq!(
                    &whole, judged,
                    "validating what changed agrees with validating everything"
                );
            }
        }
        Compartment::Restricted => {
            if !before.is_empty() {
                record
                    .validate_restricted()
                    .expect("the restricted record kept after a judgement validates");
            }
        }
    }
}

/// What the tablet reads of a record it is sent: the view, each visit as
/// reviewed and what changed since, and the history.
pub fn read_as_the_tablet_does(doc: &Automerge) {
    let record = CaseRecord::new(doc);
    let _ = record.validate();
    let _ = record.validate_restricted();
    if let Ok(view) = record.view() {
        let _ = view.conflicts();
        let _ = view.last_visit_ms();
        for visit in &view.visits {
            if let Some(reviewed) = case::visit_as_reviewed(doc, &visit.id) {
                let _ = case::visit_changes(&reviewed, visit);
            }
            let _ = case::awaits_review(visit);
        }
    }
    let _ = case::history(doc);
}
