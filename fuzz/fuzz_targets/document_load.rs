//! Raw bytes as a saved automerge document, as one arrives from outside: in
//! a sync message, which must pass `SyncSession::decode` first (automerge
//! 0.12 itself panics loading some malformed bundles, which that check
//! refuses). Then loaded, judged whole as the server judges a household
//! registered offline, and read as the tablet reads a record.
#![no_main]

use std::collections::HashMap;

use automerge::{Automerge, Change, sync};
use libfuzzer_sys::fuzz_target;
use veldwerk_core::identity::Compartment;
use veldwerk_core::judge::judge_changes;
use veldwerk_core::session::SyncSession;
use veldwerk_fuzz::{fixtures, judging};

fuzz_target!(|data: &[u8]| {
    let payload = sync::Message {
        heads: Vec::new(),
        need: Vec::new(),
        have: Vec::new(),
        changes: vec![data.to_vec()].into(),
        flags: None,
        version: sync::MessageVersion::V2,
    }
    .encode();
    if SyncSession::decode(&payload).is_err() {
        return;
    }
    let Ok(doc) = Automerge::load(data) else {
        return;
    };
    let changes: Vec<Change> = doc.get_changes(&[]);
    let count = changes.len();
    for compartment in [Compartment::General, Compartment::Restricted] {
        if let Ok(verdict) = judge_changes(
            &doc,
            &[],
            changes.clone(),
            compartment,
            &fixtures::field_worker(),
            None,
            &HashMap::new(),
        ) {
            judging::check_verdict(&doc, &[], compartment, count, &verdict);
        }
    }
    judging::read_as_the_tablet_does(&doc);
});
