//! The general record of one household as an automerge document: its schema,
//! typed accessors and writers, the validator, and the flat projection the
//! server keeps in SQL for queues, the radar and the monitor.
//!
//! Shape (keys are camelCase, as JS clients write them):
//!
//! ```text
//! { schemaVersion: 1, compartment: "general",
//!   household: { label, address, addressStatus: known|moved|unknown },
//!   members:    { <id>: { name, birthDate?: "YYYY-MM-DD", role } },
//!   visits:     { <id>: { at, author, organisation, kind, present: [<member id>],
//!                         observations: { <theme>: text }, status,
//!                         review?: { status, reviewer, comment, at },
//!                         answer?: text, submittedAt?: time } },
//!   agreements: { <id>: { text, visit?, due?: "YYYY-MM-DD", done } } }
//! ```
//!
//! Collections are maps keyed by client-made ids so concurrent additions never
//! collide, and they exist from the first change so no two clients ever create
//! the same collection concurrently (which would hide one of them). Free text
//! is a plain string; a collaborative Text object is accepted too, because JS
//! automerge writes strings that way by default. There is deliberately no field
//! for ethnicity, origin or nationality: the validator refuses unknown keys.

use std::collections::{BTreeMap, BTreeSet};

mod history;
mod operations;
mod review;
mod view;
use crate::names::wire_enum;
use automerge::{
    AutomergeError, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value, transaction::Transactable,
};
pub use history::{FieldEdit, HistoryEntry, history};
pub use operations::check_operations;
pub use review::{FieldChange, VisitField, awaits_review, visit_as_reviewed, visit_changes};
pub use view::{AgreementView, Authored, CaseView, MemberView, ReviewView, VisitView};

/// The schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = 1;
/// Longest household label, member name or short field, in characters.
pub const MAX_SHORT_TEXT: usize = 200;
/// Longest free text (an observation, comment or agreement), in characters.
pub const MAX_FREE_TEXT: usize = 20_000;
/// Longest client-made id of a member, visit or agreement.
pub const MAX_ID_LEN: usize = 64;

// The fields of each part of a record: the validator refuses any other key in
// the state, and `operations` refuses any other key in any one operation.
const GENERAL_KEYS: &[&str] = &[
    "schemaVersion",
    "compartment",
    "household",
    "members",
    "visits",
    "agreements",
];
const HOUSEHOLD_KEYS: &[&str] = &["label", "address", "addressStatus"];
const MEMBER_KEYS: &[&str] = &["name", "birthDate", "role"];
const AGREEMENT_KEYS: &[&str] = &["text", "visit", "due", "done"];
const VISIT_KEYS: &[&str] = &[
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
];
const REVIEW_KEYS: &[&str] = &["status", "reviewer", "comment", "at"];
const RESTRICTED_KEYS: &[&str] = &["schemaVersion", "compartment", "signals"];
const SIGNAL_KEYS: &[&str] = &["at", "author", "organisation", "kind", "text"];

wire_enum!(
    /// Whether the family still lives at the recorded address.
    AddressStatus, "address status" { Known = "known", Moved = "moved", Unknown = "unknown" }
);
wire_enum!(
    /// How a contact with the family took place.
    VisitKind, "visit kind" { Home = "home", Phone = "phone", Office = "office", School = "school", Other = "other" }
);
wire_enum!(
    /// Where a visit is in its life: the worker's draft, or submitted for review.
    VisitStatus, "visit status" { Draft = "draft", Submitted = "submitted" }
);
wire_enum!(
    /// A supervisor's decision on a submitted visit.
    ReviewStatus, "review status" { Approved = "approved", Returned = "returned" }
);
wire_enum!(
    /// The life domains observations are recorded under.
    Theme, "theme" {
        Housing = "housing",
        WorkIncome = "workIncome",
        Education = "education",
        Health = "health",
        Safety = "safety",
        Wellbeing = "wellbeing",
    }
);
wire_enum!(
    /// What a restricted-record signal is about.
    SignalKind, "signal kind" {
        Police = "police",
        Justice = "justice",
        MinorInCrime = "minor_in_crime",
    }
);
wire_enum!(
    /// A member's place in the household.
    MemberRole, "member role" { Parent = "parent", Child = "child", Carer = "carer", Other = "other" }
);

/// Why a document is not a valid case record: the path of the offending value
/// and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct SchemaError {
    pub path: String,
    pub reason: String,
}

impl SchemaError {
    fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

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

/// Reads a case record, checking every value it touches.
pub struct CaseRecord<'a, D: ReadDoc> {
    doc: &'a D,
}

impl<'a, D: ReadDoc> CaseRecord<'a, D> {
    pub fn new(doc: &'a D) -> Self {
        Self { doc }
    }

    /// Checks the whole document against the schema.
    pub fn validate(&self) -> Result<(), SchemaError> {
        self.project().map(|_| ())
    }

    /// The household's display label.
    pub fn label(&self) -> Result<String, SchemaError> {
        let household = self.map(&ROOT, "household", "")?;
        self.text(&household, "label", "household")
    }

    /// The address as the winning value; see [`Self::address_values`] for conflicts.
    pub fn address(&self) -> Result<String, SchemaError> {
        let household = self.map(&ROOT, "household", "")?;
        self.text(&household, "address", "household")
    }

    /// Every concurrent value of the address, so a person can settle a conflict.
    pub fn address_values(&self) -> Result<Vec<String>, SchemaError> {
        let household = self.map(&ROOT, "household", "")?;
        let values = self
            .doc
            .get_all(&household, "address")
            .map_err(|e| SchemaError::new("household.address", e.to_string()))?;
        values
            .into_iter()
            .map(|(value, id)| self.value_text(value, id, "household.address"))
            .collect()
    }

    /// The ids of the visits in the record.
    pub fn visit_ids(&self) -> Result<Vec<String>, SchemaError> {
        let visits = self.map(&ROOT, "visits", "")?;
        Ok(self.doc.keys(&visits).collect())
    }

    /// The free text of one observation of one visit, if recorded.
    pub fn observation(&self, visit: &str, theme: Theme) -> Result<Option<String>, SchemaError> {
        let visits = self.map(&ROOT, "visits", "")?;
        let path = format!("visits.{visit}");
        let visit = self.map(&visits, visit, "visits")?;
        let observations = self.map(&visit, "observations", &path)?;
        self.optional_text(
            &observations,
            theme.as_str(),
            &format!("{path}.observations"),
        )
    }

    /// Checks the restricted record: `{ schemaVersion, compartment:
    /// "restricted", signals: { <id>: { at, author, organisation, kind, text } } }`.
    pub fn validate_restricted(&self) -> Result<(), SchemaError> {
        self.only_keys(&ROOT, "", RESTRICTED_KEYS)?;
        let version = self.int(&ROOT, "schemaVersion", "")?;
        if version != SCHEMA_VERSION {
            return Err(SchemaError::new(
                "schemaVersion",
                format!("unsupported schema version {version}"),
            ));
        }
        if self.text(&ROOT, "compartment", "")? != "restricted" {
            return Err(SchemaError::new("compartment", "must be \"restricted\""));
        }
        let signals = self.map(&ROOT, "signals", "")?;
        for id in self.doc.keys(&signals) {
            let path = format!("signals.{id}");
            check_id(&id, &path)?;
            let signal = self.map(&signals, &id, "signals")?;
            self.only_keys(&signal, &path, SIGNAL_KEYS)?;
            self.time(&signal, "at", &path)?;
            self.short_text(&signal, "author", &path)?;
            self.short_text(&signal, "organisation", &path)?;
            self.choice(&signal, "kind", &path, SignalKind::parse)?;
            let text = self.text(&signal, "text", &path)?;
            check_len(&text, MAX_FREE_TEXT, &format!("{path}.text"))?;
        }
        Ok(())
    }

    /// The ids of the signals in a restricted record.
    pub fn signal_ids(&self) -> Result<Vec<String>, SchemaError> {
        let signals = self.map(&ROOT, "signals", "")?;
        Ok(self.doc.keys(&signals).collect())
    }

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

    /// The top level and the household: label and address status.
    fn top(&self) -> Result<(String, AddressStatus), SchemaError> {
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

    fn member(&self, members: &ObjId, id: String) -> Result<(), SchemaError> {
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

    fn agreement(&self, agreements: &ObjId, id: String) -> Result<(), SchemaError> {
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

    fn visit(&self, visits: &ObjId, id: String) -> Result<VisitRow, SchemaError> {
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

    /// The winning value at `key`, after checking any values it won over:
    /// automerge keeps concurrent values, and people are shown all of them,
    /// so the losers must be as valid as the winner could be.
    fn get(
        &self,
        obj: &ObjId,
        key: &str,
        path: &str,
    ) -> Result<Option<(Value<'_>, ObjId)>, SchemaError> {
        let at = || join(path, key);
        let all = self
            .doc
            .get_all(obj, key)
            .map_err(|e| SchemaError::new(at(), e.to_string()))?;
        if all.len() > 1 {
            for (value, id) in &all {
                self.check_alternative(value, id, key, &at())?;
            }
        }
        self.doc
            .get(obj, key)
            .map_err(|e| SchemaError::new(at(), e.to_string()))
    }

    /// One of several concurrent values: text within limits or a plain value;
    /// never a replaced object, except concurrent reviews of one visit.
    fn check_alternative(
        &self,
        value: &Value<'_>,
        id: &ObjId,
        key: &str,
        path: &str,
    ) -> Result<(), SchemaError> {
        match value {
            Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Str(text) => check_len(text, MAX_FREE_TEXT, path),
                ScalarValue::Int(_)
                | ScalarValue::Uint(_)
                | ScalarValue::F64(_)
                | ScalarValue::Timestamp(_)
                | ScalarValue::Boolean(_) => Ok(()),
                _ => Err(SchemaError::new(
                    path,
                    "concurrent values must be text or plain values",
                )),
            },
            Value::Object(ObjType::Text) => {
                let text = self.value_text(value.clone(), id.clone(), path)?;
                check_len(&text, MAX_FREE_TEXT, path)
            }
            Value::Object(ObjType::Map) if key == "review" => self.review(id, path).map(|_| ()),
            Value::Object(_) => Err(SchemaError::new(
                path,
                "was replaced concurrently; objects are never replaced",
            )),
        }
    }

    fn review(&self, review: &ObjId, path: &str) -> Result<ReviewStatus, SchemaError> {
        self.only_keys(review, path, REVIEW_KEYS)?;
        let decision = self.choice(review, "status", path, ReviewStatus::parse)?;
        self.short_text(review, "reviewer", path)?;
        if let Some(comment) = self.optional_text(review, "comment", path)? {
            check_len(&comment, MAX_FREE_TEXT, &format!("{path}.comment"))?;
        }
        self.time(review, "at", path)?;
        Ok(decision)
    }

    fn require(
        &self,
        obj: &ObjId,
        key: &str,
        path: &str,
    ) -> Result<(Value<'_>, ObjId), SchemaError> {
        self.get(obj, key, path)?
            .ok_or_else(|| SchemaError::new(join(path, key), "is required"))
    }

    fn only_keys(&self, obj: &ObjId, path: &str, allowed: &[&str]) -> Result<(), SchemaError> {
        match self
            .doc
            .keys(obj)
            .find(|key| !allowed.contains(&key.as_str()))
        {
            Some(key) => Err(SchemaError::new(
                join(path, &key),
                "is not a field of the case record",
            )),
            None => Ok(()),
        }
    }

    fn object(
        &self,
        obj: &ObjId,
        key: &str,
        path: &str,
        want: ObjType,
    ) -> Result<Option<ObjId>, SchemaError> {
        match self.get(obj, key, path)? {
            None => Ok(None),
            Some((Value::Object(kind), id)) if kind == want => Ok(Some(id)),
            Some(_) => Err(SchemaError::new(
                join(path, key),
                format!("must be a {want:?}"),
            )),
        }
    }

    fn map(&self, obj: &ObjId, key: &str, path: &str) -> Result<ObjId, SchemaError> {
        self.object(obj, key, path, ObjType::Map)?
            .ok_or_else(|| SchemaError::new(join(path, key), "is required"))
    }

    fn optional_map(
        &self,
        obj: &ObjId,
        key: &str,
        path: &str,
    ) -> Result<Option<ObjId>, SchemaError> {
        self.object(obj, key, path, ObjType::Map)
    }

    fn list(&self, obj: &ObjId, key: &str, path: &str) -> Result<ObjId, SchemaError> {
        self.object(obj, key, path, ObjType::List)?
            .ok_or_else(|| SchemaError::new(join(path, key), "is required"))
    }

    fn value_text(&self, value: Value<'_>, id: ObjId, path: &str) -> Result<String, SchemaError> {
        match value {
            Value::Scalar(s) => match s.as_ref() {
                ScalarValue::Str(s) => Ok(s.to_string()),
                _ => Err(SchemaError::new(path, "must be text")),
            },
            Value::Object(ObjType::Text) => self
                .doc
                .text(&id)
                .map_err(|e| SchemaError::new(path, e.to_string())),
            Value::Object(_) => Err(SchemaError::new(path, "must be text")),
        }
    }

    fn optional_text(
        &self,
        obj: &ObjId,
        key: &str,
        path: &str,
    ) -> Result<Option<String>, SchemaError> {
        match self.get(obj, key, path)? {
            None => Ok(None),
            Some((value, id)) => self.value_text(value, id, &join(path, key)).map(Some),
        }
    }

    fn text(&self, obj: &ObjId, key: &str, path: &str) -> Result<String, SchemaError> {
        let (value, id) = self.require(obj, key, path)?;
        self.value_text(value, id, &join(path, key))
    }

    fn short_text(&self, obj: &ObjId, key: &str, path: &str) -> Result<String, SchemaError> {
        let text = self.text(obj, key, path)?;
        check_len(&text, MAX_SHORT_TEXT, &join(path, key))?;
        Ok(text)
    }

    fn choice<T>(
        &self,
        obj: &ObjId,
        key: &str,
        path: &str,
        parse: fn(&str) -> Option<T>,
    ) -> Result<T, SchemaError> {
        // Every concurrent value must be one of the choices, not just the winner.
        let all = self
            .doc
            .get_all(obj, key)
            .map_err(|e| SchemaError::new(join(path, key), e.to_string()))?;
        for (value, id) in all {
            let text = self.value_text(value, id, &join(path, key))?;
            if parse(&text).is_none() {
                // The value itself stays out of the message: it may be anything.
                return Err(SchemaError::new(
                    join(path, key),
                    "is not one of the allowed values",
                ));
            }
        }
        let text = self.text(obj, key, path)?;
        parse(&text)
            .ok_or_else(|| SchemaError::new(join(path, key), "is not one of the allowed values"))
    }

    fn int(&self, obj: &ObjId, key: &str, path: &str) -> Result<i64, SchemaError> {
        match self.require(obj, key, path)? {
            (Value::Scalar(s), _) => match s.as_ref() {
                ScalarValue::Int(n) => Ok(*n),
                ScalarValue::Uint(n) => {
                    i64::try_from(*n).map_err(|_| SchemaError::new(join(path, key), "out of range"))
                }
                ScalarValue::F64(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(*f as i64),
                _ => Err(SchemaError::new(join(path, key), "must be a whole number")),
            },
            _ => Err(SchemaError::new(join(path, key), "must be a whole number")),
        }
    }

    /// A moment, as an automerge timestamp (a JS `Date`) or milliseconds since 1970.
    fn time(&self, obj: &ObjId, key: &str, path: &str) -> Result<i64, SchemaError> {
        match self.require(obj, key, path)? {
            (Value::Scalar(s), _) if matches!(s.as_ref(), ScalarValue::Timestamp(_)) => {
                Ok(s.as_i64().unwrap_or_default())
            }
            _ => self
                .int(obj, key, path)
                .map_err(|_| SchemaError::new(join(path, key), "must be a timestamp")),
        }
    }

    fn boolean(&self, obj: &ObjId, key: &str, path: &str) -> Result<bool, SchemaError> {
        match self.require(obj, key, path)? {
            (Value::Scalar(s), _) => s
                .as_bool()
                .ok_or_else(|| SchemaError::new(join(path, key), "must be true or false")),
            _ => Err(SchemaError::new(join(path, key), "must be true or false")),
        }
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn check_len(text: &str, max: usize, path: &str) -> Result<(), SchemaError> {
    if text.chars().count() > max {
        return Err(SchemaError::new(
            path,
            format!("longer than {max} characters"),
        ));
    }
    Ok(())
}

fn check_id(id: &str, path: &str) -> Result<(), SchemaError> {
    let valid = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(SchemaError::new(
            path,
            "is not a valid id (1-64 of A-Z a-z 0-9 - _)",
        ))
    }
}

/// A calendar date as `YYYY-MM-DD`.
fn check_date(date: &str, path: &str) -> Result<(), SchemaError> {
    let parts: Vec<&str> = date.split('-').collect();
    let numbers: Option<Vec<u32>> = match parts.as_slice() {
        [y, m, d] if y.len() == 4 && m.len() == 2 && d.len() == 2 => {
            parts.iter().map(|p| p.parse().ok()).collect()
        }
        _ => None,
    };
    match numbers.as_deref() {
        Some([y, m, d])
            if *y >= 1900 && (1..=12).contains(m) && (1..=days_in_month(*y, *m)).contains(d) =>
        {
            Ok(())
        }
        _ => Err(SchemaError::new(path, "must be a date as YYYY-MM-DD")),
    }
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// What a new household record starts with.
#[derive(Debug, Clone)]
pub struct NewCase {
    pub label: String,
    pub address: String,
    pub address_status: AddressStatus,
}

/// A visit as a worker records it.
#[derive(Debug, Clone)]
pub struct NewVisit {
    pub id: String,
    pub at_ms: i64,
    pub author: String,
    pub organisation: String,
    pub kind: VisitKind,
    pub present: Vec<String>,
    pub observations: Vec<(Theme, String)>,
    pub status: VisitStatus,
}

/// Writes the skeleton of a new case record, collections included, in one change.
pub fn init_case<T: Transactable>(tx: &mut T, case: &NewCase) -> Result<(), AutomergeError> {
    tx.put(ROOT, "schemaVersion", SCHEMA_VERSION)?;
    tx.put(ROOT, "compartment", "general")?;
    let household = tx.put_object(ROOT, "household", ObjType::Map)?;
    tx.put(&household, "label", case.label.as_str())?;
    tx.put(&household, "address", case.address.as_str())?;
    tx.put(&household, "addressStatus", case.address_status.as_str())?;
    for collection in ["members", "visits", "agreements"] {
        tx.put_object(ROOT, collection, ObjType::Map)?;
    }
    Ok(())
}

/// Adds a visit to an existing record.
pub fn add_visit<T: Transactable>(tx: &mut T, visit: &NewVisit) -> Result<(), AutomergeError> {
    let visits = existing_map(tx, &ROOT, "visits")?;
    let obj = tx.put_object(&visits, visit.id.as_str(), ObjType::Map)?;
    tx.put(&obj, "at", ScalarValue::Timestamp(visit.at_ms))?;
    tx.put(&obj, "author", visit.author.as_str())?;
    tx.put(&obj, "organisation", visit.organisation.as_str())?;
    tx.put(&obj, "kind", visit.kind.as_str())?;
    tx.put(&obj, "status", visit.status.as_str())?;
    let present = tx.put_object(&obj, "present", ObjType::List)?;
    for (index, member) in visit.present.iter().enumerate() {
        tx.insert(&present, index, member.as_str())?;
    }
    let observations = tx.put_object(&obj, "observations", ObjType::Map)?;
    for (theme, text) in &visit.observations {
        tx.put(&observations, theme.as_str(), text.as_str())?;
    }
    Ok(())
}

/// Records a new address and whether the family still lives there.
pub fn set_address<T: Transactable>(
    tx: &mut T,
    address: &str,
    status: AddressStatus,
) -> Result<(), AutomergeError> {
    let household = existing_map(tx, &ROOT, "household")?;
    tx.put(&household, "address", address)?;
    tx.put(&household, "addressStatus", status.as_str())?;
    Ok(())
}

/// Writes the skeleton of a case's restricted record.
pub fn init_restricted<T: Transactable>(tx: &mut T) -> Result<(), AutomergeError> {
    tx.put(ROOT, "schemaVersion", SCHEMA_VERSION)?;
    tx.put(ROOT, "compartment", "restricted")?;
    tx.put_object(ROOT, "signals", ObjType::Map)?;
    Ok(())
}

/// A signal in the restricted record.
#[derive(Debug, Clone)]
pub struct NewSignal {
    pub id: String,
    pub at_ms: i64,
    pub author: String,
    pub organisation: String,
    pub kind: SignalKind,
    pub text: String,
}

pub fn add_signal<T: Transactable>(tx: &mut T, signal: &NewSignal) -> Result<(), AutomergeError> {
    let signals = existing_map(tx, &ROOT, "signals")?;
    let obj = tx.put_object(&signals, signal.id.as_str(), ObjType::Map)?;
    tx.put(&obj, "at", ScalarValue::Timestamp(signal.at_ms))?;
    tx.put(&obj, "author", signal.author.as_str())?;
    tx.put(&obj, "organisation", signal.organisation.as_str())?;
    tx.put(&obj, "kind", signal.kind.as_str())?;
    tx.put(&obj, "text", signal.text.as_str())?;
    Ok(())
}

/// Writes a supervisor's decision on a visit.
pub fn review_visit<T: Transactable>(
    tx: &mut T,
    visit: &str,
    status: ReviewStatus,
    reviewer: &str,
    comment: &str,
    at_ms: i64,
) -> Result<(), AutomergeError> {
    let visits = existing_map(tx, &ROOT, "visits")?;
    let visit = existing_map(tx, &visits, visit)?;
    let review = tx.put_object(&visit, "review", ObjType::Map)?;
    tx.put(&review, "status", status.as_str())?;
    tx.put(&review, "reviewer", reviewer)?;
    tx.put(&review, "comment", comment)?;
    tx.put(&review, "at", ScalarValue::Timestamp(at_ms))?;
    Ok(())
}

/// Replaces the free text of one observation of a visit.
pub fn set_observation<T: Transactable>(
    tx: &mut T,
    visit: &str,
    theme: Theme,
    text: &str,
) -> Result<(), AutomergeError> {
    let visits = existing_map(tx, &ROOT, "visits")?;
    let visit = existing_map(tx, &visits, visit)?;
    let observations = existing_map(tx, &visit, "observations")?;
    tx.put(&observations, theme.as_str(), text)?;
    Ok(())
}

/// Submits a visit for review (again, after it was returned), at `at_ms`.
pub fn submit_visit<T: Transactable>(
    tx: &mut T,
    visit: &str,
    at_ms: i64,
) -> Result<(), AutomergeError> {
    let visits = existing_map(tx, &ROOT, "visits")?;
    let visit = existing_map(tx, &visits, visit)?;
    tx.put(&visit, "status", VisitStatus::Submitted.as_str())?;
    tx.put(&visit, "submittedAt", ScalarValue::Timestamp(at_ms))?;
    Ok(())
}

/// The author's answer to a supervisor's returned review.
pub fn answer_review<T: Transactable>(
    tx: &mut T,
    visit: &str,
    answer: &str,
) -> Result<(), AutomergeError> {
    let visits = existing_map(tx, &ROOT, "visits")?;
    let visit = existing_map(tx, &visits, visit)?;
    tx.put(&visit, "answer", answer)?;
    Ok(())
}

/// Adds a member of the household.
pub fn add_member<T: Transactable>(
    tx: &mut T,
    id: &str,
    name: &str,
    birth_date: Option<&str>,
    role: MemberRole,
) -> Result<(), AutomergeError> {
    let members = existing_map(tx, &ROOT, "members")?;
    let member = tx.put_object(&members, id, ObjType::Map)?;
    tx.put(&member, "name", name)?;
    if let Some(date) = birth_date {
        tx.put(&member, "birthDate", date)?;
    }
    tx.put(&member, "role", role.as_str())?;
    Ok(())
}

/// Adds a follow-up agreement, optionally made during a visit.
pub fn add_agreement<T: Transactable>(
    tx: &mut T,
    id: &str,
    text: &str,
    visit: Option<&str>,
    due: Option<&str>,
) -> Result<(), AutomergeError> {
    let agreements = existing_map(tx, &ROOT, "agreements")?;
    let agreement = tx.put_object(&agreements, id, ObjType::Map)?;
    tx.put(&agreement, "text", text)?;
    if let Some(visit) = visit {
        tx.put(&agreement, "visit", visit)?;
    }
    if let Some(due) = due {
        tx.put(&agreement, "due", due)?;
    }
    tx.put(&agreement, "done", false)?;
    Ok(())
}

fn existing_map<T: Transactable>(tx: &T, obj: &ObjId, key: &str) -> Result<ObjId, AutomergeError> {
    match tx.get(obj, key)? {
        Some((Value::Object(ObjType::Map), id)) => Ok(id),
        _ => Err(AutomergeError::InvalidOp(ObjType::Map)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::AutoCommit;

    fn new_case() -> AutoCommit {
        let mut doc = AutoCommit::new();
        init_case(
            &mut doc,
            &NewCase {
                label: "Familie De Vries".into(),
                address: "Dorpsstraat 1, Ergens".into(),
                address_status: AddressStatus::Known,
            },
        )
        .unwrap();
        doc
    }

    fn visit(id: &str, at_ms: i64) -> NewVisit {
        NewVisit {
            id: id.into(),
            at_ms,
            author: "jan".into(),
            organisation: "Jeugdzorg Noord".into(),
            kind: VisitKind::Home,
            present: vec!["m1".into()],
            observations: vec![
                (Theme::Housing, "Vochtig huis".into()),
                (Theme::Health, "Moe".into()),
            ],
            status: VisitStatus::Submitted,
        }
    }

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
        assert_eq!(
            record.observation("v1", Theme::Housing).unwrap().as_deref(),
            Some("Vochtig huis")
        );
        assert_eq!(record.observation("v1", Theme::Safety).unwrap(), None);
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
        assert_eq!(CaseRecord::new(&doc).label().unwrap(), "Familie Jansen");
        CaseRecord::new(&doc).validate().unwrap();
    }

    #[test]
    fn keeps_both_concurrent_addresses() {
        let mut a = new_case();
        let mut b = a.fork();
        set_address(&mut a, "Nieuwstraat 2", AddressStatus::Moved).unwrap();
        set_address(&mut b, "Oudeweg 3", AddressStatus::Moved).unwrap();
        a.merge(&mut b).unwrap();
        let mut values = CaseRecord::new(&a).address_values().unwrap();
        values.sort();
        assert_eq!(values, vec!["Nieuwstraat 2", "Oudeweg 3"]);
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

    #[test]
    fn dates_are_checked() {
        assert!(check_date("2024-02-29", "d").is_ok());
        assert!(check_date("2023-02-29", "d").is_err());
        assert!(check_date("2023-13-01", "d").is_err());
        assert!(check_date("23-01-01", "d").is_err());
    }
}
