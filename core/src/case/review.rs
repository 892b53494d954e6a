//! What a supervisor needs to review a resubmitted visit: the visit as it was
//! when they returned it (the record at the heads of the change that wrote the
//! review), and which fields changed since.

use automerge::{Automerge, ObjId, ROOT, ReadDoc};

use super::*;

/// One field of a visit that differs between two versions, as display text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: VisitField,
    pub before: String,
    pub after: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VisitField {
    At,
    Kind,
    Present,
    Observation(Theme),
    Answer,
}

/// The visit as its reviewer saw it when they wrote the current review.
pub fn visit_as_reviewed(doc: &Automerge, visit: &str) -> Option<VisitView> {
    let object = |obj: &ObjId, key: &str| match doc.get(obj, key).ok()?? {
        (automerge::Value::Object(_), id) => Some(id),
        _ => None,
    };
    let visits = object(&ROOT, "visits")?;
    let visit_obj = object(&visits, visit)?;
    let ObjId::Id(counter, actor, _) = object(&visit_obj, "review")? else {
        return None;
    };
    let change = doc.get_changes(&[]).into_iter().find(|c| {
        c.actor_id() == &actor && c.start_op().get() <= counter && counter <= c.max_op()
    })?;
    let then = doc.fork_at(&[change.hash()]).ok()?;
    CaseRecord::new(&then).view().ok()?.visit(visit).cloned()
}

/// The fields that differ from `before` to `after`, in form order.
pub fn visit_changes(before: &VisitView, after: &VisitView) -> Vec<FieldChange> {
    let mut changes = Vec::new();
    let mut compare = |field, before: String, after: String| {
        if before != after {
            changes.push(FieldChange {
                field,
                before,
                after,
            });
        }
    };
    compare(
        VisitField::At,
        before.at_ms.to_string(),
        after.at_ms.to_string(),
    );
    compare(
        VisitField::Kind,
        before.kind.as_str().to_owned(),
        after.kind.as_str().to_owned(),
    );
    compare(
        VisitField::Present,
        before.present.join(", "),
        after.present.join(", "),
    );
    for theme in Theme::ALL {
        compare(
            VisitField::Observation(*theme),
            before.observation(*theme).unwrap_or_default().to_owned(),
            after.observation(*theme).unwrap_or_default().to_owned(),
        );
    }
    compare(
        VisitField::Answer,
        before.answer.clone().unwrap_or_default(),
        after.answer.clone().unwrap_or_default(),
    );
    changes
}

/// Whether a visit waits for its organisation's supervisor: submitted and not
/// reviewed since it was last submitted.
pub fn awaits_review(visit: &VisitView) -> bool {
    visit.status == VisitStatus::Submitted
        && match &visit.review {
            None => true,
            Some(review) => {
                review.status == ReviewStatus::Returned
                    && visit.submitted_at_ms.is_some_and(|at| at > review.at_ms)
            }
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::ActorId;

    fn visit(status: VisitStatus) -> NewVisit {
        NewVisit {
            id: "v1".into(),
            at_ms: 1_700_000_000_000,
            author: "jan".into(),
            organisation: "Gemeente".into(),
            kind: VisitKind::Home,
            present: vec![],
            observations: vec![(Theme::Housing, "Vochtig".into())],
            status,
        }
    }

    #[test]
    fn a_resubmitted_visit_shows_exactly_what_changed_since_its_return() {
        let mut worker = Automerge::new().with_actor(ActorId::from(&[1; 16][..]));
        worker
            .transact::<_, _, automerge::AutomergeError>(|tx| {
                init_case(
                    tx,
                    &NewCase {
                        label: "Familie Jansen".into(),
                        address: "Kerkstraat 2".into(),
                        address_status: AddressStatus::Known,
                    },
                )?;
                add_visit(tx, &visit(VisitStatus::Draft))?;
                submit_visit(tx, "v1", 1_700_000_000_500)
            })
            .unwrap();
        let view = CaseRecord::new(&worker).view().unwrap();
        assert!(awaits_review(view.visit("v1").unwrap()));

        let mut supervisor = worker.fork().with_actor(ActorId::from(&[2; 16][..]));
        supervisor
            .transact::<_, _, automerge::AutomergeError>(|tx| {
                review_visit(
                    tx,
                    "v1",
                    ReviewStatus::Returned,
                    "sara",
                    "Wie was er bij?",
                    1_700_000_001_000,
                )
            })
            .unwrap();
        worker.merge(&mut supervisor).unwrap();
        assert!(!awaits_review(
            CaseRecord::new(&worker)
                .view()
                .unwrap()
                .visit("v1")
                .unwrap()
        ));

        worker
            .transact::<_, _, automerge::AutomergeError>(|tx| {
                set_observation(
                    tx,
                    "v1",
                    Theme::Housing,
                    "Vochtig, schimmel in de slaapkamer",
                )?;
                set_observation(tx, "v1", Theme::Safety, "Geen zorgen")?;
                answer_review(tx, "v1", "Moeder en twee kinderen")?;
                submit_visit(tx, "v1", 1_700_000_002_000)
            })
            .unwrap();
        let now = CaseRecord::new(&worker).view().unwrap();
        let visit_now = now.visit("v1").unwrap();
        assert!(awaits_review(visit_now));

        let then = visit_as_reviewed(&worker, "v1").expect("the returned version");
        assert_eq!(then.observation(Theme::Housing), Some("Vochtig"));
        let changes = visit_changes(&then, visit_now);
        let fields: Vec<VisitField> = changes.iter().map(|c| c.field).collect();
        assert_eq!(
            fields,
            vec![
                VisitField::Observation(Theme::Housing),
                VisitField::Observation(Theme::Safety),
                VisitField::Answer
            ]
        );
        assert_eq!(changes[0].before, "Vochtig");
        assert_eq!(changes[0].after, "Vochtig, schimmel in de slaapkamer");
        assert_eq!(changes[1].before, "");
    }
}
