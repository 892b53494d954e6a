//! Every operation of a change, judged against the record's schema. The
//! validator sees the state a change leaves; a change can still carry data
//! the state never shows — a key set and deleted again, a text mark, a block
//! split into a plain string — and automerge keeps every operation in the
//! change log that every peer receives. So each operation must write only
//! where the schema has a field, and only the kind of value it holds there.

use std::collections::HashMap;

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{ActorId, Automerge, Change, ObjType, Prop, ReadDoc, ScalarValue};

use super::restricted::{RESTRICTED_KEYS, SIGNAL_KEYS};
use super::schema::{
    AGREEMENT_KEYS, GENERAL_KEYS, HOUSEHOLD_KEYS, MAX_FREE_TEXT, MEMBER_KEYS, REVIEW_KEYS,
    SchemaError, Theme, VISIT_KEYS, check_id,
};
use crate::identity::Compartment;

/// What the schema holds under a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Map,
    List,
    /// A plain value, or text (a string, or a Text object as JS writes it).
    Value,
}

/// What the schema holds at `key` of the map at `path`, if anything.
fn field(compartment: Compartment, path: &[String], key: &str) -> Option<Field> {
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    let value = |keys: &[&str]| keys.contains(&key).then_some(Field::Value);
    let entry = || check_id(key, "").is_ok().then_some(Field::Map);
    match (compartment, path.as_slice()) {
        (Compartment::General, []) => match key {
            "household" | "members" | "visits" | "agreements" => Some(Field::Map),
            _ => value(GENERAL_KEYS),
        },
        (Compartment::General, ["household"]) => value(HOUSEHOLD_KEYS),
        (Compartment::General, ["members" | "visits" | "agreements"]) => entry(),
        (Compartment::General, ["members", _]) => value(MEMBER_KEYS),
        (Compartment::General, ["agreements", _]) => value(AGREEMENT_KEYS),
        (Compartment::General, ["visits", _]) => match key {
            "present" => Some(Field::List),
            "observations" | "review" => Some(Field::Map),
            _ => value(VISIT_KEYS),
        },
        (Compartment::General, ["visits", _, "observations"]) => {
            Theme::parse(key).map(|_| Field::Value)
        }
        (Compartment::General, ["visits", _, "review"]) => value(REVIEW_KEYS),
        (Compartment::Restricted, []) => match key {
            "signals" => Some(Field::Map),
            _ => value(RESTRICTED_KEYS),
        },
        (Compartment::Restricted, ["signals"]) => entry(),
        (Compartment::Restricted, ["signals", _]) => value(SIGNAL_KEYS),
        _ => None,
    }
}

/// Where an object is, and what it is.
type Place = (Vec<String>, ObjType);

/// Checks every operation of `change`, which `doc` already holds (applied,
/// so every object it names can be found, even one it deleted again).
pub fn check_operations(
    doc: &Automerge,
    change: &Change,
    compartment: Compartment,
) -> Result<(), SchemaError> {
    let mut places: HashMap<(u64, ActorId), Place> = HashMap::new();
    for op in change.decode().operations {
        let (path, kind) = match &op.obj {
            ObjectId::Root => (Vec::new(), ObjType::Map),
            ObjectId::Id(id) => {
                let known = (id.counter(), id.actor().clone());
                if !places.contains_key(&known) {
                    let place = place(doc, id.counter(), id.actor())?;
                    places.insert(known.clone(), place);
                }
                places[&known].clone()
            }
        };
        let at = |key: &str| {
            let mut at = path.join(".");
            if !key.is_empty() {
                if !at.is_empty() {
                    at.push('.');
                }
                at.push_str(key);
            }
            at
        };
        if matches!(op.action, OpType::MarkBegin(_) | OpType::MarkEnd(_)) {
            return Err(SchemaError::new(
                at(""),
                "text marks are not part of the case record; its text is plain",
            ));
        }
        if matches!(op.action, OpType::Increment(_)) {
            return Err(SchemaError::new(
                at(""),
                "counters are not part of the case record",
            ));
        }
        match kind {
            ObjType::Map | ObjType::Table => {
                let Key::Map(key) = &op.key else {
                    return Err(SchemaError::new(at(""), "is not a list"));
                };
                if matches!(op.action, OpType::Delete) {
                    continue;
                }
                let Some(expected) = field(compartment, &path, key) else {
                    return Err(SchemaError::new(
                        at(key),
                        "is not a field of the case record",
                    ));
                };
                match (&op.action, expected) {
                    (OpType::Put(value), Field::Value) => check_value(value, &at(key))?,
                    (OpType::Make(ObjType::Map), Field::Map)
                    | (OpType::Make(ObjType::List), Field::List)
                    | (OpType::Make(ObjType::Text), Field::Value) => {}
                    (_, Field::Map) => return Err(SchemaError::new(at(key), "must be a Map")),
                    (_, Field::List) => return Err(SchemaError::new(at(key), "must be a List")),
                    (_, Field::Value) => {
                        return Err(SchemaError::new(at(key), "must be text or a plain value"));
                    }
                }
            }
            // The only list is a visit's `present`: member ids, as text.
            ObjType::List => match &op.action {
                OpType::Delete | OpType::Make(ObjType::Text) => {}
                OpType::Put(value) => check_value(value, &at(""))?,
                _ => return Err(SchemaError::new(at(""), "holds only member ids")),
            },
            ObjType::Text => match &op.action {
                OpType::Delete | OpType::Put(ScalarValue::Str(_)) => {}
                OpType::Make(_) => {
                    return Err(SchemaError::new(
                        at(""),
                        "blocks are not part of the case record; its text is plain",
                    ));
                }
                _ => return Err(SchemaError::new(at(""), "holds only characters")),
            },
        }
    }
    Ok(())
}

/// The path of the object made by operation `counter@actor`, and its type.
fn place(doc: &Automerge, counter: u64, actor: &ActorId) -> Result<Place, SchemaError> {
    let unknown = || SchemaError::new("", "names an object the record does not have");
    let (id, kind) = doc
        .import(&format!("{counter}@{}", actor.to_hex_string()))
        .map_err(|_| unknown())?;
    let path = doc
        .parents(&id)
        .map_err(|_| unknown())?
        .path()
        .into_iter()
        .map(|(_, prop)| match prop {
            Prop::Map(key) => key,
            Prop::Seq(index) => index.to_string(),
        })
        .collect();
    Ok((path, kind))
}

fn check_value(value: &ScalarValue, path: &str) -> Result<(), SchemaError> {
    match value {
        ScalarValue::Str(text) if text.chars().count() > MAX_FREE_TEXT => Err(SchemaError::new(
            path,
            format!("is longer than {MAX_FREE_TEXT} characters"),
        )),
        ScalarValue::Str(_)
        | ScalarValue::Int(_)
        | ScalarValue::Uint(_)
        | ScalarValue::F64(_)
        | ScalarValue::Timestamp(_)
        | ScalarValue::Boolean(_)
        | ScalarValue::Null => Ok(()),
        ScalarValue::Bytes(_) | ScalarValue::Counter(_) | ScalarValue::Unknown { .. } => Err(
            SchemaError::new(path, "is not a kind of value the case record holds"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{
        self, AddressStatus, MemberRole, NewCase, NewSignal, NewVisit, ReviewStatus, SignalKind,
        VisitKind, VisitStatus,
    };
    use automerge::marks::{ExpandMark, Mark};
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ROOT};

    fn new_case() -> AutoCommit {
        let mut doc = AutoCommit::new();
        case::init_case(
            &mut doc,
            &NewCase {
                label: "Familie De Vries".into(),
                address: "Dorpsstraat 1".into(),
                address_status: AddressStatus::Known,
            },
        )
        .unwrap();
        doc.commit();
        doc
    }

    /// Commits what `edit` does as one change and judges it.
    fn judge(
        doc: &mut AutoCommit,
        compartment: Compartment,
        edit: impl FnOnce(&mut AutoCommit),
    ) -> Result<(), SchemaError> {
        let before = doc.get_heads();
        edit(doc);
        doc.commit();
        let changes: Vec<Change> = doc.get_changes(&before);
        assert_eq!(changes.len(), 1, "one change");
        check_operations(doc.document(), &changes[0], compartment)
    }

    fn household(doc: &AutoCommit) -> automerge::ObjId {
        doc.get(ROOT, "household").unwrap().unwrap().1
    }

    #[test]
    fn every_change_the_record_writers_make_passes() {
        let mut doc = AutoCommit::new();
        judge(&mut doc, Compartment::General, |doc| {
            case::init_case(
                doc,
                &NewCase {
                    label: "Familie".into(),
                    address: "Straat 1".into(),
                    address_status: AddressStatus::Known,
                },
            )
            .unwrap()
        })
        .unwrap();
        let visit = NewVisit {
            id: "v1".into(),
            at_ms: 1,
            author: "jan".into(),
            organisation: "Gemeente".into(),
            kind: VisitKind::Home,
            present: vec!["m1".into()],
            observations: vec![(Theme::Housing, "Vochtig".into())],
            status: VisitStatus::Draft,
        };
        type Edit = Box<dyn FnOnce(&mut AutoCommit)>;
        let edits: Vec<Edit> = vec![
            Box::new(|d| {
                case::add_member(d, "m1", "Anna", Some("2015-03-01"), MemberRole::Child).unwrap()
            }),
            Box::new(move |d| case::add_visit(d, &visit).unwrap()),
            Box::new(|d| case::set_observation(d, "v1", Theme::Safety, "Rustig").unwrap()),
            Box::new(|d| case::submit_visit(d, "v1", 2).unwrap()),
            Box::new(|d| {
                case::review_visit(d, "v1", ReviewStatus::Returned, "sara", "Aanvullen", 3).unwrap()
            }),
            Box::new(|d| case::answer_review(d, "v1", "Aangevuld").unwrap()),
            Box::new(|d| {
                case::add_agreement(d, "a1", "Huur betalen", Some("v1"), Some("2026-01-31"))
                    .unwrap()
            }),
            Box::new(|d| case::set_address(d, "Nieuwstraat 2", AddressStatus::Moved).unwrap()),
        ];
        for edit in edits {
            judge(&mut doc, Compartment::General, edit).unwrap();
        }
        let mut restricted = AutoCommit::new();
        judge(&mut restricted, Compartment::Restricted, |d| {
            case::init_restricted(d).unwrap()
        })
        .unwrap();
        judge(&mut restricted, Compartment::Restricted, |d| {
            case::add_signal(
                d,
                &NewSignal {
                    id: "s1".into(),
                    at_ms: 5,
                    author: "piet".into(),
                    organisation: "Politie".into(),
                    kind: SignalKind::Police,
                    text: "Melding".into(),
                },
            )
            .unwrap()
        })
        .unwrap();
    }

    #[test]
    fn text_objects_as_js_clients_write_them_pass() {
        let mut doc = new_case();
        judge(&mut doc, Compartment::General, |doc| {
            let household = household(doc);
            let label = doc.put_object(&household, "label", ObjType::Text).unwrap();
            doc.splice_text(&label, 0, 0, "Familie Jansen").unwrap();
            doc.splice_text(&label, 8, 6, "Pietersen").unwrap();
        })
        .unwrap();
    }

    #[test]
    fn a_key_set_and_deleted_in_one_change_is_refused() {
        let mut doc = new_case();
        let err = judge(&mut doc, Compartment::General, |doc| {
            let household = household(doc);
            doc.put(&household, "nationality", "x").unwrap();
            doc.delete(&household, "nationality").unwrap();
        })
        .unwrap_err();
        assert_eq!(err.path, "household.nationality");
        assert_eq!(err.reason, "is not a field of the case record");
        // Also inside an object that is itself deleted again.
        let err = judge(&mut doc, Compartment::General, |doc| {
            let members = doc.get(ROOT, "members").unwrap().unwrap().1;
            let member = doc.put_object(&members, "m9", ObjType::Map).unwrap();
            doc.put(&member, "origin", "x").unwrap();
            doc.delete(&members, "m9").unwrap();
        })
        .unwrap_err();
        assert_eq!(err.path, "members.m9.origin");
    }

    #[test]
    fn marks_and_blocks_in_plain_text_are_refused() {
        let mut doc = new_case();
        let err = judge(&mut doc, Compartment::General, |doc| {
            let household = household(doc);
            let label = doc.put_object(&household, "label", ObjType::Text).unwrap();
            doc.splice_text(&label, 0, 0, "Familie").unwrap();
            doc.mark(
                &label,
                Mark::new("nationality".into(), "x", 0, 7),
                ExpandMark::None,
            )
            .unwrap();
        })
        .unwrap_err();
        assert_eq!(err.path, "household.label");
        assert!(err.reason.contains("marks"), "{err}");

        let mut doc = new_case();
        let err = judge(&mut doc, Compartment::General, |doc| {
            let household = household(doc);
            let address = doc
                .put_object(&household, "address", ObjType::Text)
                .unwrap();
            doc.splice_text(&address, 0, 0, "Straat 1").unwrap();
            let block = doc.split_block(&address, 3).unwrap();
            doc.put(&block, "origin", "x").unwrap();
        })
        .unwrap_err();
        assert!(err.path.starts_with("household.address"), "{err}");
    }

    #[test]
    fn values_of_kinds_the_record_does_not_hold_are_refused() {
        let mut doc = new_case();
        let err = judge(&mut doc, Compartment::General, |doc| {
            let household = household(doc);
            doc.put(&household, "label", ScalarValue::Bytes(vec![1, 2, 3]))
                .unwrap();
            doc.put(&household, "label", "Familie").unwrap();
        })
        .unwrap_err();
        assert_eq!(err.path, "household.label");
        let err = judge(&mut doc, Compartment::General, |doc| {
            let household = household(doc);
            doc.put_object(&household, "label", ObjType::Map).unwrap();
            doc.put(&household, "label", "Familie").unwrap();
        })
        .unwrap_err();
        assert_eq!(err.reason, "must be text or a plain value");
        let err = judge(&mut doc, Compartment::General, |doc| {
            let household = household(doc);
            doc.put(&household, "label", "x".repeat(MAX_FREE_TEXT + 1))
                .unwrap();
            doc.put(&household, "label", "Familie").unwrap();
        })
        .unwrap_err();
        assert!(err.reason.contains("longer than"), "{err}");
    }

    #[test]
    fn the_restricted_record_has_its_own_fields() {
        let mut doc = AutoCommit::new();
        case::init_restricted(&mut doc).unwrap();
        doc.commit();
        let err = judge(&mut doc, Compartment::Restricted, |doc| {
            doc.put_object(ROOT, "household", ObjType::Map).unwrap();
        })
        .unwrap_err();
        assert_eq!(err.path, "household");
        // And a general record's fields are not written as a restricted one.
        let mut doc = new_case();
        assert!(
            judge(&mut doc, Compartment::Restricted, |doc| {
                let household = household(doc);
                doc.put(&household, "label", "Familie").unwrap();
            })
            .is_err()
        );
    }
}
