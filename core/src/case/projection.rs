//! The flat projection of a general record that the server keeps in SQL for
//! queues, the radar and the monitor, and `Touched`: which entries a change
//! reaches, so a loaded document is revalidated and reprojected only there.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{ROOT, ReadDoc};

use super::record::CaseRecord;
use super::schema::{AddressStatus, ReviewStatus, SchemaError, Theme, VisitKind, VisitStatus};

/// One visit as the server projects it into SQL. No free text: the projection
/// carries what queues and statistics need, not what the family said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitRow {
    pub id: String,
    pub at_ms: i64,
    pub author: String,
    pub organisation: String,
    pub kind: VisitKind,
    pub status: VisitStatus,
    pub review: Option<ReviewStatus>,
    pub themes: Vec<Theme>,
}

/// The flat rows of one case document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseProjection {
    pub label: String,
    pub address_status: AddressStatus,
    pub last_visit_ms: Option<i64>,
    pub visits: Vec<VisitRow>,
}

fn projection(
    label: String,
    address_status: AddressStatus,
    visits: Vec<VisitRow>,
) -> CaseProjection {
    let last_visit_ms = visits.iter().map(|v| v.at_ms).max();
    CaseProjection {
        label,
        address_status,
        last_visit_ms,
        visits,
    }
}

/// Which entries of a general record a set of changed paths (as
/// `rules::DiffDoc::changed_paths` lists them) touches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Touched {
    /// Something outside the entries changed (a collection itself, or an
    /// unknown top-level field): only a whole check will do.
    pub everything: bool,
    pub members: BTreeSet<String>,
    pub visits: BTreeSet<String>,
    pub agreements: BTreeSet<String>,
}

impl Touched {
    pub fn from_paths(paths: &[Vec<String>]) -> Self {
        let mut touched = Self::default();
        for path in paths {
            match path.as_slice() {
                [collection, id, ..] if collection == "members" => {
                    touched.members.insert(id.clone());
                }
                [collection, id, ..] if collection == "visits" => {
                    touched.visits.insert(id.clone());
                }
                [collection, id, ..] if collection == "agreements" => {
                    touched.agreements.insert(id.clone());
                }
                // The top level and the household are checked every time.
                [field, ..]
                    if matches!(
                        field.as_str(),
                        "household" | "schemaVersion" | "compartment"
                    ) => {}
                _ => touched.everything = true,
            }
        }
        touched
    }

    /// The visits whose projection rows may have changed; `None` for all.
    pub fn visit_ids(&self) -> Option<Vec<String>> {
        (!self.everything).then(|| self.visits.iter().cloned().collect())
    }
}

impl<D: ReadDoc> CaseRecord<'_, D> {
    /// Validates the document and returns its projection.
    pub fn project(&self) -> Result<CaseProjection, SchemaError> {
        let (label, address_status) = self.top()?;
        let members = self.map(&ROOT, "members", "")?;
        for id in self.doc.keys(&members) {
            self.member(&members, id)?;
        }
        let visits_obj = self.map(&ROOT, "visits", "")?;
        let mut visits = Vec::new();
        for id in self.doc.keys(&visits_obj) {
            visits.push(self.visit(&visits_obj, id)?);
        }
        let agreements = self.map(&ROOT, "agreements", "")?;
        for id in self.doc.keys(&agreements) {
            self.agreement(&agreements, id)?;
        }
        Ok(projection(label, address_status, visits))
    }

    /// Validates what changed since a state whose projection was `previous`
    /// (the top level and household always, and the members, visits and
    /// agreements `touched` names) and returns the new projection. What was
    /// not touched is as valid as it was: the cost follows the change, not
    /// the size of the record.
    pub fn project_changed(
        &self,
        previous: &CaseProjection,
        touched: &Touched,
    ) -> Result<CaseProjection, SchemaError> {
        if touched.everything {
            return self.project();
        }
        let (label, address_status) = self.top()?;
        let members = self.map(&ROOT, "members", "")?;
        for id in &touched.members {
            if self.doc.get(&members, id.as_str()).ok().flatten().is_some() {
                self.member(&members, id.clone())?;
            }
        }
        let visits_obj = self.map(&ROOT, "visits", "")?;
        let mut visits: BTreeMap<String, VisitRow> = previous
            .visits
            .iter()
            .map(|v| (v.id.clone(), v.clone()))
            .collect();
        for id in &touched.visits {
            if self
                .doc
                .get(&visits_obj, id.as_str())
                .ok()
                .flatten()
                .is_some()
            {
                visits.insert(id.clone(), self.visit(&visits_obj, id.clone())?);
            } else {
                visits.remove(id);
            }
        }
        let agreements = self.map(&ROOT, "agreements", "")?;
        for id in &touched.agreements {
            if self
                .doc
                .get(&agreements, id.as_str())
                .ok()
                .flatten()
                .is_some()
            {
                self.agreement(&agreements, id.clone())?;
            }
        }
        Ok(projection(
            label,
            address_status,
            visits.into_values().collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use automerge::{AutoCommit, ROOT, ReadDoc, transaction::Transactable};

    use super::*;
    use crate::case::fixtures::{new_case, visit};
    use crate::case::schema::MAX_FREE_TEXT;
    use crate::case::{add_visit, review_visit, set_address, set_observation};

    #[test]
    fn a_new_record_validates_and_projects() {
        let mut doc = new_case();
        add_visit(&mut doc, &visit("v1", 1_000)).unwrap();
        add_visit(&mut doc, &visit("v2", 3_000)).unwrap();
        let record = CaseRecord::new(&doc);
        let projection = record.project().unwrap();
        assert_eq!(projection.label, "Familie De Vries");
        assert_eq!(projection.address_status, AddressStatus::Known);
        assert_eq!(projection.last_visit_ms, Some(3_000));
        assert_eq!(projection.visits.len(), 2);
        assert_eq!(
            projection.visits[0].themes,
            vec![Theme::Health, Theme::Housing]
        );
        let view = record.view().unwrap();
        let v1 = view.visit("v1").unwrap();
        assert_eq!(v1.observation(Theme::Housing), Some("Vochtig huis"));
        assert_eq!(v1.observation(Theme::Safety), None);
    }

    #[test]
    fn validating_what_changed_agrees_with_validating_everything() {
        use crate::rules::DiffDoc;
        let mut doc = new_case();
        add_visit(&mut doc, &visit("v1", 1_000)).unwrap();
        doc.commit();
        let mut previous = CaseRecord::new(&doc).project().unwrap();
        type Edit = Box<dyn Fn(&mut AutoCommit)>;
        let edits: Vec<Edit> = vec![
            Box::new(|d| add_visit(d, &visit("v2", 3_000)).unwrap()),
            Box::new(|d| set_observation(d, "v1", Theme::Safety, "Rustig").unwrap()),
            Box::new(|d| {
                review_visit(d, "v2", ReviewStatus::Returned, "sup", "Aanvullen", 4).unwrap()
            }),
            Box::new(|d| set_address(d, "Elders 2", AddressStatus::Moved).unwrap()),
            Box::new(|d| {
                let visits = d.get(ROOT, "visits").unwrap().unwrap().1;
                d.delete(&visits, "v1").unwrap();
            }),
        ];
        for edit in edits {
            let before = doc.get_heads();
            edit(&mut doc);
            doc.commit();
            let after = doc.get_heads();
            let paths = doc.document().changed_paths(&before, &after);
            let touched = Touched::from_paths(&paths);
            assert!(!touched.everything, "{paths:?}");
            let record = CaseRecord::new(&doc);
            let changed = record.project_changed(&previous, &touched).unwrap();
            assert_eq!(changed, record.project().unwrap());
            previous = changed;
        }

        // A bad value in a touched visit is found without a whole check.
        let before = doc.get_heads();
        set_observation(
            &mut doc,
            "v2",
            Theme::Health,
            &"x".repeat(MAX_FREE_TEXT + 1),
        )
        .unwrap();
        doc.commit();
        let after = doc.get_heads();
        let paths = doc.document().changed_paths(&before, &after);
        let err = CaseRecord::new(&doc)
            .project_changed(&previous, &Touched::from_paths(&paths))
            .unwrap_err();
        assert_eq!(err.path, "visits.v2.observations.health");
    }
}
