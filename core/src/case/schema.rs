//! The schema of the general record: its fields, the values a field may take,
//! the limits on text and ids, and the checks of one value (length, id, date)
//! that the validator, the restricted record and the operation judge share.

use crate::names::wire_enum;

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
pub(super) const GENERAL_KEYS: &[&str] = &[
    "schemaVersion",
    "compartment",
    "household",
    "members",
    "visits",
    "agreements",
];
pub(super) const HOUSEHOLD_KEYS: &[&str] = &["label", "address", "addressStatus"];
pub(super) const MEMBER_KEYS: &[&str] = &["name", "birthDate", "role"];
pub(super) const AGREEMENT_KEYS: &[&str] = &["text", "visit", "due", "done"];
pub(super) const VISIT_KEYS: &[&str] = &[
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
pub(super) const REVIEW_KEYS: &[&str] = &["status", "reviewer", "comment", "at"];

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
    pub(super) fn new(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

pub(super) fn check_len(text: &str, max: usize, path: &str) -> Result<(), SchemaError> {
    if !crate::text::within(text, max) {
        return Err(SchemaError::new(
            path,
            format!("longer than {max} characters"),
        ));
    }
    Ok(())
}

pub(super) fn check_id(id: &str, path: &str) -> Result<(), SchemaError> {
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

/// A calendar date as `YYYY-MM-DD`, from 1900 on.
pub(super) fn check_date(date: &str, path: &str) -> Result<(), SchemaError> {
    match crate::calendar::Date::parse_iso(date) {
        Some(d) if d.year() >= 1900 => Ok(()),
        _ => Err(SchemaError::new(path, "must be a date as YYYY-MM-DD")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_checked() {
        assert!(check_date("2024-02-29", "d").is_ok());
        assert!(check_date("2023-02-29", "d").is_err());
        assert!(check_date("2023-13-01", "d").is_err());
        assert!(check_date("23-01-01", "d").is_err());
    }
}
