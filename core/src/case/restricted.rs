//! The restricted record, the compartment of police and justice signals that
//! only some organisations may read: `{ schemaVersion, compartment:
//! "restricted", signals: { <id>: { at, author, organisation, kind, text } } }`.
//! Its fields, validator and writers.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, AutomergeError, ObjType, ROOT, ReadDoc, ScalarValue};

use crate::DocumentId;

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

/// A signal as its readers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalEntry {
    pub id: String,
    pub at_ms: i64,
    pub author: String,
    pub organisation: String,
    pub kind: SignalKind,
    pub text: String,
}

impl<D: ReadDoc> CaseRecord<'_, D> {
    /// Every signal in the restricted record, newest first. The `signals` map
    /// is made once ([`restricted_skeleton`]); should a client have made a
    /// concurrent one anyway, the signals of each are read, so none is hidden.
    pub fn signals(&self) -> Vec<SignalEntry> {
        let mut entries = Vec::new();
        for (value, signals) in self.doc.get_all(ROOT, "signals").unwrap_or_default() {
            if !matches!(value, automerge::Value::Object(ObjType::Map)) {
                continue;
            }
            for id in self.doc.keys(&signals) {
                let Ok(signal) = self.map(&signals, &id, "signals") else {
                    continue;
                };
                let path = format!("signals.{id}");
                let entry = (|| {
                    Ok::<_, SchemaError>(SignalEntry {
                        at_ms: self.time(&signal, "at", &path)?,
                        author: self.short_text(&signal, "author", &path)?,
                        organisation: self.short_text(&signal, "organisation", &path)?,
                        kind: self.choice(&signal, "kind", &path, SignalKind::parse)?,
                        text: self.text(&signal, "text", &path)?,
                        id: id.clone(),
                    })
                })();
                entries.extend(entry.ok());
            }
        }
        entries.sort_by(|a, b| b.at_ms.cmp(&a.at_ms).then_with(|| a.id.cmp(&b.id)));
        entries.dedup_by(|a, b| a.id == b.id);
        entries
    }
}

/// Whether a document has the restricted record's skeleton yet.
pub fn has_restricted_skeleton<D: ReadDoc>(doc: &D) -> bool {
    matches!(
        doc.get(ROOT, "signals"),
        Ok(Some((automerge::Value::Object(ObjType::Map), _)))
    )
}

/// The restricted record's skeleton as one change that every first writer
/// makes byte for byte the same: its actor comes from the document's id and
/// its time is zero. Two police officers who each add the first signal while
/// offline so make one skeleton, not two concurrent ones (which the
/// validator refuses, as objects are never replaced), and automerge keeps
/// the one change once.
pub fn restricted_skeleton(document_id: &DocumentId) -> automerge::Change {
    let mut actor = b"veldwerk restricted:".to_vec();
    actor.extend_from_slice(document_id.as_bytes());
    let mut doc = Automerge::new().with_actor(ActorId::from(actor));
    let mut tx = doc.transaction();
    init_restricted(&mut tx).expect("an empty document takes the skeleton");
    tx.commit_with(CommitOptions::default().with_time(0));
    doc.get_last_local_change()
        .expect("the skeleton was just committed")
        .clone()
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

#[cfg(test)]
mod tests {
    use automerge::AutoCommit;

    use super::*;

    fn signal(id: &str, at_ms: i64) -> NewSignal {
        NewSignal {
            id: id.into(),
            at_ms,
            author: "piet".into(),
            organisation: "Politie Oost".into(),
            kind: SignalKind::Police,
            text: "Oudste zoon aangehouden bij een inbraak.".into(),
        }
    }

    #[test]
    fn two_first_writers_offline_make_one_skeleton() {
        let id = DocumentId::from_random_bytes([7; 16]);
        let skeleton = restricted_skeleton(&id);
        assert_eq!(skeleton.hash(), restricted_skeleton(&id).hash());
        assert_ne!(
            skeleton.hash(),
            restricted_skeleton(&DocumentId::from_random_bytes([8; 16])).hash()
        );
        let mut a = AutoCommit::new().with_actor(ActorId::from(b"aaaa".as_slice()));
        let mut b = AutoCommit::new().with_actor(ActorId::from(b"bbbb".as_slice()));
        for (doc, id, at) in [(&mut a, "s-a", 2), (&mut b, "s-b", 1)] {
            doc.apply_changes([skeleton.clone()]).unwrap();
            add_signal(doc, &signal(id, at)).unwrap();
        }
        a.merge(&mut b).unwrap();
        let record = CaseRecord::new(a.document());
        record.validate_restricted().unwrap();
        let ids: Vec<String> = record.signals().into_iter().map(|s| s.id).collect();
        assert_eq!(ids, ["s-a", "s-b"], "newest first, neither hidden");
        assert!(has_restricted_skeleton(a.document()));
        // A later signal joins them.
        add_signal(&mut a, &signal("s-c", 3)).unwrap();
        assert_eq!(CaseRecord::new(a.document()).signals().len(), 3);
    }
}
