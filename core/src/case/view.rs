//! The whole case record as people read it: what the tablet app shows. Unlike
//! the projection, this carries the free text, and every concurrent value of a
//! field with the actor that wrote it, so a conflict is shown, never hidden.
//! Reading checks every value it touches, as the validator does.

use automerge::{ActorId, ObjId, ROOT, ReadDoc};

use super::*;

/// A value and the automerge actor that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authored<T> {
    pub value: T,
    pub actor: ActorId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseView {
    pub label: String,
    /// The address; more than one value while a conflict is unsettled, the winner first.
    pub address: Vec<Authored<String>>,
    pub address_status: AddressStatus,
    pub members: Vec<MemberView>,
    /// Newest first.
    pub visits: Vec<VisitView>,
    pub agreements: Vec<AgreementView>,
    /// Who an actor is, where the record tells: the author and organisation of
    /// the visits that actor created. Conflicts name the writer with it.
    pub writers: Vec<(ActorId, String, String)>,
    /// Every field with concurrent values, in the record's order.
    pub conflicts: Vec<super::FieldConflict>,
}

impl CaseView {
    /// The author and organisation known to have written with `actor`.
    pub fn writer(&self, actor: &ActorId) -> Option<(&str, &str)> {
        self.writers
            .iter()
            .find(|(a, _, _)| a == actor)
            .map(|(_, handle, organisation)| (handle.as_str(), organisation.as_str()))
    }

    pub fn visit(&self, id: &str) -> Option<&VisitView> {
        self.visits.iter().find(|v| v.id == id)
    }

    pub fn last_visit_ms(&self) -> Option<i64> {
        self.visits.iter().map(|v| v.at_ms).max()
    }

    /// Fields with concurrent values, by path (`members.m1.birthDate`).
    pub fn conflicts(&self) -> Vec<String> {
        self.conflicts
            .iter()
            .map(super::FieldConflict::dotted)
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    pub id: String,
    pub name: String,
    pub birth_date: Option<String>,
    pub role: MemberRole,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitView {
    pub id: String,
    pub at_ms: i64,
    pub author: String,
    pub organisation: String,
    pub kind: VisitKind,
    pub present: Vec<String>,
    pub observations: Vec<(Theme, String)>,
    pub status: VisitStatus,
    pub review: Option<ReviewView>,
    /// The author's answer to a returned review.
    pub answer: Option<String>,
    /// When the author last submitted it for review.
    pub submitted_at_ms: Option<i64>,
}

impl VisitView {
    pub fn observation(&self, theme: Theme) -> Option<&str> {
        self.observations
            .iter()
            .find(|(t, _)| *t == theme)
            .map(|(_, text)| text.as_str())
    }

    pub fn is_approved(&self) -> bool {
        self.review
            .as_ref()
            .is_some_and(|r| r.status == ReviewStatus::Approved)
    }

    /// Returned by a supervisor and not submitted again since.
    pub fn awaits_answer(&self) -> bool {
        self.review.as_ref().is_some_and(|r| {
            r.status == ReviewStatus::Returned
                && !(self.status == VisitStatus::Submitted
                    && self.submitted_at_ms.is_some_and(|at| at > r.at_ms))
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewView {
    pub status: ReviewStatus,
    pub reviewer: String,
    pub comment: String,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgreementView {
    pub id: String,
    pub text: String,
    pub visit: Option<String>,
    pub due: Option<String>,
    pub done: bool,
}

impl<D: ReadDoc> CaseRecord<'_, D> {
    /// Validates the record and reads all of it.
    pub fn view(&self) -> Result<CaseView, SchemaError> {
        let projection = self.project()?;
        let household = self.map(&ROOT, "household", "")?;
        let mut address = Vec::new();
        let values = self
            .doc
            .get_all(&household, "address")
            .map_err(|e| SchemaError::new("household.address", e.to_string()))?;
        for (value, id) in values {
            let actor = actor_of(&id);
            address.push(Authored {
                value: self.value_text(value, id, "household.address")?,
                actor,
            });
        }
        // automerge's winner is the last of get_all; show it first.
        address.reverse();

        let members_obj = self.map(&ROOT, "members", "")?;
        let mut members = Vec::new();
        for id in self.doc.keys(&members_obj) {
            let path = format!("members.{id}");
            let member = self.map(&members_obj, &id, "members")?;
            members.push(MemberView {
                name: self.text(&member, "name", &path)?,
                birth_date: self.optional_text(&member, "birthDate", &path)?,
                role: self.choice(&member, "role", &path, MemberRole::parse)?,
                id,
            });
        }

        let visits_obj = self.map(&ROOT, "visits", "")?;
        let mut visits = Vec::new();
        let mut writers: Vec<(ActorId, String, String)> = Vec::new();
        for row in projection.visits {
            let path = format!("visits.{}", row.id);
            let visit = self.map(&visits_obj, &row.id, "visits")?;
            let actor = actor_of(&visit);
            if !writers.iter().any(|(a, _, _)| *a == actor) {
                writers.push((actor, row.author.clone(), row.organisation.clone()));
            }
            let present_obj = self.list(&visit, "present", &path)?;
            let mut present = Vec::new();
            for index in 0..self.doc.length(&present_obj) {
                if let Ok(Some((value, id))) = self.doc.get(&present_obj, index) {
                    present.push(self.value_text(value, id, &path)?);
                }
            }
            let observations_obj = self.map(&visit, "observations", &path)?;
            let mut observations = Vec::new();
            for theme in Theme::ALL {
                if let Some(text) = self.optional_text(&observations_obj, theme.as_str(), &path)? {
                    observations.push((*theme, text));
                }
            }
            let review = match self.optional_map(&visit, "review", &path)? {
                None => None,
                Some(review) => Some(self.review_view(&review, &format!("{path}.review"))?),
            };
            visits.push(VisitView {
                answer: self.optional_text(&visit, "answer", &path)?,
                submitted_at_ms: match self.get(&visit, "submittedAt", &path)? {
                    Some(_) => Some(self.time(&visit, "submittedAt", &path)?),
                    None => None,
                },
                id: row.id,
                at_ms: row.at_ms,
                author: row.author,
                organisation: row.organisation,
                kind: row.kind,
                present,
                observations,
                status: row.status,
                review,
            });
        }
        visits.sort_by(|a, b| b.at_ms.cmp(&a.at_ms).then_with(|| a.id.cmp(&b.id)));

        let agreements_obj = self.map(&ROOT, "agreements", "")?;
        let mut agreements = Vec::new();
        for id in self.doc.keys(&agreements_obj) {
            let path = format!("agreements.{id}");
            let agreement = self.map(&agreements_obj, &id, "agreements")?;
            agreements.push(AgreementView {
                text: self.text(&agreement, "text", &path)?,
                visit: self.optional_text(&agreement, "visit", &path)?,
                due: self.optional_text(&agreement, "due", &path)?,
                done: self.boolean(&agreement, "done", &path)?,
                id,
            });
        }

        Ok(CaseView {
            label: projection.label,
            address,
            address_status: projection.address_status,
            members,
            visits,
            agreements,
            writers,
            conflicts: self.conflicts(),
        })
    }

    fn review_view(&self, review: &ObjId, path: &str) -> Result<ReviewView, SchemaError> {
        Ok(ReviewView {
            status: self.choice(review, "status", path, ReviewStatus::parse)?,
            reviewer: self.text(review, "reviewer", path)?,
            comment: self
                .optional_text(review, "comment", path)?
                .unwrap_or_default(),
            at_ms: self.time(review, "at", path)?,
        })
    }
}

fn actor_of(id: &ObjId) -> ActorId {
    match id {
        ObjId::Id(_, actor, _) => actor.clone(),
        ObjId::Root => ActorId::from(&[][..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::{AutoCommit, ReadDoc};

    fn case(actor: u8) -> AutoCommit {
        let mut doc = AutoCommit::new().with_actor(ActorId::from(&[actor; 16][..]));
        init_case(
            &mut doc,
            &NewCase {
                label: "Familie Jansen".into(),
                address: "Kerkstraat 2".into(),
                address_status: AddressStatus::Known,
            },
        )
        .unwrap();
        doc
    }

    #[test]
    fn concurrent_addresses_are_both_shown_with_their_writers() {
        let mut a = case(1);
        let mut b = a.fork().with_actor(ActorId::from(&[2; 16][..]));
        set_address(&mut a, "Molenweg 5", AddressStatus::Moved).unwrap();
        set_address(&mut b, "Stationsplein 9", AddressStatus::Moved).unwrap();
        a.merge(&mut b).unwrap();

        let view = CaseRecord::new(a.document()).view().unwrap();
        let mut seen: Vec<(String, u8)> = view
            .address
            .iter()
            .map(|v| (v.value.clone(), v.actor.to_bytes()[0]))
            .collect();
        seen.sort();
        assert_eq!(
            seen,
            vec![("Molenweg 5".into(), 1), ("Stationsplein 9".into(), 2)]
        );
        let household = a.get(ROOT, "household").unwrap().unwrap().1;
        let (winner, _) = a.get(&household, "address").unwrap().unwrap();
        assert_eq!(winner.as_str(), Some(view.address[0].value.as_str()));
        assert_eq!(view.conflicts(), vec!["household.address"]);
        // Nobody has recorded a visit yet, so the record cannot name the writers.
        assert_eq!(view.writer(&view.address[0].actor), None);

        // Settling writes one value over both.
        set_address(&mut a, "Molenweg 5", AddressStatus::Known).unwrap();
        let view = CaseRecord::new(a.document()).view().unwrap();
        assert_eq!(view.address.len(), 1);
        assert!(view.conflicts().is_empty());
        assert_eq!(a.get_all(ROOT, "household").unwrap().len(), 1);
    }

    #[test]
    fn a_returned_visit_awaits_its_answer_until_submitted_again() {
        let mut doc = case(1);
        add_visit(
            &mut doc,
            &NewVisit {
                id: "v1".into(),
                at_ms: 1_700_000_000_000,
                author: "jan".into(),
                organisation: "Gemeente".into(),
                kind: VisitKind::Home,
                present: vec![],
                observations: vec![(Theme::Housing, "Vochtig huis".into())],
                status: VisitStatus::Submitted,
            },
        )
        .unwrap();
        review_visit(
            &mut doc,
            "v1",
            ReviewStatus::Returned,
            "sara",
            "Wie was er bij?",
            1_700_000_100_000,
        )
        .unwrap();
        let view = CaseRecord::new(doc.document()).view().unwrap();
        let visit = view.visit("v1").unwrap();
        assert!(visit.awaits_answer());
        assert_eq!(
            view.writer(&ActorId::from(&[1; 16][..])),
            Some(("jan", "Gemeente"))
        );
        assert_eq!(visit.review.as_ref().unwrap().comment, "Wie was er bij?");
        assert_eq!(visit.observation(Theme::Housing), Some("Vochtig huis"));

        answer_review(&mut doc, "v1", "Moeder en twee kinderen.").unwrap();
        submit_visit(&mut doc, "v1", 1_700_000_200_000).unwrap();
        let view = CaseRecord::new(doc.document()).view().unwrap();
        let visit = view.visit("v1").unwrap();
        assert!(!visit.awaits_answer());
        assert_eq!(visit.answer.as_deref(), Some("Moeder en twee kinderen."));
    }

    #[test]
    fn agreements_and_members_are_read_back() {
        let mut doc = case(1);
        add_member(
            &mut doc,
            "m1",
            "Anna",
            Some("2015-04-01"),
            MemberRole::Child,
        )
        .unwrap();
        add_agreement(
            &mut doc,
            "a1",
            "Afspraak met school",
            Some("v1"),
            Some("2026-12-01"),
        )
        .unwrap();
        let view = CaseRecord::new(doc.document()).view().unwrap();
        assert_eq!(view.members[0].name, "Anna");
        assert_eq!(view.members[0].birth_date.as_deref(), Some("2015-04-01"));
        assert_eq!(view.agreements[0].text, "Afspraak met school");
        assert_eq!(view.agreements[0].due.as_deref(), Some("2026-12-01"));
        assert!(!view.agreements[0].done);
    }
}
