//! People, devices and sessions through the API: who is signed in, passkey
//! enrollment and sign-in, sync tickets, signing out, devices and their
//! revocation, invites, and the audit log for auditors.

use automerge::ActorId;
use serde::{Deserialize, Serialize};

use crate::identity::Role;

/// Who is signed in, on which device: `GET /api/me`, and the answer to a
/// finished enrollment or sign-in. The tablet keeps it to know who it is
/// while offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    pub handle: String,
    pub organisation: String,
    /// An [`OrganisationKind`](crate::identity::OrganisationKind)'s name.
    pub organisation_kind: String,
    /// A [`Role`]'s name.
    pub role: String,
    pub device_id: i64,
    /// The device's name.
    pub device: String,
    /// The device's automerge actor id (hex).
    pub actor_id: String,
}

impl Me {
    /// The role, if this build knows it.
    pub fn role(&self) -> Option<Role> {
        Role::parse(&self.role)
    }

    /// The actor id the device writes with; empty if the server sent no hex.
    pub fn actor(&self) -> ActorId {
        self.actor_id
            .parse()
            .unwrap_or_else(|_| ActorId::from(Vec::new()))
    }
}

/// `POST /api/sync-ticket`: a single-use ticket for the sync socket, for
/// clients that cannot send a cookie or bearer token with the upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ticket {
    pub ticket: String,
    pub expires_at: i64,
}

/// `POST /api/auth/register/start`: enroll a passkey, as a new person with an
/// invite or as a signed-in person adding a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegisterStart {
    /// The invite secret; absent when a signed-in person adds a device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invite: Option<String>,
    /// The handle the new person chooses (with an invite).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    pub device_name: String,
}

/// `POST /api/auth/login/start`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginStart {
    /// Sign in as this person; without it, the authenticator offers its
    /// discoverable credentials (usernameless sign-in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
}

/// The answer to starting a passkey ceremony: the options for the
/// authenticator (WebAuthn's JSON), and the id to finish it by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CeremonyStart<Options> {
    pub challenge_id: String,
    pub options: Options,
}

/// `POST /api/auth/register/finish` and `/api/auth/login/finish`: the
/// authenticator's answer (WebAuthn's JSON) to the ceremony `challenge_id`
/// started. The server reads the credential as webauthn-rs's type; core does
/// not depend on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CeremonyFinish<Credential> {
    pub challenge_id: String,
    pub credential: Credential,
}

/// `POST /api/auth/logout`; an empty body signs out this session only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Logout {
    /// End every session of this person, on every device.
    #[serde(default, skip_serializing_if = "is_false")]
    pub everywhere: bool,
}

fn is_false(value: &bool) -> bool {
    !value
}

/// The answer to [`Logout`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedOut {
    pub sessions_ended: u64,
}

/// One of the signed-in person's devices, in `GET /api/devices`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    pub id: i64,
    pub name: String,
    pub actor_id: String,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The device that asked.
    pub this_device: bool,
}

/// The answer to `POST /api/devices/{id}/revoke`: false if it already was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revoked {
    pub revoked: bool,
}

/// `POST /api/admin/invites`: invite a person to an organisation in a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewInvite {
    pub organisation: String,
    /// A [`Role`]'s name.
    pub role: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_hours: Option<u32>,
}

/// The answer to [`NewInvite`]: the link to enroll by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InviteLink {
    pub url: String,
    pub expires_at: i64,
}

/// One entry of the audit log, in `GET /api/audit?after=&limit=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditItem {
    pub seq: i64,
    pub at: i64,
    pub user_id: Option<i64>,
    pub device_id: Option<i64>,
    pub organisation_id: Option<i64>,
    pub action: String,
    pub case_id: Option<i64>,
    pub compartment: Option<String>,
    pub via: String,
    pub detail: String,
    pub hash: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn me() -> Me {
        Me {
            handle: "ann".into(),
            organisation: "Gemeente Zwolle".into(),
            organisation_kind: "municipality".into(),
            role: "case_director".into(),
            device_id: 3,
            device: "tablet".into(),
            actor_id: "0a0b".into(),
        }
    }

    #[test]
    fn me_is_camel_case_and_reads_back() {
        let value = serde_json::to_value(me()).unwrap();
        assert_eq!(
            value,
            json!({
                "handle": "ann",
                "organisation": "Gemeente Zwolle",
                "organisationKind": "municipality",
                "role": "case_director",
                "deviceId": 3,
                "device": "tablet",
                "actorId": "0a0b",
            })
        );
        let back: Me = serde_json::from_value(value).unwrap();
        assert_eq!(back, me());
        assert_eq!(back.role(), Some(Role::CaseDirector));
        assert_eq!(back.actor(), ActorId::from(vec![0x0a, 0x0b]));
    }

    #[test]
    fn a_me_with_an_unknown_role_or_bad_actor_still_reads() {
        let me = Me {
            role: "astronaut".into(),
            actor_id: "not hex".into(),
            ..me()
        };
        assert_eq!(me.role(), None);
        assert_eq!(me.actor(), ActorId::from(Vec::new()));
    }

    #[test]
    fn empty_requests_send_empty_objects() {
        assert_eq!(
            serde_json::to_value(LoginStart::default()).unwrap(),
            json!({})
        );
        assert_eq!(serde_json::to_value(Logout::default()).unwrap(), json!({}));
        assert_eq!(
            serde_json::to_value(Logout { everywhere: true }).unwrap(),
            json!({"everywhere": true})
        );
        let finish = CeremonyFinish {
            challenge_id: "c".into(),
            credential: json!({"id": "x"}),
        };
        assert_eq!(
            serde_json::to_value(&finish).unwrap(),
            json!({"challengeId": "c", "credential": {"id": "x"}})
        );
    }

    #[test]
    fn small_answers_are_camel_case() {
        let pins = [
            (
                serde_json::to_value(LoggedOut { sessions_ended: 2 }).unwrap(),
                json!({"sessionsEnded": 2}),
            ),
            (
                serde_json::to_value(Revoked { revoked: true }).unwrap(),
                json!({"revoked": true}),
            ),
            (
                serde_json::to_value(Ticket {
                    ticket: "vws_x".into(),
                    expires_at: 5,
                })
                .unwrap(),
                json!({"ticket": "vws_x", "expiresAt": 5}),
            ),
            (
                serde_json::to_value(InviteLink {
                    url: "https://x/enroll#invite=y".into(),
                    expires_at: 6,
                })
                .unwrap(),
                json!({"url": "https://x/enroll#invite=y", "expiresAt": 6}),
            ),
        ];
        for (value, pinned) in pins {
            assert_eq!(value, pinned);
        }
    }

    #[test]
    fn a_device_keeps_its_nulls() {
        let device = Device {
            id: 1,
            name: "tablet".into(),
            actor_id: "ab".into(),
            created_at: 2,
            last_seen_at: None,
            revoked_at: Some(4),
            this_device: true,
        };
        assert_eq!(
            serde_json::to_value(&device).unwrap(),
            json!({
                "id": 1,
                "name": "tablet",
                "actorId": "ab",
                "createdAt": 2,
                "lastSeenAt": null,
                "revokedAt": 4,
                "thisDevice": true,
            })
        );
    }
}
