//! The restricted record, the compartment of police and justice signals that
//! only some organisations may read: `{ schemaVersion, compartment:
//! "restricted", signals: { <id>: { at, author, organisation, kind, text } } }`.
//! Its fields, validator and writers.

use automerge::{AutomergeError, ObjType, ROOT, ReadDoc, ScalarValue, transaction::Transactable};

use super::record::CaseRecord;
use super::schema::{MAX_FREE_TEXT, SCHEMA_VERSION, SchemaError, check_id, check_len};
use super::writers::existing_map;
use crate::names::wire_enum;

pub(super) const RESTRICTED_KEYS: &[&str] = &["schemaVersion", "compartment", "signals"];
pub(super) const SIGNAL_KEYS: &[&str] = &["at", "author", "organisation", "kind", "text"];

wire_enum!(
    /// What a restricted-record signal is about.
    SignalKind, "signal kind" {
        Police = "police",
        Justice = "justice",
        MinorInCrime = "minor_in_crime",
    }
);

impl<D: ReadDoc> CaseRecord<'_, D> {
    /// Checks the document as a restricted record.
    pub fn validate_restricted(&self) -> Result<(), SchemaError> {
        self.only_keys(&ROOT, "", RESTRICTED_KEYS)?;
        let version = self.int(&ROOT, "schemaVersion", "")?;
        if version != SCHEMA_VERSION {
            return Err(SchemaError::new(
                "schemaVersion",
                format!("unsupported schema version {version}"),
            ));
        }
        if self.text(&ROOT, "compartment", "")? != "restricted" {
            return Err(SchemaError::new("compartment", "must be \"restricted\""));
        }
        let signals = self.map(&ROOT, "signals", "")?;
        for id in self.doc.keys(&signals) {
            let path = format!("signals.{id}");
            check_id(&id, &path)?;
            let signal = self.map(&signals, &id, "signals")?;
            self.only_keys(&signal, &path, SIGNAL_KEYS)?;
            self.time(&signal, "at", &path)?;
            self.short_text(&signal, "author", &path)?;
            self.short_text(&signal, "organisation", &path)?;
            self.choice(&signal, "kind", &path, SignalKind::parse)?;
            let text = self.text(&signal, "text", &path)?;
            check_len(&text, MAX_FREE_TEXT, &format!("{path}.text"))?;
        }
        Ok(())
    }
}

/// Writes the skeleton of a case's restricted record.
pub fn init_restricted<T: Transactable>(tx: &mut T) -> Result<(), AutomergeError> {
    tx.put(ROOT, "schemaVersion", SCHEMA_VERSION)?;
    tx.put(ROOT, "compartment", "restricted")?;
    tx.put_object(ROOT, "signals", ObjType::Map)?;
    Ok(())
}

/// A signal in the restricted record.
#[derive(Debug, Clone)]
pub struct NewSignal {
    pub id: String,
    pub at_ms: i64,
    pub author: String,
    pub organisation: String,
    pub kind: SignalKind,
    pub text: String,
}

/// Adds a signal to an existing restricted record.
pub fn add_signal<T: Transactable>(tx: &mut T, signal: &NewSignal) -> Result<(), AutomergeError> {
    let signals = existing_map(tx, &ROOT, "signals")?;
    let obj = tx.put_object(&signals, signal.id.as_str(), ObjType::Map)?;
    tx.put(&obj, "at", ScalarValue::Timestamp(signal.at_ms))?;
    tx.put(&obj, "author", signal.author.as_str())?;
    tx.put(&obj, "organisation", signal.organisation.as_str())?;
    tx.put(&obj, "kind", signal.kind.as_str())?;
    tx.put(&obj, "text", signal.text.as_str())?;
    Ok(())
}
