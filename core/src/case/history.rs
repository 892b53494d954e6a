//! A case's history from automerge's own change log: for every change, who
//! wrote it (its actor), when, and per field the value before and after.
//! A change that replaces concurrent values with one is marked as settling a
//! conflict.

use automerge::{
    ActorId, Automerge, ChangeHash, ObjId, Prop, ReadDoc, Value, patches::PatchAction,
};

/// One field changed by one change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldEdit {
    /// The field's path, e.g. `household.address` or `visits.v1.observations.housing`.
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// The field had several concurrent values before, and one after.
    pub settles_conflict: bool,
}

/// One change of the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub hash: ChangeHash,
    pub actor: ActorId,
    /// As the writer's device recorded it, in milliseconds since the epoch (0 if it did not).
    pub time_ms: i64,
    pub edits: Vec<FieldEdit>,
}

/// Every change of the document, oldest first (in causal order).
pub fn history(doc: &Automerge) -> Vec<HistoryEntry> {
    doc.get_changes(&[])
        .into_iter()
        .map(|change| {
            let before: Vec<ChangeHash> = change.deps().to_vec();
            let after = [change.hash()];
            let mut edits = Vec::new();
            for patch in doc.diff(&before, &after) {
                let mut path: Vec<String> = patch.path.iter().map(|(_, p)| prop(p)).collect();
                let (key, new) = match &patch.action {
                    PatchAction::PutMap { key, value, .. } => (key.clone(), Some(shown(&value.0))),
                    PatchAction::DeleteMap { key } => (key.clone(), None),
                    // Lists (who was present) and text edits: named by their field.
                    _ => match path.pop() {
                        Some(field) => (field, Some("…".to_owned())),
                        None => continue,
                    },
                };
                let old_all = doc
                    .get_all_at(&patch.obj, key.as_str(), &before)
                    .unwrap_or_default();
                let old = old_all
                    .last()
                    .map(|(v, id)| value_text(doc, v, id, &before));
                let settles_conflict = old_all.len() > 1
                    && doc
                        .get_all_at(&patch.obj, key.as_str(), &after)
                        .map(|v| v.len())
                        .unwrap_or(0)
                        == 1;
                path.push(key);
                edits.push(FieldEdit {
                    field: path.join("."),
                    before: old,
                    after: new,
                    settles_conflict,
                });
            }
            let time = change.timestamp();
            HistoryEntry {
                hash: change.hash(),
                actor: change.actor_id().clone(),
                // Some clients record seconds, ours milliseconds.
                time_ms: if time > 0 && time < 100_000_000_000 {
                    time * 1000
                } else {
                    time
                },
                edits,
            }
        })
        .collect()
}

fn prop(p: &Prop) -> String {
    match p {
        Prop::Map(key) => key.clone(),
        Prop::Seq(index) => index.to_string(),
    }
}

fn shown(value: &Value<'_>) -> String {
    match value {
        Value::Scalar(s) => match s.as_ref() {
            automerge::ScalarValue::Str(text) => text.to_string(),
            other => other.to_string(),
        },
        Value::Object(_) => "…".to_owned(),
    }
}

fn value_text(doc: &Automerge, value: &Value<'_>, id: &ObjId, heads: &[ChangeHash]) -> String {
    match value {
        Value::Object(automerge::ObjType::Text) => doc.text_at(id, heads).unwrap_or_default(),
        other => shown(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{AddressStatus, NewCase, init_case, set_address};
    use automerge::transaction::CommitOptions;

    #[test]
    fn the_history_names_writer_time_and_values_and_the_settling_of_a_conflict() {
        let jan = ActorId::from(&[1; 16][..]);
        let sara = ActorId::from(&[2; 16][..]);
        let mut a = Automerge::new().with_actor(jan.clone());
        let mut tx = a.transaction();
        init_case(
            &mut tx,
            &NewCase {
                label: "Familie Jansen".into(),
                address: "Kerkstraat 2".into(),
                address_status: AddressStatus::Known,
            },
        )
        .unwrap();
        tx.commit_with(CommitOptions::default().with_time(1_700_000_000_000));
        let mut b = a.fork().with_actor(sara.clone());
        let mut tx = a.transaction();
        set_address(&mut tx, "Molenweg 5", AddressStatus::Moved).unwrap();
        tx.commit_with(CommitOptions::default().with_time(1_700_000_100_000));
        let mut tx = b.transaction();
        set_address(&mut tx, "Stationsplein 9", AddressStatus::Moved).unwrap();
        tx.commit();
        a.merge(&mut b).unwrap();
        let mut tx = a.transaction();
        set_address(&mut tx, "Molenweg 5", AddressStatus::Known).unwrap();
        tx.commit_with(CommitOptions::default().with_time(1_700_000_200_000));

        let entries = history(&a);
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[0].actor, jan);
        assert_eq!(entries[0].time_ms, 1_700_000_000_000);
        assert!(entries[0].edits.iter().any(|e| e.field == "household.label"
            && e.before.is_none()
            && e.after.as_deref() == Some("Familie Jansen")));

        let jans_move = entries
            .iter()
            .find(|e| e.time_ms == 1_700_000_100_000)
            .unwrap();
        let address = jans_move
            .edits
            .iter()
            .find(|e| e.field == "household.address")
            .unwrap();
        assert_eq!(address.before.as_deref(), Some("Kerkstraat 2"));
        assert_eq!(address.after.as_deref(), Some("Molenweg 5"));
        assert!(!address.settles_conflict);
        assert!(entries.iter().any(|e| e.actor == sara));

        let settled = entries.last().unwrap();
        let address = settled
            .edits
            .iter()
            .find(|e| e.field == "household.address")
            .unwrap();
        assert!(address.settles_conflict);
        assert_eq!(address.after.as_deref(), Some("Molenweg 5"));
    }
}
