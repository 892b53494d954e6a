//! The validator of the general record: the top level and household, and each
//! member, visit, review and agreement, checked against the schema. A visit
//! checked here comes back as its projection row, so validating and
//! projecting are one pass.

use automerge::{ObjId, ROOT, ReadDoc};

use super::projection::VisitRow;
use super::record::CaseRecord;
use super::schema::{
    AGREEMENT_KEYS, AddressStatus, GENERAL_KEYS, HOUSEHOLD_KEYS, MAX_FREE_TEXT, MAX_SHORT_TEXT,
    MEMBER_KEYS, MemberRole, REVIEW_KEYS, ReviewStatus, SCHEMA_VERSION, SchemaError, Theme,
    VISIT_KEYS, VisitKind, VisitStatus, check_date, check_id, check_len,
};

impl<D: ReadDoc> CaseRecord<'_, D> {
    /// Checks the whole document against the schema.
    pub fn validate(&self) -> Result<(), SchemaError> {
        self.project().map(|_| ())
    }

    /// The top level and the household: label and address status.
    pub(super) fn top(&self) -> Result<(String, AddressStatus), SchemaError> {
        self.only_keys(&ROOT, "", GENERAL_KEYS)?;
        let version = self.int(&ROOT, "schemaVersion", "")?;
        if version != SCHEMA_VERSION {
            return Err(SchemaError::new(
                "schemaVersion",
                format!("unsupported schema version {version}, this server knows {SCHEMA_VERSION}"),
            ));
        }
        let compartment = self.text(&ROOT, "compartment", "")?;
        if compartment != "general" {
            return Err(SchemaError::new("compartment", "must be \"general\""));
        }

        let household = self.map(&ROOT, "household", "")?;
        self.only_keys(&household, "household", HOUSEHOLD_KEYS)?;
        let label = self.short_text(&household, "label", "household")?;
        if label.trim().is_empty() {
            return Err(SchemaError::new("household.label", "must not be empty"));
        }
        if let Some(address) = self.optional_text(&household, "address", "household")? {
            check_len(&address, MAX_SHORT_TEXT, "household.address")?;
        }
        let address_status = self.choice(
            &household,
            "addressStatus",
            "household",
            AddressStatus::parse,
        )?;
        // Each collection is a map; its entries are checked one by one.
        for collection in ["members", "visits", "agreements"] {
            self.map(&ROOT, collection, "")?;
        }
        Ok((label, address_status))
    }

    pub(super) fn member(&self, members: &ObjId, id: String) -> Result<(), SchemaError> {
        let path = format!("members.{id}");
        check_id(&id, &path)?;
        let member = self.map(members, &id, "members")?;
        self.only_keys(&member, &path, MEMBER_KEYS)?;
        self.short_text(&member, "name", &path)?;
        if let Some(date) = self.optional_text(&member, "birthDate", &path)? {
            check_date(&date, &format!("{path}.birthDate"))?;
        }
        self.choice(&member, "role", &path, MemberRole::parse)?;
        Ok(())
    }

    pub(super) fn agreement(&self, agreements: &ObjId, id: String) -> Result<(), SchemaError> {
        let path = format!("agreements.{id}");
        check_id(&id, &path)?;
        let agreement = self.map(agreements, &id, "agreements")?;
        self.only_keys(&agreement, &path, AGREEMENT_KEYS)?;
        let text = self.text(&agreement, "text", &path)?;
        check_len(&text, MAX_FREE_TEXT, &format!("{path}.text"))?;
        if let Some(visit) = self.optional_text(&agreement, "visit", &path)? {
            check_id(&visit, &format!("{path}.visit"))?;
        }
        if let Some(due) = self.optional_text(&agreement, "due", &path)? {
            check_date(&due, &format!("{path}.due"))?;
        }
        self.boolean(&agreement, "done", &path)?;
        Ok(())
    }

    pub(super) fn visit(&self, visits: &ObjId, id: String) -> Result<VisitRow, SchemaError> {
        let path = format!("visits.{id}");
        check_id(&id, &path)?;
        let visit = self.map(visits, &id, "visits")?;
        self.only_keys(&visit, &path, VISIT_KEYS)?;
        let at_ms = self.time(&visit, "at", &path)?;
        let author = self.short_text(&visit, "author", &path)?;
        let organisation = self.short_text(&visit, "organisation", &path)?;
        let kind = self.choice(&visit, "kind", &path, VisitKind::parse)?;
        let status = self.choice(&visit, "status", &path, VisitStatus::parse)?;

        let present = self.list(&visit, "present", &path)?;
        for index in 0..self.doc.length(&present) {
            let member_path = format!("{path}.present.{index}");
            let (value, value_id) = self
                .doc
                .get(&present, index)
                .map_err(|e| SchemaError::new(&member_path, e.to_string()))?
                .ok_or_else(|| SchemaError::new(&member_path, "missing"))?;
            check_id(
                &self.value_text(value, value_id, &member_path)?,
                &member_path,
            )?;
        }

        let observations = self.map(&visit, "observations", &path)?;
        let observations_path = format!("{path}.observations");
        let mut themes = Vec::new();
        for key in self.doc.keys(&observations) {
            let theme = Theme::parse(&key).ok_or_else(|| {
                SchemaError::new(format!("{observations_path}.{key}"), "is not a theme")
            })?;
            let text = self.text(&observations, &key, &observations_path)?;
            check_len(&text, MAX_FREE_TEXT, &format!("{observations_path}.{key}"))?;
            themes.push(theme);
        }

        let review = match self.optional_map(&visit, "review", &path)? {
            None => None,
            Some(review) => Some(self.review(&review, &format!("{path}.review"))?),
        };
        if let Some(answer) = self.optional_text(&visit, "answer", &path)? {
            check_len(&answer, MAX_FREE_TEXT, &format!("{path}.answer"))?;
        }
        if self.get(&visit, "submittedAt", &path)?.is_some() {
            self.time(&visit, "submittedAt", &path)?;
        }

        Ok(VisitRow {
            id,
            at_ms,
            author,
            organisation,
            kind,
            status,
            review,
            themes,
        })
    }

    pub(super) fn review(&self, review: &ObjId, path: &str) -> Result<ReviewStatus, SchemaError> {
        self.only_keys(review, path, REVIEW_KEYS)?;
        let decision = self.choice(review, "status", path, ReviewStatus::parse)?;
        self.short_text(review, "reviewer", path)?;
        if let Some(comment) = self.optional_text(review, "comment", path)? {
            check_len(&comment, MAX_FREE_TEXT, &format!("{path}.comment"))?;
        }
        self.time(review, "at", path)?;
        Ok(decision)
    }
}

#[cfg(test)]
mod tests {
    use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, transaction::Transactable};

    use super::*;
    use crate::case::fixtures::{new_case, visit};
    use crate::case::{add_visit, review_visit, set_address};

    #[test]
    fn refuses_an_ethnicity_field() {
        let mut doc = new_case();
        let household = doc.get(ROOT, "household").unwrap().unwrap().1;
        doc.put(&household, "ethnicity", "x").unwrap();
        let err = CaseRecord::new(&doc).validate().unwrap_err();
        assert_eq!(err.path, "household.ethnicity");
    }

    #[test]
    fn names_the_path_of_each_broken_rule() {
        type Breaker = Box<dyn Fn(&mut AutoCommit)>;
        let cases: Vec<(&str, Breaker)> = vec![
            (
                "schemaVersion",
                Box::new(|d| {
                    d.put(ROOT, "schemaVersion", 2).unwrap();
                }),
            ),
            (
                "household.addressStatus",
                Box::new(|d| {
                    let h = d.get(ROOT, "household").unwrap().unwrap().1;
                    d.put(&h, "addressStatus", "gone").unwrap();
                }),
            ),
            (
                "household.label",
                Box::new(|d| {
                    let h = d.get(ROOT, "household").unwrap().unwrap().1;
                    d.put(&h, "label", 5).unwrap();
                }),
            ),
            (
                "visits",
                Box::new(|d| {
                    d.delete(ROOT, "visits").unwrap();
                }),
            ),
            (
                "visits.v1.kind",
                Box::new(|d| {
                    add_visit(d, &visit("v1", 1)).unwrap();
                    let v = d.get(ROOT, "visits").unwrap().unwrap().1;
                    let v1 = d.get(&v, "v1").unwrap().unwrap().1;
                    d.put(&v1, "kind", "party").unwrap();
                }),
            ),
            (
                "visits.v1.observations.religion",
                Box::new(|d| {
                    add_visit(d, &visit("v1", 1)).unwrap();
                    let v = d.get(ROOT, "visits").unwrap().unwrap().1;
                    let v1 = d.get(&v, "v1").unwrap().unwrap().1;
                    let o = d.get(&v1, "observations").unwrap().unwrap().1;
                    d.put(&o, "religion", "x").unwrap();
                }),
            ),
            (
                "visits.bad id",
                Box::new(|d| {
                    add_visit(d, &visit("bad id", 1)).unwrap();
                }),
            ),
            (
                "members.m1.birthDate",
                Box::new(|d| {
                    let m = d.get(ROOT, "members").unwrap().unwrap().1;
                    let m1 = d.put_object(&m, "m1", ObjType::Map).unwrap();
                    d.put(&m1, "name", "Kim").unwrap();
                    d.put(&m1, "role", "child").unwrap();
                    d.put(&m1, "birthDate", "2020-02-30").unwrap();
                }),
            ),
        ];
        for (path, breaker) in cases {
            let mut doc = new_case();
            breaker(&mut doc);
            let err = CaseRecord::new(&doc).validate().unwrap_err();
            assert_eq!(err.path, path, "{err}");
        }
    }

    #[test]
    fn accepts_text_objects_as_js_clients_write_them() {
        let mut doc = new_case();
        let household = doc.get(ROOT, "household").unwrap().unwrap().1;
        let label = doc.put_object(&household, "label", ObjType::Text).unwrap();
        doc.splice_text(&label, 0, 0, "Familie Jansen").unwrap();
        assert_eq!(
            CaseRecord::new(&doc).view().unwrap().label,
            "Familie Jansen"
        );
        CaseRecord::new(&doc).validate().unwrap();
    }

    #[test]
    fn losing_concurrent_values_are_checked_too() {
        let mut base = new_case();
        // A losing value that is an object full of fields the record does not have.
        let mut a = base.fork();
        let mut b = base.fork();
        set_address(&mut a, "Nieuwstraat 2", AddressStatus::Moved).unwrap();
        let household = b.get(ROOT, "household").unwrap().unwrap().1;
        let smuggled = b.put_object(&household, "address", ObjType::Map).unwrap();
        b.put(&smuggled, "ethnicity", "x").unwrap();
        a.merge(&mut b).unwrap();
        let err = CaseRecord::new(&a).validate().unwrap_err();
        assert_eq!(err.path, "household.address");
        // A losing status that is not one of the choices.
        let mut a = base.fork();
        let mut b = base.fork();
        set_address(&mut a, "X", AddressStatus::Moved).unwrap();
        let household = b.get(ROOT, "household").unwrap().unwrap().1;
        b.put(&household, "addressStatus", "verdwenen").unwrap();
        a.merge(&mut b).unwrap();
        let err = CaseRecord::new(&a).validate().unwrap_err();
        assert_eq!(
            (err.path.as_str(), err.reason.as_str()),
            (
                "household.addressStatus",
                "is not one of the allowed values"
            )
        );
        // Two supervisors reviewing at once: both reviews are valid, and kept.
        let mut a = base.fork();
        add_visit(&mut a, &visit("v1", 1)).unwrap();
        let mut b = a.fork();
        review_visit(&mut a, "v1", ReviewStatus::Approved, "s1", "", 2).unwrap();
        review_visit(&mut b, "v1", ReviewStatus::Returned, "s2", "Aanvullen", 3).unwrap();
        a.merge(&mut b).unwrap();
        CaseRecord::new(&a).validate().unwrap();
    }
}
