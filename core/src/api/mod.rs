//! The wire contract between the server and its clients beyond the
//! automerge-repo protocol: every JSON body of the API, how it answers an
//! error, why the sync socket closes, and the refusals sent over it. The
//! server writes these and the tablet reads them through the same types, so
//! the two cannot drift apart; tests pin their JSON.
//!
//! The bodies are grouped by feature: [`cases`], [`identity`] (people,
//! devices, sessions, audit), [`direction`], [`oversight`] (radar, monitor)
//! and [`signals`]. Names of roles, kinds and statuses travel as strings, so
//! a client reads an answer that names one it does not know yet.

pub mod cases;
pub mod direction;
pub mod identity;
pub mod oversight;
pub mod signals;

use serde::{Deserialize, Serialize};

use crate::DocumentId;

/// The body of every API error: a stable code for programs, a sentence for
/// people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
}

/// Why the server closed a sync socket: the close frame's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseCode {
    /// The server is shutting down; connect again later.
    GoingAway,
    /// The peer broke the protocol (no `join` first, an unknown version).
    Protocol,
    /// The peer broke a limit of use (it reads too slowly, say).
    Policy,
    /// A frame was larger than the server accepts.
    TooBig,
    /// The browser session was signed out; sign in again.
    SignedOut,
    /// The device was revoked; wipe its local data.
    DeviceRevoked,
}

impl CloseCode {
    const ALL: [CloseCode; 6] = [
        CloseCode::GoingAway,
        CloseCode::Protocol,
        CloseCode::Policy,
        CloseCode::TooBig,
        CloseCode::SignedOut,
        CloseCode::DeviceRevoked,
    ];

    /// The number in the close frame (RFC 6455; 4000–4999 are ours).
    pub const fn code(self) -> u16 {
        match self {
            CloseCode::GoingAway => 1001,
            CloseCode::Protocol => 1002,
            CloseCode::Policy => 1008,
            CloseCode::TooBig => 1009,
            CloseCode::SignedOut => 4401,
            CloseCode::DeviceRevoked => 4403,
        }
    }

    /// The close code a number stands for, if it is one of ours.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// The `error` message sent before closing a revoked device's socket, for
/// clients that read messages rather than close codes; it starts with
/// [`DEVICE_REVOKED_PREFIX`].
pub const DEVICE_REVOKED_MESSAGE: &str =
    "device-revoked: this device was revoked; wipe its local data";
/// How a client recognises [`DEVICE_REVOKED_MESSAGE`].
pub const DEVICE_REVOKED_PREFIX: &str = "device-revoked";
/// The `error` message sent before closing a signed-out session's socket.
pub const SIGNED_OUT_MESSAGE: &str = "signed-out: this session was signed out";
/// The `error` message sent before closing the socket of a session that
/// reached its end of life (`VELDWERK_SESSION_MAX_HOURS`).
pub const SESSION_EXPIRED_MESSAGE: &str = "signed-out: this session has expired; sign in again";

/// The `error` message that tells a peer a change it sent was refused and
/// kept in quarantine: `change <hash> of document <id> is quarantined:
/// <reason>`. Clients in the wild read this text, so it stays as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineNotice {
    /// The refused change's hash (hex).
    pub hash: String,
    pub document_id: DocumentId,
    /// Why, as people read it; it ends with ` (and N more)` when more
    /// changes of the same sync message were refused.
    pub reason: String,
}

const QUARANTINED: &str = " is quarantined: ";

impl QuarantineNotice {
    /// The notice for the first of `count` changes refused from one sync
    /// message: one notice per message, however many were refused.
    pub fn first_of(hash: String, document_id: DocumentId, reason: &str, count: usize) -> Self {
        let reason = if count > 1 {
            format!("{reason} (and {} more)", count - 1)
        } else {
            reason.to_owned()
        };
        QuarantineNotice {
            hash,
            document_id,
            reason,
        }
    }

    /// The text sent in the `error` message.
    pub fn encode(&self) -> String {
        format!(
            "change {} of document {}{QUARANTINED}{}",
            self.hash, self.document_id, self.reason
        )
    }

    /// Reads an `error` message's text; `None` if it is not a quarantine notice.
    pub fn parse(message: &str) -> Option<Self> {
        let (head, reason) = message.split_once(QUARANTINED)?;
        let (hash, document_id) = head.strip_prefix("change ")?.split_once(" of document ")?;
        if hash.is_empty() || hash.contains(' ') {
            return None;
        }
        Some(QuarantineNotice {
            hash: hash.to_owned(),
            document_id: document_id.parse().ok()?,
            reason: reason.to_owned(),
        })
    }
}

/// The `error` message that tells a peer the server could not store, or
/// could not check, what it sent for a document just now: the database is
/// unavailable or full. Nothing of that sync message was accepted, so none
/// of it is in the heads the server reports; the peer keeps its changes and
/// sends them again later, starting that document's sync over (the server
/// has forgotten what it was told). `try-again: document <id>: <reason>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TryAgainNotice {
    pub document_id: DocumentId,
    /// Why, as people read it.
    pub reason: String,
}

const TRY_AGAIN: &str = "try-again: document ";

impl TryAgainNotice {
    pub fn new(document_id: DocumentId, reason: &str) -> Self {
        let reason = reason.to_owned();
        TryAgainNotice {
            document_id,
            reason,
        }
    }

    /// The text sent in the `error` message.
    pub fn encode(&self) -> String {
        format!("{TRY_AGAIN}{}: {}", self.document_id, self.reason)
    }

    /// Reads an `error` message's text; `None` if it is not this notice.
    pub fn parse(message: &str) -> Option<Self> {
        let (document_id, reason) = message.strip_prefix(TRY_AGAIN)?.split_once(": ")?;
        Some(TryAgainNotice {
            document_id: document_id.parse().ok()?,
            reason: reason.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_try_again_notice_is_pinned_and_read_back() {
        let notice = TryAgainNotice {
            document_id: document(),
            reason: "the database is unavailable: nothing was stored".into(),
        };
        let text = notice.encode();
        assert_eq!(
            text,
            format!(
                "try-again: document {}: the database is unavailable: nothing was stored",
                document()
            )
        );
        assert_eq!(TryAgainNotice::parse(&text), Some(notice));
        assert_eq!(
            TryAgainNotice::parse(&format!("document {}: no", document())),
            None
        );
        assert_eq!(
            TryAgainNotice::parse("try-again: document nonsense: no"),
            None
        );
    }

    #[test]
    fn close_codes_are_pinned_and_read_back() {
        let codes: Vec<u16> = CloseCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(codes, [1001, 1002, 1008, 1009, 4401, 4403]);
        for code in CloseCode::ALL {
            assert_eq!(CloseCode::from_code(code.code()), Some(code));
        }
        assert_eq!(CloseCode::from_code(1000), None);
        assert_eq!(CloseCode::from_code(4000), None);
    }

    #[test]
    fn an_error_body_has_a_code_and_a_message() {
        let body = ErrorBody {
            code: "not_found".into(),
            message: "case not found".into(),
        };
        let json = serde_json::to_string(&body).unwrap();
        assert_eq!(json, r#"{"code":"not_found","message":"case not found"}"#);
        assert_eq!(serde_json::from_str::<ErrorBody>(&json).unwrap(), body);
    }

    #[test]
    fn the_revocation_message_carries_its_prefix() {
        assert!(DEVICE_REVOKED_MESSAGE.starts_with(DEVICE_REVOKED_PREFIX));
    }

    fn document() -> DocumentId {
        DocumentId::from_random_bytes([7; 16])
    }

    #[test]
    fn a_quarantine_notice_reads_back_what_it_encodes() {
        let notice = QuarantineNotice::first_of(
            "ab12".into(),
            document(),
            "the change belongs to another device",
            3,
        );
        assert_eq!(
            notice.reason,
            "the change belongs to another device (and 2 more)"
        );
        assert_eq!(QuarantineNotice::parse(&notice.encode()), Some(notice));
        let single = QuarantineNotice::first_of("cd".into(), document(), "no: really", 1);
        assert_eq!(single.reason, "no: really");
        assert_eq!(QuarantineNotice::parse(&single.encode()), Some(single));
    }

    #[test]
    fn a_quarantine_notice_is_the_sentence_clients_read() {
        let id = document();
        let text = format!(
            "change 5f3a of document {id} is quarantined: /visits/v1/notes is not yours to write (and 1 more)"
        );
        let notice = QuarantineNotice::parse(&text).unwrap();
        assert_eq!(notice.hash, "5f3a");
        assert_eq!(notice.document_id, id);
        assert_eq!(
            notice.reason,
            "/visits/v1/notes is not yours to write (and 1 more)"
        );
        assert_eq!(notice.encode(), text);
    }

    #[test]
    fn other_errors_are_no_quarantine_notice() {
        let id = document();
        for text in [
            DEVICE_REVOKED_MESSAGE.to_owned(),
            format!("document {id} is not a valid case record and was quarantined: no label"),
            "change ab of document nonsense is quarantined: no".to_owned(),
            format!("change of document {id} is quarantined: no"),
        ] {
            assert_eq!(QuarantineNotice::parse(&text), None, "{text}");
        }
    }
}
