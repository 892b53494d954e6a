//! The judgement of new changes to a case record: which are accepted, which
//! are refused and why, and what the record looks like afterwards. Pure: the
//! caller brings the document with the changes applied, who wrote them, and
//! how the store knows their actor ids; nothing here waits or stores.
//!
//! The server judges every sync message with [`judge_changes`]; the tablet
//! judges its own edit with [`judge`] before keeping it. One judgement, so the
//! two cannot disagree about what a change may do.
//!
//! The common case costs one validation of what the changes touched. When
//! something is refused, the changes are replayed one by one onto the record
//! as it was, so every good change is kept and every change that builds on a
//! refused one is refused too.

use std::collections::{HashMap, HashSet};

use automerge::{Automerge, AutomergeError, Change, ChangeHash};

use crate::case::{CaseProjection, CaseRecord, SchemaError, Touched, check_operations};
use crate::identity::Compartment;
use crate::rules::{self, DiffDoc, RuleViolation, Writer};

/// At most this many changes of one message are judged one by one after a
/// refusal; the rest are refused unjudged. Judging costs a pass over the
/// document, and a message full of refusals must not hold it for everyone.
pub const MAX_JUDGED_REFUSALS: usize = 16;

/// Why a change was refused. Its text is what the quarantine records and
/// what the sender is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The change's actor id is bound to a device other than the sender's.
    #[error("actor id {actor} belongs to another device")]
    OtherDevice { actor: String },
    /// The writer may not make this change.
    #[error("the write rules forbid it: {0}")]
    Rules(RuleViolation),
    /// The record, or an operation of the change, would leave the schema.
    #[error("the case record would break a rule: {0}")]
    Record(SchemaError),
    #[error("it depends on a quarantined change")]
    DependsOnRefused,
    #[error("not checked: too many refused changes in one message")]
    NotJudged,
    /// A new document is registered whole or not at all: this change was
    /// good, but others of the document were not.
    #[error("the document would not be a valid case record")]
    NotACase,
}

/// How the store knows a change's actor id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// Bound to the sender's device.
    Sender,
    /// Bound to another device: its changes are not the sender's to send.
    OtherDevice,
    /// Not bound yet: accepting a change binds it to the sender's device.
    Unbound,
}

/// What the record is after accepted changes.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    /// The projection of a general record (none for the restricted one).
    pub projection: Option<CaseProjection>,
    /// The visits the changes touched, when that is known (else all).
    pub changed_visits: Option<Vec<String>>,
}

/// The outcome of judging the new changes of one message.
#[derive(Debug)]
pub struct Verdict {
    pub accepted: Vec<Change>,
    pub refused: Vec<(Change, Refusal)>,
    /// Unbound actor ids of accepted changes: to bind to the sender's device.
    pub bind_actors: Vec<String>,
    /// The document with only the accepted changes, when some were refused.
    pub rebuilt: Option<Automerge>,
    /// The record after the accepted changes.
    pub judged: Judged,
}

/// Judges the changes from `before` to `doc`'s heads as a whole: the write
/// rules for `writer`, then the schema of `compartment`. Given the projection
/// at `before` (`previous`), a general record is validated by what the
/// changes touched rather than whole.
pub fn judge(
    doc: &Automerge,
    before: &[ChangeHash],
    compartment: Compartment,
    writer: &Writer<'_>,
    previous: Option<&CaseProjection>,
) -> Result<Judged, Refusal> {
    let paths = doc.changed_paths(before, &doc.get_heads());
    rules::check_paths(doc, before, &paths, compartment, writer).map_err(Refusal::Rules)?;
    let record = CaseRecord::new(doc);
    match (compartment, previous) {
        (Compartment::General, Some(previous)) if !before.is_empty() => {
            let touched = Touched::from_paths(&paths);
            Ok(Judged {
                projection: Some(
                    record
                        .project_changed(previous, &touched)
                        .map_err(Refusal::Record)?,
                ),
                changed_visits: touched.visit_ids(),
            })
        }
        (Compartment::General, _) => Ok(Judged {
            projection: Some(record.project().map_err(Refusal::Record)?),
            changed_visits: None,
        }),
        (Compartment::Restricted, _) => {
            record.validate_restricted().map_err(Refusal::Record)?;
            Ok(Judged {
                projection: None,
                changed_visits: None,
            })
        }
    }
}

/// Judges `changes`, the changes from `before` to `doc`'s heads in the order
/// they arrived, each by its operations, its actor id (`binding` tells how
/// the store knows each; an actor id it does not name counts as unbound) and
/// the record it leaves.
pub fn judge_changes(
    doc: &Automerge,
    before: &[ChangeHash],
    changes: Vec<Change>,
    compartment: Compartment,
    writer: &Writer<'_>,
    previous: Option<&CaseProjection>,
    binding: &HashMap<String, Binding>,
) -> Result<Verdict, AutomergeError> {
    // Refusals known before replaying anything: changes by another device's
    // actor id, and changes with an operation outside the schema (which the
    // state they leave may not show).
    let mut known: HashMap<ChangeHash, Refusal> = HashMap::new();
    let mut unbound: Vec<String> = Vec::new();
    for change in &changes {
        if let Err(e) = check_operations(doc, change, compartment) {
            known.insert(change.hash(), Refusal::Record(e));
        }
        let actor = change.actor_id().to_hex_string();
        match binding.get(&actor).copied().unwrap_or(Binding::Unbound) {
            Binding::Sender => {}
            Binding::OtherDevice => {
                known
                    .entry(change.hash())
                    .or_insert(Refusal::OtherDevice { actor });
            }
            Binding::Unbound => {
                if !unbound.contains(&actor) {
                    unbound.push(actor);
                }
            }
        }
    }

    if known.is_empty()
        && let Ok(judged) = judge(doc, before, compartment, writer, previous)
    {
        return Ok(Verdict {
            accepted: changes,
            refused: Vec::new(),
            bind_actors: unbound,
            rebuilt: None,
            judged,
        });
    }

    let mut clean = doc.fork_at(before)?;
    let mut accepted = Vec::new();
    let mut refused: Vec<(Change, Refusal)> = Vec::new();
    let mut refused_hashes: HashSet<ChangeHash> = HashSet::new();
    for change in changes {
        let refusal = if refused.len() >= MAX_JUDGED_REFUSALS {
            Some(Refusal::NotJudged)
        } else if change.deps().iter().any(|d| refused_hashes.contains(d)) {
            Some(Refusal::DependsOnRefused)
        } else if let Some(refusal) = known.remove(&change.hash()) {
            Some(refusal)
        } else {
            let heads = clean.get_heads();
            clean.apply_changes([change.clone()])?;
            match judge(&clean, &heads, compartment, writer, None) {
                Ok(_) => None,
                Err(refusal) => {
                    clean = clean.fork_at(&heads)?;
                    Some(refusal)
                }
            }
        };
        match refusal {
            Some(refusal) => {
                refused_hashes.insert(change.hash());
                refused.push((change, refusal));
            }
            None => accepted.push(change),
        }
    }
    let used: HashSet<String> = accepted
        .iter()
        .map(|c| c.actor_id().to_hex_string())
        .collect();
    unbound.retain(|a| used.contains(a));
    let projection = match compartment {
        Compartment::General => CaseRecord::new(&clean).project().ok(),
        Compartment::Restricted => None,
    };
    Ok(Verdict {
        accepted,
        refused,
        bind_actors: unbound,
        rebuilt: Some(clean),
        judged: Judged {
            projection,
            changed_visits: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ActorId, ROOT, ReadDoc};

    use super::*;
    use crate::case::{AddressStatus, NewCase, init_case};
    use crate::identity::{OrganisationKind, Role, Standing};

    const ADA: [u8; 16] = [0xad; 16];
    const BOB: [u8; 16] = [0xb0; 16];

    fn writer() -> Writer<'static> {
        Writer {
            handle: "ada",
            organisation: "Gemeente Ergens",
            organisation_kind: OrganisationKind::Municipality,
            role: Role::FieldWorker,
            standing: Standing {
                on_team: true,
                directs: true,
            },
        }
    }

    fn actor(bytes: [u8; 16]) -> ActorId {
        ActorId::from(bytes.as_slice())
    }

    fn hex(bytes: [u8; 16]) -> String {
        actor(bytes).to_hex_string()
    }

    /// A registered case, as the server holds it.
    fn case() -> Automerge {
        let mut doc = Automerge::new().with_actor(actor(ADA));
        doc.transact::<_, _, AutomergeError>(|tx| {
            init_case(
                tx,
                &NewCase {
                    label: "Familie Ergens".into(),
                    address: "Kerkstraat 1".into(),
                    address_status: AddressStatus::Known,
                },
            )
        })
        .unwrap();
        doc
    }

    /// One change by `who` on a copy of `base`, made by `edit`.
    fn change(
        base: &Automerge,
        who: [u8; 16],
        edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>),
    ) -> Change {
        let mut doc = base.fork().with_actor(actor(who));
        let mut tx = doc.transaction();
        edit(&mut tx);
        tx.commit();
        doc.get_last_local_change().unwrap().clone()
    }

    fn household(doc: &impl ReadDoc) -> automerge::ObjId {
        doc.get(ROOT, "household").unwrap().unwrap().1
    }

    fn relabel(label: &'static str) -> impl FnOnce(&mut automerge::transaction::Transaction<'_>) {
        move |tx| {
            let household = household(tx);
            tx.put(&household, "label", label).unwrap();
        }
    }

    /// Applies `changes` to `base` and judges them as the server does.
    fn verdict(
        base: &Automerge,
        changes: Vec<Change>,
        binding: &[([u8; 16], Binding)],
    ) -> (Automerge, Verdict) {
        let mut doc = base.clone();
        let before = doc.get_heads();
        doc.apply_changes(changes.clone()).unwrap();
        let previous = CaseRecord::new(base).project().unwrap();
        let binding = binding.iter().map(|(a, b)| (hex(*a), *b)).collect();
        let verdict = judge_changes(
            &doc,
            &before,
            changes,
            Compartment::General,
            &writer(),
            Some(&previous),
            &binding,
        )
        .unwrap();
        (doc, verdict)
    }

    fn label(doc: &Automerge) -> String {
        CaseRecord::new(doc).project().unwrap().label
    }

    #[test]
    fn good_changes_are_accepted_and_their_new_actor_bound() {
        let base = case();
        let first = change(&base, ADA, relabel("Familie Ergens-Jansen"));
        let (_, v) = verdict(&base, vec![first], &[]);
        assert_eq!((v.accepted.len(), v.refused.len()), (1, 0));
        assert!(v.rebuilt.is_none(), "nothing refused, nothing rebuilt");
        assert_eq!(v.bind_actors, [hex(ADA)]);
        assert_eq!(
            v.judged.projection.unwrap().label,
            "Familie Ergens-Jansen",
            "the projection follows the accepted change"
        );
    }

    #[test]
    fn another_devices_actor_is_refused_and_so_is_what_builds_on_it() {
        let base = case();
        let bobs = change(&base, BOB, relabel("Familie Bob"));
        let mut after_bob = base.clone();
        after_bob.apply_changes([bobs.clone()]).unwrap();
        let building_on_it = change(&after_bob, ADA, relabel("Familie Ada"));
        let (_, v) = verdict(
            &base,
            vec![bobs, building_on_it],
            &[(BOB, Binding::OtherDevice), (ADA, Binding::Sender)],
        );
        assert!(v.accepted.is_empty());
        let reasons: Vec<String> = v.refused.iter().map(|(_, r)| r.to_string()).collect();
        assert_eq!(
            reasons,
            [
                format!("actor id {} belongs to another device", hex(BOB)),
                "it depends on a quarantined change".to_owned(),
            ]
        );
        assert_eq!(
            label(&v.rebuilt.unwrap()),
            "Familie Ergens",
            "nothing of it stays"
        );
        assert!(v.bind_actors.is_empty());
    }

    #[test]
    fn one_bad_change_does_not_cost_the_good_ones() {
        let base = case();
        let good = change(&base, ADA, relabel("Familie Goed"));
        // Concurrent with the good one, from Ada's other tablet: a field the
        // schema does not have.
        let bad = change(&base, [0xae; 16], |tx| {
            let household = household(tx);
            tx.put(&household, "nationality", "x").unwrap();
        });
        let (_, v) = verdict(
            &base,
            vec![good, bad],
            &[(ADA, Binding::Sender), ([0xae; 16], Binding::Sender)],
        );
        assert_eq!(v.accepted.len(), 1);
        assert_eq!(v.refused.len(), 1);
        assert!(
            matches!(v.refused[0].1, Refusal::Record(_)),
            "{:?}",
            v.refused
        );
        let rebuilt = v.rebuilt.unwrap();
        assert_eq!(label(&rebuilt), "Familie Goed");
        assert!(
            rebuilt
                .get(household(&rebuilt), "nationality")
                .unwrap()
                .is_none(),
            "the refused field is not in the record"
        );
        assert_eq!(v.judged.projection.unwrap().label, "Familie Goed");
    }

    #[test]
    fn a_change_the_writer_may_not_make_is_refused_by_the_rules() {
        let base = case();
        let schema = change(&base, ADA, |tx| {
            tx.put(ROOT, "schemaVersion", 99).unwrap();
        });
        let (_, v) = verdict(&base, vec![schema], &[(ADA, Binding::Sender)]);
        assert!(
            matches!(v.refused[..], [(_, Refusal::Rules(_))]),
            "{:?}",
            v.refused
        );
        assert!(
            v.refused[0]
                .1
                .to_string()
                .starts_with("the write rules forbid it: ")
        );
    }

    #[test]
    fn a_message_full_of_refusals_is_not_judged_past_a_limit() {
        let base = case();
        let changes: Vec<Change> = (0..MAX_JUDGED_REFUSALS + 3)
            .map(|i| {
                // Each from its own (new) actor: concurrent changes.
                change(&base, [i as u8 + 1; 16], move |tx| {
                    let household = household(tx);
                    tx.put(&household, format!("hidden{i}"), "x").unwrap();
                })
            })
            .collect();
        let (_, v) = verdict(&base, changes, &[]);
        assert_eq!(v.refused.len(), MAX_JUDGED_REFUSALS + 3);
        assert!(
            v.bind_actors.is_empty(),
            "no refused change binds its actor"
        );
        let unjudged = v
            .refused
            .iter()
            .filter(|(_, r)| *r == Refusal::NotJudged)
            .count();
        assert_eq!(unjudged, 3);
    }
}
