//! The documents the load generator writes: valid case records (a household, then visits) made
//! with `veldwerk_core::case`, so our server accepts them, and sent unchanged to the reference.
//! Text is drawn from a fixed word list by a seeded generator: every run writes the same kind of
//! prose, which matters for the compressed sizes the wire-efficiency figure divides by.

use anyhow::{Context, Result};
use automerge::{AutoCommit, Change, ChangeHash};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use veldwerk_core::DocumentId;
use veldwerk_core::case::{
    AddressStatus, NewCase, NewVisit, Theme, VisitKind, VisitStatus, add_visit, init_case,
};

/// Words of the kind field workers write.
const WORDS: &[&str] = &[
    "moeder",
    "vader",
    "kinderen",
    "school",
    "huur",
    "achterstand",
    "schulden",
    "gesprek",
    "afspraak",
    "wijkteam",
    "jeugdzorg",
    "huisarts",
    "vocht",
    "schimmel",
    "slaapkamer",
    "werk",
    "uitkering",
    "budgetcoach",
    "spanning",
    "ruzie",
    "buren",
    "politie",
    "melding",
    "rustig",
    "zorgen",
    "vermoeid",
    "positief",
    "opgeruimd",
    "rommelig",
    "aanwezig",
    "niet",
    "thuis",
    "gebeld",
    "volgende",
    "week",
    "besproken",
    "toegezegd",
    "geregeld",
    "aanvraag",
    "ingediend",
    "oudste",
    "jongste",
    "verzuim",
    "leerplicht",
    "mentor",
    "contact",
    "gehad",
    "met",
    "de",
    "het",
    "een",
    "en",
    "is",
    "was",
    "heeft",
    "over",
    "voor",
    "na",
    "bij",
    "geen",
    "wel",
    "nog",
];

const THEMES: [Theme; 6] = [
    Theme::Housing,
    Theme::WorkIncome,
    Theme::Education,
    Theme::Health,
    Theme::Safety,
    Theme::Wellbeing,
];

/// Makes case records and visits; one per workload run, seeded, so both servers get alike data.
pub struct CaseWriter {
    rng: StdRng,
    observation_chars: usize,
    visits_written: u64,
}

impl CaseWriter {
    /// `observation_chars`: free text per visit, split over two themes.
    pub fn new(seed: u64, observation_chars: usize) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            observation_chars,
            visits_written: 0,
        }
    }

    /// A fresh document id, as automerge-repo makes them.
    pub fn document_id(&mut self) -> DocumentId {
        DocumentId::from_random_bytes(self.rng.random())
    }

    /// A new case record in its first change, written by a fresh actor id.
    pub fn new_case(&mut self, number: usize) -> Result<AutoCommit> {
        let mut doc = AutoCommit::new();
        init_case(
            &mut doc,
            &NewCase {
                label: format!("Huishouden {number}"),
                address: format!("Kerkstraat {}, Ergens", number % 500 + 1),
                address_status: AddressStatus::Known,
            },
        )
        .context("writing a new case record")?;
        doc.commit();
        Ok(doc)
    }

    /// Adds one visit as one change; returns its hash.
    pub fn add_visit(&mut self, doc: &mut AutoCommit) -> Result<ChangeHash> {
        self.visits_written += 1;
        let first = self.rng.random_range(0..THEMES.len());
        let second = (first + 1 + self.rng.random_range(0..THEMES.len() - 1)) % THEMES.len();
        let half = self.observation_chars / 2;
        let visit = NewVisit {
            id: format!("v{}-{}", self.visits_written, self.rng.random::<u32>()),
            // Spread over 2025, a minute apart per visit.
            at_ms: 1_735_689_600_000 + self.visits_written as i64 * 60_000,
            author: "bench".into(),
            organisation: "Gemeente Bench".into(),
            kind: VisitKind::Home,
            present: vec!["m1".into()],
            observations: vec![
                (THEMES[first], self.prose(half)),
                (THEMES[second], self.prose(self.observation_chars - half)),
            ],
            status: VisitStatus::Submitted,
        };
        add_visit(doc, &visit).context("writing a visit")?;
        doc.commit().context("a visit always makes a change")
    }

    fn prose(&mut self, chars: usize) -> String {
        let mut text = String::with_capacity(chars + 16);
        while text.len() < chars {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(WORDS[self.rng.random_range(0..WORDS.len())]);
        }
        text.truncate(chars);
        text
    }
}

/// The sizes of one change: as automerge stores it compressed, and as sync messages carry it.
pub fn change_sizes(doc: &mut AutoCommit, hash: ChangeHash) -> Result<(u64, u64)> {
    let mut change: Change = doc
        .get_change_by_hash(&hash)
        .context("a change we just made is in the document")?;
    let raw = change.raw_bytes().len() as u64;
    let compressed = change.bytes().len() as u64;
    Ok((compressed, raw))
}
