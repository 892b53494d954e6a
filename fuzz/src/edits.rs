//! Edits of a record made from fuzzer bytes: every kind of automerge
//! operation (put, insert, delete, increment, splice, marks, blocks) on any
//! object the document holds, concurrent losers and deleted objects included,
//! with keys and strings mostly from the case schema so that edits reach the
//! validator's and the rules' deeper checks instead of the first unknown key.

use arbitrary::Arbitrary;
use automerge::marks::{ExpandMark, Mark};
use automerge::transaction::{Transactable, Transaction};
use automerge::{ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};

/// Keys of the general and restricted records, ids their fixtures use, and a
/// few keys the schema refuses.
const KEYS: &[&str] = &[
    "schemaVersion",
    "compartment",
    "household",
    "members",
    "visits",
    "agreements",
    "signals",
    "label",
    "address",
    "addressStatus",
    "name",
    "birthDate",
    "role",
    "at",
    "author",
    "organisation",
    "kind",
    "present",
    "observations",
    "status",
    "review",
    "answer",
    "submittedAt",
    "reviewer",
    "comment",
    "text",
    "visit",
    "due",
    "done",
    "housing",
    "workIncome",
    "education",
    "health",
    "safety",
    "wellbeing",
    "m1",
    "m2",
    "v1",
    "v2",
    "v3",
    "v4",
    "a1",
    "a2",
    "s1",
    "s2",
    "nationality",
    "bold",
];

/// Values the schema's fields take, and near misses.
const STRINGS: &[&str] = &[
    "",
    " ",
    "general",
    "restricted",
    "known",
    "moved",
    "unknown",
    "home",
    "phone",
    "office",
    "draft",
    "submitted",
    "approved",
    "returned",
    "parent",
    "child",
    "police",
    "justice",
    "minor_in_crime",
    "ada",
    "bea",
    "cor",
    "piet",
    "Gemeente Ergens",
    "Jeugdzorg Noord",
    "Politie Midden",
    "2020-02-29",
    "2021-02-29",
    "1899-12-31",
    "m1",
    "v1",
    "a1",
    "Kerkstraat 1",
];

/// Longest text an `update_text` operation writes.
const MAX_UPDATE_CHARS: usize = 256;

/// A key of a map.
#[derive(Debug, Arbitrary)]
pub enum Key {
    Known(u8),
    Other(String),
}

impl Key {
    fn as_str(&self) -> &str {
        match self {
            Key::Known(i) => KEYS[usize::from(*i) % KEYS.len()],
            Key::Other(s) => s,
        }
    }
}

/// A string value.
#[derive(Debug, Arbitrary)]
pub enum Text {
    Known(u8),
    Other(String),
    /// One character many times: past the limits on text.
    Long(char, u16),
}

impl Text {
    fn text(&self) -> String {
        match self {
            Text::Known(i) => STRINGS[usize::from(*i) % STRINGS.len()].to_owned(),
            Text::Other(s) => s.clone(),
            Text::Long(c, n) => std::iter::repeat_n(*c, usize::from(*n)).collect(),
        }
    }
}

/// A scalar of each kind automerge knows.
#[derive(Debug, Arbitrary)]
pub enum Scalar {
    Str(Text),
    Int(i64),
    Uint(u64),
    F64(f64),
    Bool(bool),
    Null,
    Timestamp(i64),
    Counter(i64),
    Bytes(Vec<u8>),
}

impl Scalar {
    fn value(&self) -> ScalarValue {
        match self {
            Scalar::Str(text) => ScalarValue::Str(text.text().into()),
            Scalar::Int(n) => ScalarValue::Int(*n),
            Scalar::Uint(n) => ScalarValue::Uint(*n),
            Scalar::F64(x) => ScalarValue::F64(*x),
            Scalar::Bool(b) => ScalarValue::Boolean(*b),
            Scalar::Null => ScalarValue::Null,
            Scalar::Timestamp(t) => ScalarValue::Timestamp(*t),
            Scalar::Counter(n) => ScalarValue::counter(*n),
            Scalar::Bytes(bytes) => ScalarValue::Bytes(bytes.clone()),
        }
    }
}

#[derive(Debug, Arbitrary)]
pub enum Kind {
    Map,
    List,
    Text,
}

impl Kind {
    fn obj_type(&self) -> ObjType {
        match self {
            Kind::Map => ObjType::Map,
            Kind::List => ObjType::List,
            Kind::Text => ObjType::Text,
        }
    }
}

/// One operation on the object numbered `obj` among those the document
/// holds (see [`objects`]); positions are taken modulo the sequence's length.
#[derive(Debug, Arbitrary)]
pub enum Op {
    Put {
        obj: u8,
        key: Key,
        value: Scalar,
    },
    PutObject {
        obj: u8,
        key: Key,
        kind: Kind,
    },
    Insert {
        obj: u8,
        at: u16,
        value: Scalar,
    },
    InsertObject {
        obj: u8,
        at: u16,
        kind: Kind,
    },
    Set {
        obj: u8,
        at: u16,
        value: Scalar,
    },
    Delete {
        obj: u8,
        key: Key,
    },
    DeleteAt {
        obj: u8,
        at: u16,
    },
    Increment {
        obj: u8,
        key: Key,
        by: i64,
    },
    SpliceText {
        obj: u8,
        at: u16,
        delete: i8,
        text: Text,
    },
    Splice {
        obj: u8,
        at: u16,
        delete: i8,
        values: Vec<Scalar>,
    },
    UpdateText {
        obj: u8,
        text: Text,
    },
    Mark {
        obj: u8,
        from: u16,
        to: u16,
        name: Key,
        value: Scalar,
        expand: u8,
    },
    Unmark {
        obj: u8,
        from: u16,
        to: u16,
        name: Key,
        expand: u8,
    },
    SplitBlock {
        obj: u8,
        at: u16,
    },
    JoinBlock {
        obj: u8,
        at: u16,
    },
}

fn expand(n: u8) -> ExpandMark {
    match n % 4 {
        0 => ExpandMark::Before,
        1 => ExpandMark::After,
        2 => ExpandMark::Both,
        _ => ExpandMark::None,
    }
}

/// Every object reachable from the root, through every value of a key
/// (concurrent losers too), in a stable order; at most `MAX_OBJECTS`.
pub fn objects<D: ReadDoc>(doc: &D) -> Vec<ObjId> {
    const MAX_OBJECTS: usize = 256;
    let mut found = vec![ROOT];
    let mut next = 0;
    while next < found.len() && found.len() < MAX_OBJECTS {
        let obj = found[next].clone();
        next += 1;
        let values = match doc.object_type(&obj) {
            Ok(ObjType::Map | ObjType::Table) => doc
                .keys(&obj)
                .flat_map(|key| doc.get_all(&obj, key).unwrap_or_default())
                .collect::<Vec<_>>(),
            Ok(ObjType::List | ObjType::Text) => (0..doc.length(&obj))
                .flat_map(|i| doc.get_all(&obj, i).unwrap_or_default())
                .collect(),
            Err(_) => Vec::new(),
        };
        for (value, id) in values {
            if matches!(value, Value::Object(_)) && found.len() < MAX_OBJECTS {
                found.push(id);
            }
        }
    }
    found
}

/// Applies `ops` in one transaction; an operation automerge refuses is
/// skipped, as a tablet would never send it.
pub fn apply(tx: &mut Transaction<'_>, ops: &[Op]) {
    let mut objs = objects(tx);
    for op in ops {
        let pick = |n: u8| objs[usize::from(n) % objs.len()].clone();
        let position =
            |tx: &Transaction<'_>, obj: &ObjId, at: u16| usize::from(at) % (tx.length(obj) + 1);
        match op {
            Op::Put { obj, key, value } => {
                let _ = tx.put(pick(*obj), key.as_str(), value.value());
            }
            Op::PutObject { obj, key, kind } => {
                if let Ok(id) = tx.put_object(pick(*obj), key.as_str(), kind.obj_type()) {
                    objs.push(id);
                }
            }
            Op::Insert { obj, at, value } => {
                let obj = pick(*obj);
                let at = position(tx, &obj, *at);
                let _ = tx.insert(&obj, at, value.value());
            }
            Op::InsertObject { obj, at, kind } => {
                let obj = pick(*obj);
                let at = position(tx, &obj, *at);
                if let Ok(id) = tx.insert_object(&obj, at, kind.obj_type()) {
                    objs.push(id);
                }
            }
            Op::Set { obj, at, value } => {
                let obj = pick(*obj);
                let at = position(tx, &obj, *at);
                let _ = tx.put(&obj, at, value.value());
            }
            Op::Delete { obj, key } => {
                let _ = tx.delete(pick(*obj), key.as_str());
            }
            Op::DeleteAt { obj, at } => {
                let obj = pick(*obj);
                let at = position(tx, &obj, *at);
                let _ = tx.delete(&obj, at);
            }
            Op::Increment { obj, key, by } => {
                let _ = tx.increment(pick(*obj), key.as_str(), *by);
            }
            Op::SpliceText {
                obj,
                at,
                delete,
                text,
            } => {
                let obj = pick(*obj);
                let at = position(tx, &obj, *at);
                let _ = tx.splice_text(&obj, at, isize::from(*delete), &text.text());
            }
            Op::Splice {
                obj,
                at,
                delete,
                values,
            } => {
                let obj = pick(*obj);
                let at = position(tx, &obj, *at);
                let values = values.iter().map(Scalar::value);
                let _ = tx.splice(&obj, at, isize::from(*delete), values);
            }
            Op::UpdateText { obj, text } => {
                // automerge diffs the old text against the new (Myers, worst
                // case quadratic): a tablet's own edit, not outside input, so
                // kept short enough not to time out.
                let text: String = text.text().chars().take(MAX_UPDATE_CHARS).collect();
                let _ = tx.update_text(&pick(*obj), text);
            }
            Op::Mark {
                obj,
                from,
                to,
                name,
                value,
                expand: how,
            } => {
                let obj = pick(*obj);
                let (from, to) = (position(tx, &obj, *from), position(tx, &obj, *to));
                let mark = Mark::new(
                    name.as_str().to_owned(),
                    value.value(),
                    from.min(to),
                    from.max(to),
                );
                let _ = tx.mark(&obj, mark, expand(*how));
            }
            Op::Unmark {
                obj,
                from,
                to,
                name,
                expand: how,
            } => {
                let obj = pick(*obj);
                let (from, to) = (position(tx, &obj, *from), position(tx, &obj, *to));
                let _ = tx.unmark(
                    &obj,
                    name.as_str(),
                    from.min(to),
                    from.max(to),
                    expand(*how),
                );
            }
            Op::SplitBlock { obj, at } => {
                let obj = pick(*obj);
                let at = position(tx, &obj, *at);
                if let Ok(id) = tx.split_block(&obj, at) {
                    objs.push(id);
                }
            }
            Op::JoinBlock { obj, at } => {
                let obj = pick(*obj);
                let at = position(tx, &obj, *at);
                let _ = tx.join_block(&obj, at);
            }
        }
    }
}
