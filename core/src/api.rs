//! The wire contract between the server and its clients beyond the
//! automerge-repo protocol: how the API answers an error, and why the sync
//! socket closes. The server writes these and the tablet reads them through
//! the same types, so the two cannot drift apart.

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
