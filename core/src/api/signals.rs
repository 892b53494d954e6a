//! The signal index through the API: a professional registers that their
//! organisation is involved with a person (`POST /api/signals`) and reads the
//! organisation's signals with their matches (`GET /api/signals`). Who the
//! signal is about is sent, never answered: it is checked with
//! [`crate::signal::Subject`] on both sides.

use serde::{Deserialize, Serialize};

/// `POST /api/signals`: a BSN, or a name and birth date; an own reference;
/// and how to reach the professional (the name defaults to their handle).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterSignal {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bsn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(default)]
    pub contact: ContactInput,
}

/// How to reach the professional registering, as they give it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// How to reach a professional, as the server answers it (empty where not given).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub name: String,
    pub phone: String,
    pub email: String,
}

/// One of the organisation's own signals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signal {
    /// Opaque: it names the signal (to withdraw it, `DELETE /api/signals/{id}`)
    /// and tells nothing about how many the index holds.
    pub id: String,
    /// `bsn` or `name`: which kind of identifier was registered.
    pub kind: String,
    pub reference: String,
    pub registered_by: String,
    pub contact: Contact,
    pub created_at: i64,
    pub registered_at: i64,
    pub active_until: i64,
    pub visible_until: i64,
    /// Whether a registration by another organisation would match it now.
    pub active: bool,
    pub matches: Vec<Match>,
}

/// Another organisation registered the same person: who, how to reach them, when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Match {
    pub organisation: String,
    pub contact: Contact,
    pub matched_at: i64,
}

/// The answer to [`RegisterSignal`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Registered {
    /// Another organisation has registered this person (now or before).
    pub matched: bool,
    /// Matches made by this registration.
    pub new_matches: usize,
    /// The organisation had registered this person already.
    pub refreshed: bool,
    pub signal: Signal,
}

/// `GET /api/signals`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signals {
    pub signals: Vec<Signal>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_registration_is_camel_case() {
        let register = RegisterSignal {
            bsn: Some(String::new()),
            name: Some("Jan Jansen".into()),
            birth_date: Some("2010-05-01".into()),
            reference: Some("ref".into()),
            contact: ContactInput {
                name: Some(String::new()),
                phone: Some("06".into()),
                email: Some(String::new()),
            },
        };
        let value = serde_json::to_value(&register).unwrap();
        assert_eq!(
            value,
            json!({
                "bsn": "",
                "name": "Jan Jansen",
                "birthDate": "2010-05-01",
                "reference": "ref",
                "contact": {"name": "", "phone": "06", "email": ""},
            })
        );
        assert_eq!(
            serde_json::from_value::<RegisterSignal>(value).unwrap(),
            register
        );
        assert_eq!(
            serde_json::from_value::<RegisterSignal>(json!({"bsn": "1"})).unwrap(),
            RegisterSignal {
                bsn: Some("1".into()),
                ..RegisterSignal::default()
            }
        );
    }

    #[test]
    fn a_registered_signal_is_camel_case() {
        let contact = Contact {
            name: "ann".into(),
            phone: "06".into(),
            email: String::new(),
        };
        let registered = Registered {
            matched: true,
            new_matches: 1,
            refreshed: false,
            signal: Signal {
                id: "5f0c".into(),
                kind: "bsn".into(),
                reference: "ref".into(),
                registered_by: "ann".into(),
                contact: contact.clone(),
                created_at: 2,
                registered_at: 3,
                active_until: 4,
                visible_until: 5,
                active: true,
                matches: vec![Match {
                    organisation: "Wijkteam".into(),
                    contact,
                    matched_at: 6,
                }],
            },
        };
        let contact = json!({"name": "ann", "phone": "06", "email": ""});
        assert_eq!(
            serde_json::to_value(&registered).unwrap(),
            json!({
                "matched": true,
                "newMatches": 1,
                "refreshed": false,
                "signal": {
                    "id": "5f0c",
                    "kind": "bsn",
                    "reference": "ref",
                    "registeredBy": "ann",
                    "contact": contact,
                    "createdAt": 2,
                    "registeredAt": 3,
                    "activeUntil": 4,
                    "visibleUntil": 5,
                    "active": true,
                    "matches": [{"organisation": "Wijkteam", "contact": contact, "matchedAt": 6}],
                },
            })
        );
    }
}
