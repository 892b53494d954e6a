//! Case direction through the API, for case directors of municipalities:
//! organisations to choose from, handovers between municipalities and their
//! trail, and links between households.

use serde::{Deserialize, Serialize};

/// An organisation in `GET /api/organisations[?kind=…]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Organisation {
    pub name: String,
    /// An [`OrganisationKind`](crate::identity::OrganisationKind)'s name.
    pub kind: String,
}

/// A handover request as either municipality sees it: `GET /api/handovers`,
/// a case's trail, and the answer to asking for or deciding one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HandoverItem {
    pub id: i64,
    /// For the sending side after an accepted handover: the id of a record it
    /// may no longer read, so its tablets can forget their copies.
    pub document_id: String,
    /// `incoming` or `outgoing`, as seen by the caller's municipality.
    pub direction: String,
    pub from: String,
    pub to: String,
    pub label: String,
    pub reason: String,
    pub requested_by: String,
    pub requested_at: i64,
    /// `requested`, `accepted`, `refused` or `withdrawn`.
    pub status: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub note: Option<String>,
}

/// `POST /api/cases/{id}/handover`: ask municipality `to` to take over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AskHandover {
    pub to: String,
    pub reason: String,
}

/// `POST /api/handovers/{id}/accept|refuse|withdraw`; a refusal says why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HandoverDecision {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// A link from one household to another, in `GET /api/cases/{id}/links`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkItem {
    pub id: i64,
    /// Only when the reader's organisation is on the other case's team.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub directed_by: Option<String>,
    /// A [`LinkBasis`](crate::identity::LinkBasis)'s name.
    pub basis: String,
    pub note: String,
    pub recorded_by: String,
    pub recorded_at: i64,
}

/// `POST /api/cases/{id}/links`: link the case to another household.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkHousehold {
    /// The other household's general record.
    pub other: String,
    /// A [`LinkBasis`](crate::identity::LinkBasis)'s name.
    pub basis: String,
    /// What was seen; required for the basis `other`.
    #[serde(default)]
    pub note: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_link_to_an_unreadable_household_leaves_out_its_id_and_label() {
        let link = LinkItem {
            id: 4,
            document_id: None,
            label: None,
            directed_by: None,
            basis: "same_address".into(),
            note: String::new(),
            recorded_by: "ann".into(),
            recorded_at: 9,
        };
        let value = serde_json::to_value(&link).unwrap();
        assert_eq!(
            value,
            json!({
                "id": 4,
                "directedBy": null,
                "basis": "same_address",
                "note": "",
                "recordedBy": "ann",
                "recordedAt": 9,
            })
        );
        assert_eq!(serde_json::from_value::<LinkItem>(value).unwrap(), link);
    }

    #[test]
    fn a_handover_is_camel_case_with_nulls_until_decided() {
        let handover = HandoverItem {
            id: 1,
            document_id: "doc".into(),
            direction: "outgoing".into(),
            from: "Zwolle".into(),
            to: "Kampen".into(),
            label: "Fam. Jansen".into(),
            reason: "moved".into(),
            requested_by: "ann".into(),
            requested_at: 2,
            status: "requested".into(),
            decided_by: None,
            decided_at: None,
            note: None,
        };
        assert_eq!(
            serde_json::to_value(&handover).unwrap(),
            json!({
                "id": 1,
                "documentId": "doc",
                "direction": "outgoing",
                "from": "Zwolle",
                "to": "Kampen",
                "label": "Fam. Jansen",
                "reason": "moved",
                "requestedBy": "ann",
                "requestedAt": 2,
                "status": "requested",
                "decidedBy": null,
                "decidedAt": null,
                "note": null,
            })
        );
    }

    #[test]
    fn a_decision_without_a_note_is_an_empty_object() {
        assert_eq!(
            serde_json::to_value(HandoverDecision::default()).unwrap(),
            json!({})
        );
        let refusal: HandoverDecision = serde_json::from_value(json!({"note": "no"})).unwrap();
        assert_eq!(refusal.note, "no");
    }
}
