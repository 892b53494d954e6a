//! The check of a sync payload before automerge sees it
//! (`SyncSession::decode`: every change chunk parses, and what the payload
//! inflates to is counted against the budget before anything is inflated),
//! then the rest of what the server does with a payload that passes: apply it
//! to a record and judge the new changes. The input is read as a payload, and
//! as the recipe of one whose chunks are built from typed parts (a kind, a
//! body raw or DEFLATE-compressed, runs of zeros to reach the budget), so the
//! chunk parser and the inflation count see more than the message framing.
#![no_main]

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::OnceLock;

use arbitrary::{Arbitrary, Unstructured};
use automerge::sync::{Message, MessageVersion};
use automerge::{Change, ChangeHash};
use libfuzzer_sys::fuzz_target;
use veldwerk_core::identity::Compartment;
use veldwerk_core::judge::judge_changes;
use veldwerk_core::session::{SyncError, SyncSession, inflation_budget};
use veldwerk_fuzz::{fixtures, judging};

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
/// Runs of zeros a body may inflate to: around the least budget, and twice it.
const ZEROS: [usize; 4] = [64 << 10, (1 << 20) - 64, (1 << 20) + 1, 2 << 20];

#[derive(Debug, Arbitrary)]
enum Body {
    Raw(Vec<u8>),
    Deflated(Vec<u8>),
    DeflatedZeros(u8),
}

#[derive(Debug, Arbitrary)]
struct Chunk {
    kind: u8,
    checksum: [u8; 4],
    /// A length that is not the body's.
    length: Option<u32>,
    body: Body,
}

#[derive(Debug, Arbitrary)]
struct Payload {
    heads: Vec<[u8; 32]>,
    need: Vec<[u8; 32]>,
    chunks: Vec<Chunk>,
    v2: bool,
}

fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).expect("writing into a Vec");
    encoder.finish().expect("writing into a Vec")
}

/// Compressed once: compressing megabytes on every run would be most of the run.
fn zeros() -> &'static [Vec<u8>] {
    static ZEROS_DEFLATED: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    ZEROS_DEFLATED.get_or_init(|| ZEROS.iter().map(|&n| deflate(&vec![0; n])).collect())
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

impl Chunk {
    fn bytes(&self) -> Vec<u8> {
        let body = match &self.body {
            Body::Raw(bytes) => bytes.clone(),
            Body::Deflated(bytes) => deflate(bytes),
            Body::DeflatedZeros(n) => zeros()[usize::from(*n) % ZEROS.len()].clone(),
        };
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&self.checksum);
        out.push(self.kind % 5);
        uleb(
            u64::from(self.length.unwrap_or(body.len() as u32)),
            &mut out,
        );
        out.extend_from_slice(&body);
        out
    }
}

impl Payload {
    fn encode(&self) -> Vec<u8> {
        // automerge writes hash lists sorted (and debug builds insist).
        let sorted = |hashes: &[[u8; 32]]| {
            let mut hashes: Vec<ChangeHash> = hashes.iter().copied().map(ChangeHash).collect();
            hashes.sort();
            hashes
        };
        Message {
            heads: sorted(&self.heads),
            need: sorted(&self.need),
            have: Vec::new(),
            changes: self
                .chunks
                .iter()
                .map(Chunk::bytes)
                .collect::<Vec<_>>()
                .into(),
            flags: None,
            version: if self.v2 {
                MessageVersion::V2
            } else {
                MessageVersion::V1
            },
        }
        .encode()
    }
}

/// As the server receives a payload for a case record it holds.
fn receive(data: &[u8]) {
    let message = match SyncSession::decode(data) {
        Ok(message) => message,
        Err(SyncError::TooLarge { budget }) => {
            assert_eq!(budget, inflation_budget(data.len()));
            return;
        }
        Err(_) => return,
    };
    let mut doc = fixtures::general().clone();
    let before = doc.get_heads();
    if SyncSession::new().receive(&mut doc, message).is_err() {
        return;
    }
    let new: Vec<Change> = doc.get_changes(&before);
    if new.is_empty() {
        return;
    }
    let count = new.len();
    let previous = veldwerk_core::case::CaseRecord::new(fixtures::general())
        .project()
        .ok();
    if let Ok(verdict) = judge_changes(
        &doc,
        &before,
        new,
        Compartment::General,
        &fixtures::field_worker(),
        previous.as_ref(),
        &HashMap::new(),
    ) {
        judging::check_verdict(&doc, &before, Compartment::General, count, &verdict);
    }
}

fuzz_target!(init: { fixtures::check(); }, |data: &[u8]| {
    receive(data);
    if let Ok(payload) = Payload::arbitrary(&mut Unstructured::new(data)) {
        receive(&payload.encode());
    }
});
