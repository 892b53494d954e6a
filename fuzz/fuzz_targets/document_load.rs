//! Raw bytes as a saved automerge document: loaded, validated as either
//! record, judged whole as the server judges a household registered offline,
//! and read as the tablet reads a record.
#![no_main]

use std::collections::HashMap;

use automerge::{Automerge, Change};
use libfuzzer_sys::fuzz_target;
use veldwerk_core::identity::Compartment;
use veldwerk_core::judge::judge_changes;
use veldwerk_fuzz::{fixtures, judging};

fuzz_target!(|data: &[u8]| {
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
