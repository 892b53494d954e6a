//! Who may write what in a case record. The tablet app checks a change before
//! making it; the server checks the patches of every change it receives and
//! quarantines what breaks a rule. One set of rules, shared by both.
//!
//! General record:
//! - case roles (field worker, supervisor, case director) write the household,
//!   members and agreements, and add visits as themselves, for their organisation;
//! - only a visit's author edits it, and only while it is unreviewed or returned;
//! - only a supervisor of the visit's organisation writes its review;
//! - nobody deletes a reviewed visit;
//! - the schema fields are written once, when the record is created.
//!
//! Restricted record: those who may read it add signals as themselves.
//! Admins and auditors write no case content at all.

use std::collections::HashMap;

use automerge::{ChangeHash, ObjId, Prop, ROOT, ReadDoc, Value};

use crate::identity::{Compartment, OrganisationKind, Role, Standing, may_read};

/// The person (of an organisation) whose change is checked.
#[derive(Debug, Clone)]
pub struct Writer<'a> {
    pub handle: &'a str,
    pub organisation: &'a str,
    pub organisation_kind: OrganisationKind,
    pub role: Role,
    /// Where the writer's organisation stands to the case.
    pub standing: Standing,
}

/// Which rule a change breaks, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct RuleViolation {
    pub path: String,
    pub reason: String,
}

fn violation(path: &[String], reason: &str) -> RuleViolation {
    RuleViolation {
        path: path.join("."),
        reason: reason.to_owned(),
    }
}

/// Checks every change between `before` and `after` (heads of `doc`) against
/// what `writer` may do in `compartment`. The writer's organisation is on the
/// case's team (the server checked that before accepting any sync message).
/// The writer's standing decides which compartments they write at all.
pub fn check<D: ReadDoc + DiffDoc>(
    doc: &D,
    before: &[ChangeHash],
    after: &[ChangeHash],
    compartment: Compartment,
    writer: &Writer<'_>,
) -> Result<(), RuleViolation> {
    let paths = doc.changed_paths(before, after);
    check_paths(doc, before, &paths, compartment, writer)
}

/// As [`check`], given the changed paths (`DiffDoc::changed_paths` from
/// `before` to the document's current heads), for a caller that uses them
/// for more than the rules.
pub fn check_paths<D: ReadDoc>(
    doc: &D,
    before: &[ChangeHash],
    paths: &[Vec<String>],
    compartment: Compartment,
    writer: &Writer<'_>,
) -> Result<(), RuleViolation> {
    if !may_read(
        writer.role,
        writer.organisation_kind,
        writer.standing,
        compartment,
    ) {
        return Err(violation(
            &[],
            &format!("a {} does not write the {compartment} record", writer.role),
        ));
    }
    let creating = before.is_empty();
    // A new visit is many changed paths; its facts are read once.
    let mut visits = HashMap::new();
    for path in paths {
        // Top-level fields and collections exist from the first change;
        // replacing one later would hide everything concurrent in it.
        if path.len() <= 1 || matches!(path[0].as_str(), "schemaVersion" | "compartment") {
            if !creating {
                return Err(violation(
                    path,
                    "is set when the record is created and never changed",
                ));
            }
            continue;
        }
        match compartment {
            Compartment::General => general(doc, before, path, writer, &mut visits)?,
            Compartment::Restricted => restricted(doc, before, path, writer)?,
        }
    }
    Ok(())
}

/// A visit's facts before the changes and now.
type VisitStates = HashMap<String, (Option<VisitFacts>, Option<VisitFacts>)>;

fn general<D: ReadDoc>(
    doc: &D,
    before: &[ChangeHash],
    path: &[String],
    writer: &Writer<'_>,
    visits: &mut VisitStates,
) -> Result<(), RuleViolation> {
    if path[0] != "visits" || path.len() < 2 {
        // Household, members, agreements: any case role (checked above). The
        // validator refuses fields that are not part of the record.
        return Ok(());
    }
    let id = path[1].as_str();
    let (was, now) = visits
        .entry(id.to_owned())
        .or_insert_with(|| (visit_at(doc, id, Some(before)), visit_at(doc, id, None)));
    let (was, now) = (&*was, &*now);
    if path.get(2).map(String::as_str) == Some("review") {
        let organisation = was
            .as_ref()
            .or(now.as_ref())
            .map(|v| v.organisation.as_str());
        if writer.role != Role::Supervisor || organisation != Some(writer.organisation) {
            return Err(violation(
                path,
                "only a supervisor of the visit's organisation writes its review",
            ));
        }
        return Ok(());
    }
    match was {
        None => {
            // A new visit: recorded by the writer, for their organisation.
            if let Some(visit) = now {
                if visit.author != writer.handle {
                    return Err(violation(
                        path,
                        "a visit is recorded in its author's own name",
                    ));
                }
                if visit.organisation != writer.organisation {
                    return Err(violation(
                        path,
                        "a visit is recorded for its author's own organisation",
                    ));
                }
            }
            Ok(())
        }
        Some(visit) => {
            if visit.reviewed && now.is_none() {
                return Err(violation(path, "nobody deletes a reviewed visit"));
            }
            if visit.author != writer.handle {
                return Err(violation(path, "only its author edits a visit"));
            }
            if visit.approved {
                return Err(violation(path, "an approved visit is no longer edited"));
            }
            Ok(())
        }
    }
}

fn restricted<D: ReadDoc>(
    doc: &D,
    before: &[ChangeHash],
    path: &[String],
    writer: &Writer<'_>,
) -> Result<(), RuleViolation> {
    if path[0] != "signals" || path.len() < 2 {
        return Ok(());
    }
    let signals = map_at(doc, &ROOT, "signals", Some(before));
    let existed = signals.is_some_and(|s| map_at(doc, &s, &path[1], Some(before)).is_some());
    if existed {
        return Err(violation(
            path,
            "a recorded signal is not changed or removed",
        ));
    }
    let now = map_at(doc, &ROOT, "signals", None).and_then(|s| map_at(doc, &s, &path[1], None));
    if let Some(signal) = now {
        if text_at(doc, &signal, "author", None).as_deref() != Some(writer.handle) {
            return Err(violation(
                path,
                "a signal is recorded in its author's own name",
            ));
        }
        if text_at(doc, &signal, "organisation", None).as_deref() != Some(writer.organisation) {
            return Err(violation(
                path,
                "a signal is recorded in the name of its author's organisation",
            ));
        }
    }
    Ok(())
}

struct VisitFacts {
    author: String,
    organisation: String,
    reviewed: bool,
    approved: bool,
}

fn visit_at<D: ReadDoc>(doc: &D, id: &str, heads: Option<&[ChangeHash]>) -> Option<VisitFacts> {
    let visits = map_at(doc, &ROOT, "visits", heads)?;
    let visit = map_at(doc, &visits, id, heads)?;
    let review = map_at(doc, &visit, "review", heads);
    let decision = review.and_then(|r| text_at(doc, &r, "status", heads));
    Some(VisitFacts {
        author: text_at(doc, &visit, "author", heads).unwrap_or_default(),
        organisation: text_at(doc, &visit, "organisation", heads).unwrap_or_default(),
        reviewed: decision.is_some(),
        approved: decision.as_deref() == Some("approved"),
    })
}

fn map_at<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    key: &str,
    heads: Option<&[ChangeHash]>,
) -> Option<ObjId> {
    let value = match heads {
        Some(heads) => doc.get_at(obj, key, heads),
        None => doc.get(obj, key),
    };
    match value.ok()?? {
        (Value::Object(_), id) => Some(id),
        _ => None,
    }
}

fn text_at<D: ReadDoc>(
    doc: &D,
    obj: &ObjId,
    key: &str,
    heads: Option<&[ChangeHash]>,
) -> Option<String> {
    let value = match heads {
        Some(heads) => doc.get_at(obj, key, heads),
        None => doc.get(obj, key),
    };
    match value.ok()?? {
        (Value::Scalar(s), _) => s.as_str().map(str::to_owned),
        (Value::Object(automerge::ObjType::Text), id) => match heads {
            Some(heads) => doc.text_at(&id, heads).ok(),
            None => doc.text(&id).ok(),
        },
        _ => None,
    }
}

/// Documents whose changes can be listed as the paths they touch.
pub trait DiffDoc {
    /// The path of every property changed between two sets of heads.
    fn changed_paths(&self, before: &[ChangeHash], after: &[ChangeHash]) -> Vec<Vec<String>>;
}

impl DiffDoc for automerge::Automerge {
    fn changed_paths(&self, before: &[ChangeHash], after: &[ChangeHash]) -> Vec<Vec<String>> {
        let mut paths = edited_losing_reviews(self, before, after);
        paths.extend(self.diff(before, after).into_iter().map(|patch| {
            let mut path: Vec<String> = patch
                .path
                .iter()
                .map(|(_, prop)| prop_string(prop))
                .collect();
            match &patch.action {
                automerge::PatchAction::PutMap { key, .. }
                | automerge::PatchAction::DeleteMap { key } => path.push(key.clone()),
                automerge::PatchAction::Conflict { prop } => path.push(prop_string(prop)),
                _ => {}
            }
            path
        }));
        paths
    }
}

/// Concurrent reviews of one visit are kept side by side, and automerge's diff
/// reports only what happens to the winning one: an edit inside a losing review
/// yields no patch. So every visit with concurrent reviews whose contents
/// differ between the two sets of heads is reported as `visits.<id>.review`
/// here, for the rules and the validator to see.
fn edited_losing_reviews(
    doc: &automerge::Automerge,
    before: &[ChangeHash],
    after: &[ChangeHash],
) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let Some(visits) = map_at(doc, &ROOT, "visits", Some(after)) else {
        return paths;
    };
    for id in doc.keys_at(&visits, after) {
        let Some(visit) = map_at(doc, &visits, &id, Some(after)) else {
            continue;
        };
        let reviews = doc.get_all_at(&visit, "review", after).unwrap_or_default();
        if reviews.len() < 2 {
            continue;
        }
        let entries = |review: &ObjId, heads: &[ChangeHash]| -> Vec<(String, Option<ObjId>)> {
            doc.keys_at(review, heads)
                .map(|key| {
                    let id = doc
                        .get_at(review, key.as_str(), heads)
                        .ok()
                        .flatten()
                        .map(|(_, id)| id);
                    (key, id)
                })
                .collect()
        };
        if reviews
            .iter()
            .any(|(_, review)| entries(review, before) != entries(review, after))
        {
            paths.push(vec!["visits".to_owned(), id, "review".to_owned()]);
        }
    }
    paths
}

fn prop_string(prop: &Prop) -> String {
    match prop {
        Prop::Map(key) => key.clone(),
        Prop::Seq(index) => index.to_string(),
    }
}

#[cfg(test)]
mod losing_review_tests {
    use super::*;
    use crate::case::{
        self, AddressStatus, NewCase, NewVisit, ReviewStatus, Theme, VisitKind, VisitStatus,
    };
    use crate::identity::{OrganisationKind, Role, Standing};
    use automerge::{ActorId, Automerge, ROOT, transaction::Transactable};

    #[test]
    fn an_edit_inside_a_losing_concurrent_review_is_seen_and_refused_for_a_non_supervisor() {
        let mut worker = Automerge::new().with_actor(ActorId::from(&[1; 16][..]));
        worker
            .transact::<_, _, automerge::AutomergeError>(|tx| {
                case::init_case(
                    tx,
                    &NewCase {
                        label: "Familie".into(),
                        address: String::new(),
                        address_status: AddressStatus::Known,
                    },
                )?;
                case::add_visit(
                    tx,
                    &NewVisit {
                        id: "v1".into(),
                        at_ms: 1,
                        author: "jan".into(),
                        organisation: "Gemeente".into(),
                        kind: VisitKind::Home,
                        present: vec![],
                        observations: vec![(Theme::Housing, "x".into())],
                        status: VisitStatus::Submitted,
                    },
                )
            })
            .unwrap();
        let mut a = worker.fork().with_actor(ActorId::from(&[2; 16][..]));
        let mut b = worker.fork().with_actor(ActorId::from(&[3; 16][..]));
        a.transact::<_, _, automerge::AutomergeError>(|tx| {
            case::review_visit(tx, "v1", ReviewStatus::Approved, "sara", "", 2)
        })
        .unwrap();
        b.transact::<_, _, automerge::AutomergeError>(|tx| {
            case::review_visit(tx, "v1", ReviewStatus::Returned, "piet", "Aanvullen", 3)
        })
        .unwrap();
        worker.merge(&mut a).unwrap();
        worker.merge(&mut b).unwrap();
        let before = worker.get_heads();

        // The author edits every review, the losing one included.
        let visits = worker.get(ROOT, "visits").unwrap().unwrap().1;
        let visit = worker.get(&visits, "v1").unwrap().unwrap().1;
        let reviews: Vec<ObjId> = worker
            .get_all(&visit, "review")
            .unwrap()
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        let loser = reviews.first().unwrap().clone();
        let mut tx = worker.transaction();
        tx.put(&loser, "comment", "door de auteur gewijzigd")
            .unwrap();
        tx.commit();
        let after = worker.get_heads();

        let paths = worker.changed_paths(&before, &after);
        assert!(
            paths.contains(&vec![
                "visits".to_owned(),
                "v1".to_owned(),
                "review".to_owned()
            ]),
            "{paths:?}"
        );
        let author = Writer {
            handle: "jan",
            organisation: "Gemeente",
            organisation_kind: OrganisationKind::Municipality,
            role: Role::FieldWorker,
            standing: Standing {
                on_team: true,
                directs: false,
            },
        };
        assert!(
            check(
                &worker,
                &before,
                &after,
                crate::identity::Compartment::General,
                &author
            )
            .is_err()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{
        self, AddressStatus, NewCase, NewVisit, ReviewStatus, Theme, VisitKind, VisitStatus,
    };
    use automerge::{Automerge, transaction::Transactable};

    const ORG: &str = "Jeugdzorg Noord";

    fn writer(handle: &'static str, role: Role) -> Writer<'static> {
        Writer {
            handle,
            organisation: ORG,
            organisation_kind: OrganisationKind::YouthCare,
            role,
            standing: Standing {
                on_team: true,
                directs: false,
            },
        }
    }

    fn visit(id: &str, author: &str) -> NewVisit {
        NewVisit {
            id: id.into(),
            at_ms: 1,
            author: author.into(),
            organisation: ORG.into(),
            kind: VisitKind::Home,
            present: vec![],
            observations: vec![(Theme::Health, "x".into())],
            status: VisitStatus::Submitted,
        }
    }

    /// A record with one visit by `jan`; returns the document and its heads.
    fn record() -> Automerge {
        let mut doc = Automerge::new();
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            case::init_case(
                tx,
                &NewCase {
                    label: "F".into(),
                    address: "A".into(),
                    address_status: AddressStatus::Known,
                },
            )?;
            case::add_visit(tx, &visit("v1", "jan"))
        })
        .unwrap();
        doc
    }

    /// Applies `edit` and checks it as `who`.
    fn try_edit(
        doc: &mut Automerge,
        who: &Writer<'_>,
        edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>),
    ) -> Result<(), RuleViolation> {
        let before = doc.get_heads();
        let mut tx = doc.transaction();
        edit(&mut tx);
        tx.commit();
        let after = doc.get_heads();
        check(doc, &before, &after, Compartment::General, who)
    }

    #[test]
    fn workers_add_their_own_visits_and_edit_them_until_approved() {
        let mut doc = record();
        let jan = writer("jan", Role::FieldWorker);
        try_edit(&mut doc, &jan, |tx| {
            case::add_visit(tx, &visit("v2", "jan")).unwrap()
        })
        .unwrap();
        try_edit(&mut doc, &jan, |tx| {
            case::set_observation(tx, "v1", Theme::Safety, "y").unwrap()
        })
        .unwrap();
        let err = try_edit(&mut doc, &jan, |tx| {
            case::add_visit(tx, &visit("v3", "piet")).unwrap()
        })
        .unwrap_err();
        assert_eq!(err.reason, "a visit is recorded in its author's own name");
        let piet = writer("piet", Role::FieldWorker);
        let err = try_edit(&mut doc, &piet, |tx| {
            case::set_observation(tx, "v1", Theme::Safety, "z").unwrap()
        })
        .unwrap_err();
        assert_eq!(err.reason, "only its author edits a visit");
    }

    #[test]
    fn only_a_supervisor_of_the_visits_organisation_reviews() {
        let mut doc = record();
        let review = |tx: &mut automerge::transaction::Transaction<'_>| {
            case::review_visit(
                tx,
                "v1",
                ReviewStatus::Returned,
                "sup",
                "Graag aanvullen",
                2,
            )
            .unwrap()
        };
        let err = try_edit(&mut doc, &writer("jan", Role::FieldWorker), review).unwrap_err();
        assert_eq!(err.path, "visits.v1.review");
        let elsewhere = Writer {
            organisation: "Politie",
            ..writer("sup", Role::Supervisor)
        };
        assert!(try_edit(&mut doc, &elsewhere, review).is_err());
        try_edit(&mut doc, &writer("sup", Role::Supervisor), review).unwrap();
        // Returned: the author may still edit; approved: nobody edits or deletes it.
        try_edit(&mut doc, &writer("jan", Role::FieldWorker), |tx| {
            case::set_observation(tx, "v1", Theme::Safety, "aangevuld").unwrap()
        })
        .unwrap();
        try_edit(&mut doc, &writer("sup", Role::Supervisor), |tx| {
            case::review_visit(tx, "v1", ReviewStatus::Approved, "sup", "", 3).unwrap()
        })
        .unwrap();
        let err = try_edit(&mut doc, &writer("jan", Role::FieldWorker), |tx| {
            case::set_observation(tx, "v1", Theme::Safety, "later").unwrap()
        })
        .unwrap_err();
        assert_eq!(err.reason, "an approved visit is no longer edited");
        let err = try_edit(&mut doc, &writer("jan", Role::FieldWorker), |tx| {
            let visits = tx.get(ROOT, "visits").unwrap().unwrap().1;
            tx.delete(&visits, "v1").unwrap();
        })
        .unwrap_err();
        assert_eq!(err.reason, "nobody deletes a reviewed visit");
    }

    #[test]
    fn collections_and_schema_fields_are_fixed_after_creation() {
        let mut doc = record();
        let err = try_edit(&mut doc, &writer("jan", Role::CaseDirector), |tx| {
            tx.put_object(ROOT, "visits", automerge::ObjType::Map)
                .unwrap();
        })
        .unwrap_err();
        assert_eq!(err.path, "visits");
        let err = try_edit(&mut doc, &writer("jan", Role::FieldWorker), |tx| {
            tx.put(ROOT, "schemaVersion", 2).unwrap()
        })
        .unwrap_err();
        assert_eq!(err.path, "schemaVersion");
    }

    #[test]
    fn admins_and_auditors_write_nothing() {
        let mut doc = record();
        for role in [Role::Admin, Role::Auditor] {
            let err = try_edit(&mut doc, &writer("root", role), |tx| {
                case::set_address(tx, "X", AddressStatus::Moved).unwrap()
            })
            .unwrap_err();
            assert!(
                err.reason.contains("does not write the general record"),
                "{err}"
            );
        }
    }
}
