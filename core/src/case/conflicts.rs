//! Every field two people changed at once, found by one walk over the
//! record rather than field by field, and settled by writing one value back:
//! the household's label, address and status, a member's name, birth date
//! and role, an agreement's text, due date and done flag, and whatever the
//! schema grows to. Principle 2: a conflict is shown to people, never
//! silently decided by automerge's winner.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutomergeError, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};

use super::record::CaseRecord;

/// One of a conflict's values, as it can be written back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue {
    Text(String),
    Bool(bool),
    Int(i64),
    Timestamp(i64),
}

impl FieldValue {
    fn of<D: ReadDoc>(doc: &D, value: &Value<'_>, id: &ObjId) -> Option<Self> {
        match value {
            Value::Object(ObjType::Text) => doc.text(id).ok().map(FieldValue::Text),
            Value::Object(_) => None,
            Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Str(s) => Some(FieldValue::Text(s.to_string())),
                ScalarValue::Boolean(b) => Some(FieldValue::Bool(*b)),
                ScalarValue::Int(i) => Some(FieldValue::Int(*i)),
                ScalarValue::Uint(u) => i64::try_from(*u).ok().map(FieldValue::Int),
                ScalarValue::Timestamp(t) => Some(FieldValue::Timestamp(*t)),
                _ => None,
            },
        }
    }

    fn scalar(&self) -> ScalarValue {
        match self {
            FieldValue::Text(s) => ScalarValue::Str(s.as_str().into()),
            FieldValue::Bool(b) => ScalarValue::Boolean(*b),
            FieldValue::Int(i) => ScalarValue::Int(*i),
            FieldValue::Timestamp(t) => ScalarValue::Timestamp(*t),
        }
    }
}

/// A value of a conflict and the automerge actor that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConflictingValue {
    pub value: FieldValue,
    pub actor: ActorId,
}

/// A field with more than one concurrent value, automerge's winner first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldConflict {
    /// From the root, e.g. `["members", "m1", "birthDate"]`.
    pub path: Vec<String>,
    pub values: Vec<ConflictingValue>,
}

impl FieldConflict {
    /// The path as the record names it: `members.m1.birthDate`.
    pub fn dotted(&self) -> String {
        self.path.join(".")
    }
}

impl<D: ReadDoc> CaseRecord<'_, D> {
    /// Every field of the record with concurrent values, in the record's order.
    pub fn conflicts(&self) -> Vec<FieldConflict> {
        let mut found = Vec::new();
        walk(self.doc, &ROOT, &mut Vec::new(), &mut found);
        found
    }
}

fn walk<D: ReadDoc>(doc: &D, obj: &ObjId, path: &mut Vec<String>, found: &mut Vec<FieldConflict>) {
    for key in doc.keys(obj) {
        let values = doc.get_all(obj, key.as_str()).unwrap_or_default();
        path.push(key);
        match values.as_slice() {
            [(Value::Object(ObjType::Map), child)] => walk(doc, child, path, found),
            [_] | [] => {}
            many => {
                // Two concurrent objects are refused by the validator; only
                // values are settled by people.
                let values: Option<Vec<ConflictingValue>> = many
                    .iter()
                    .rev()
                    .map(|(value, id)| {
                        Some(ConflictingValue {
                            value: FieldValue::of(doc, value, id)?,
                            actor: actor_of(id),
                        })
                    })
                    .collect();
                // The same value written twice at once is no conflict to anyone.
                let values = values.map(|mut values| {
                    let mut seen = Vec::new();
                    values.retain(|v| {
                        let new = !seen.contains(&v.value);
                        seen.push(v.value.clone());
                        new
                    });
                    values
                });
                if let Some(values) = values.filter(|v| v.len() > 1) {
                    found.push(FieldConflict {
                        path: path.clone(),
                        values,
                    });
                }
            }
        }
        path.pop();
    }
}

fn actor_of(id: &ObjId) -> ActorId {
    match id {
        ObjId::Id(_, actor, _) => actor.clone(),
        ObjId::Root => ActorId::from(&[][..]),
    }
}

/// Settles a conflict by writing `value` at `path`: one value, which
/// supersedes every concurrent one. The parent maps must exist.
pub fn settle<T: Transactable>(
    tx: &mut T,
    path: &[String],
    value: &FieldValue,
) -> Result<(), AutomergeError> {
    let Some((field, parents)) = path.split_last() else {
        return Err(AutomergeError::InvalidOp(ObjType::Map));
    };
    let mut obj = ROOT;
    for key in parents {
        obj = match tx.get(&obj, key.as_str())? {
            Some((Value::Object(ObjType::Map), id)) => id,
            _ => return Err(AutomergeError::InvalidOp(ObjType::Map)),
        };
    }
    tx.put(&obj, field.as_str(), value.scalar())
}

#[cfg(test)]
mod tests {
    use automerge::AutoCommit;

    use super::*;
    use crate::case::{MemberRole, NewCase, add_member, init_case};

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn concurrent_values_anywhere_in_the_record_are_found_and_settled() {
        let mut a = AutoCommit::new().with_actor(ActorId::from(&[1; 16][..]));
        init_case(
            &mut a,
            &NewCase {
                label: "Familie Jansen".into(),
                address: "Kerkstraat 2".into(),
                address_status: crate::case::AddressStatus::Known,
            },
        )
        .unwrap();
        add_member(&mut a, "m1", "Sem", Some("2012-03-04"), MemberRole::Child).unwrap();
        a.commit();
        let mut b = a.fork().with_actor(ActorId::from(&[2; 16][..]));
        for (doc, date, label) in [
            (&mut a, "2012-03-05", "Fam. Jansen"),
            (&mut b, "2012-04-03", "Jansen"),
        ] {
            settle(
                doc,
                &path("members.m1.birthDate"),
                &FieldValue::Text(date.into()),
            )
            .unwrap();
            settle(
                doc,
                &path("household.label"),
                &FieldValue::Text(label.into()),
            )
            .unwrap();
            doc.commit();
        }
        a.merge(&mut b).unwrap();

        let conflicts = CaseRecord::new(a.document()).conflicts();
        let paths: Vec<String> = conflicts.iter().map(FieldConflict::dotted).collect();
        assert_eq!(paths, ["household.label", "members.m1.birthDate"]);
        let dates = &conflicts[1].values;
        assert_eq!(dates.len(), 2);
        let mut writers: Vec<&ActorId> = dates.iter().map(|v| &v.actor).collect();
        writers.sort();
        assert_eq!(
            writers,
            [&ActorId::from(&[1; 16][..]), &ActorId::from(&[2; 16][..])]
        );

        // Keeping one value ends the conflict, for everyone who merges it.
        let kept = dates[1].value.clone();
        settle(&mut a, &conflicts[1].path, &kept).unwrap();
        a.commit();
        b.merge(&mut a).unwrap();
        let left = CaseRecord::new(b.document()).conflicts();
        assert_eq!(left.len(), 1, "{left:?}");
        assert_eq!(
            b.get(
                b.get(b.get(ROOT, "members").unwrap().unwrap().1, "m1")
                    .unwrap()
                    .unwrap()
                    .1,
                "birthDate"
            )
            .unwrap()
            .unwrap()
            .0
            .into_string()
            .ok(),
            match kept {
                FieldValue::Text(s) => Some(s),
                _ => None,
            }
        );
        CaseRecord::new(b.document()).validate().unwrap();
    }
}
