//! Cases through the API: the caseload, one case, registering a household,
//! the case team, who wrote with which actor id, and the admins' quarantine
//! report.

use serde::{Deserialize, Serialize};

/// A case as `GET /api/cases`, `GET /api/cases/{id}` and `POST /api/cases`
/// answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseItem {
    pub id: i64,
    pub document_id: String,
    pub label: String,
    /// `known`, `moved` or `unknown`.
    pub address_status: String,
    /// `null` until a visit is recorded.
    pub last_visit_at: Option<i64>,
    /// Only for those who may read the restricted record; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restricted_document_id: Option<String>,
}

/// `POST /api/cases`: a household registered online.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCase {
    pub label: String,
    #[serde(default)]
    pub address: String,
    /// `known` (the default), `moved` or `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_status: Option<String>,
}

/// `POST /api/cases/{id}/team`: one of `add` or `remove`, an organisation's name.
/// The answer is the team, a list of organisation names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TeamChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove: Option<String>,
}

/// `POST /api/cases/{id}/writers`: who wrote with these actor ids?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WritersQuery {
    /// Actor ids (hex) found in the case record's change history.
    pub actors: Vec<String>,
}

/// One person the server named for an actor id, in the answer to
/// [`WritersQuery`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Writer {
    pub actor: String,
    pub handle: String,
    pub organisation: String,
}

/// One refused change in `GET /api/admin/quarantine`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuarantineItem {
    pub id: i64,
    pub document_id: String,
    pub change_hash: String,
    pub device_id: i64,
    pub user: String,
    pub reason: String,
    pub created_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_case_item_keeps_its_null_visit_and_hides_an_absent_restricted_id() {
        let item = CaseItem {
            id: 7,
            document_id: "doc".into(),
            label: "Fam. Jansen".into(),
            address_status: "known".into(),
            last_visit_at: None,
            restricted_document_id: None,
        };
        let value = serde_json::to_value(&item).unwrap();
        assert_eq!(
            value,
            json!({
                "id": 7,
                "documentId": "doc",
                "label": "Fam. Jansen",
                "addressStatus": "known",
                "lastVisitAt": null,
            })
        );
        assert_eq!(serde_json::from_value::<CaseItem>(value).unwrap(), item);

        let readable = CaseItem {
            last_visit_at: Some(5),
            restricted_document_id: Some("restricted".into()),
            ..item
        };
        let value = serde_json::to_value(&readable).unwrap();
        assert_eq!(value["lastVisitAt"], json!(5));
        assert_eq!(value["restrictedDocumentId"], json!("restricted"));
    }

    #[test]
    fn a_team_change_names_only_what_it_changes() {
        let add = TeamChange {
            add: Some("Wijkteam".into()),
            remove: None,
        };
        assert_eq!(
            serde_json::to_value(&add).unwrap(),
            json!({"add": "Wijkteam"})
        );
        assert!(serde_json::from_value::<TeamChange>(json!({"add": "x", "other": 1})).is_err());
    }

    #[test]
    fn a_quarantine_item_is_camel_case() {
        let item = QuarantineItem {
            id: 1,
            document_id: "doc".into(),
            change_hash: "ab".into(),
            device_id: 2,
            user: "ann".into(),
            reason: "no".into(),
            created_at: 3,
        };
        assert_eq!(
            serde_json::to_value(&item).unwrap(),
            json!({
                "id": 1,
                "documentId": "doc",
                "changeHash": "ab",
                "deviceId": 2,
                "user": "ann",
                "reason": "no",
                "createdAt": 3,
            })
        );
    }
}
