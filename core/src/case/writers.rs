//! The writers of the general record: each edit the tablet makes, as one
//! function over an automerge transaction, writing only what the schema holds.

use automerge::{
    AutomergeError, ObjId, ObjType, ROOT, ScalarValue, Value, transaction::Transactable,
};

use super::schema::{
    AddressStatus, MemberRole, ReviewStatus, SCHEMA_VERSION, Theme, VisitKind, VisitStatus,
};

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

pub(super) fn existing_map<T: Transactable>(
    tx: &T,
    obj: &ObjId,
    key: &str,
) -> Result<ObjId, AutomergeError> {
    match tx.get(obj, key)? {
        Some((Value::Object(ObjType::Map), id)) => Ok(id),
        _ => Err(AutomergeError::InvalidOp(ObjType::Map)),
    }
}
