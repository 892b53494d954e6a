//! The automerge-repo WebSocket wire protocol, version "1": one CBOR map per
//! binary frame. Encoding and decoding only; sessions live in `session`.
//!
//! Field names follow automerge-repo's `messages.ts`; these types are a wire
//! contract, pinned by the tests at the bottom of this file.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::DocumentId;

/// The only protocol version this implementation speaks.
pub const PROTOCOL_VERSION: &str = "1";

/// A peer id as chosen by the peer itself (automerge-repo makes random ones).
pub type PeerId = String;

/// What a peer says about itself in the handshake.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_ephemeral: Option<bool>,
}

/// Heads a peer reports for one storage id in `remote-heads-changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadsAt {
    pub heads: Vec<String>,
    pub timestamp: f64,
}

/// One protocol message. Unknown fields are ignored, as automerge-repo does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Message {
    #[serde(rename_all = "camelCase")]
    Join {
        sender_id: PeerId,
        #[serde(default)]
        peer_metadata: PeerMetadata,
        supported_protocol_versions: Vec<String>,
    },
    #[serde(rename_all = "camelCase")]
    Peer {
        sender_id: PeerId,
        target_id: PeerId,
        #[serde(default)]
        peer_metadata: PeerMetadata,
        selected_protocol_version: String,
    },
    #[serde(rename_all = "camelCase")]
    Error {
        sender_id: PeerId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target_id: Option<PeerId>,
        message: String,
    },
    #[serde(rename_all = "camelCase")]
    Request {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: String,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    #[serde(rename_all = "camelCase")]
    Sync {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: String,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    #[serde(rename_all = "camelCase")]
    DocUnavailable {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: String,
    },
    #[serde(rename_all = "camelCase")]
    Ephemeral {
        sender_id: PeerId,
        target_id: PeerId,
        count: u64,
        session_id: String,
        document_id: String,
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
    },
    #[serde(rename_all = "camelCase")]
    RemoteSubscriptionChange {
        sender_id: PeerId,
        target_id: PeerId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        add: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        remove: Option<Vec<String>>,
    },
    #[serde(rename_all = "camelCase")]
    RemoteHeadsChanged {
        sender_id: PeerId,
        target_id: PeerId,
        document_id: String,
        new_heads: BTreeMap<String, HeadsAt>,
    },
}

/// The message types this codec knows, by their wire name.
pub const MESSAGE_TYPES: [&str; 9] = [
    "join",
    "peer",
    "error",
    "request",
    "sync",
    "doc-unavailable",
    "ephemeral",
    "remote-subscription-change",
    "remote-heads-changed",
];

/// Why a frame is not a protocol message. Each variant is one clear reason a
/// peer can be told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("frame is not valid CBOR")]
    Cbor,
    #[error("frame has trailing bytes after the CBOR message")]
    TrailingBytes,
    #[error("message is not a CBOR map with a string \"type\"")]
    NotAMessage,
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    #[error("malformed {kind:?} message: {reason}")]
    Malformed { kind: String, reason: String },
}

impl Message {
    /// Decodes one binary frame.
    pub fn decode(frame: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = frame;
        let value: ciborium::Value =
            ciborium::from_reader(&mut reader).map_err(|_| DecodeError::Cbor)?;
        if !reader.is_empty() {
            return Err(DecodeError::TrailingBytes);
        }
        let kind = value
            .as_map()
            .and_then(|entries| {
                entries
                    .iter()
                    .find(|(k, _)| k.as_text() == Some("type"))
                    .and_then(|(_, v)| v.as_text())
            })
            .ok_or(DecodeError::NotAMessage)?
            .to_owned();
        if !MESSAGE_TYPES.contains(&kind.as_str()) {
            return Err(DecodeError::UnknownType(kind));
        }
        value
            .deserialized()
            .map_err(|e: ciborium::value::Error| DecodeError::Malformed {
                kind,
                reason: e.to_string(),
            })
    }

    /// Encodes this message as one binary frame.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        // Writing into a Vec cannot fail, and every field serialises to CBOR.
        ciborium::into_writer(self, &mut out).expect("a message always encodes to CBOR");
        out
    }

    /// The wire name of this message's type.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Join { .. } => "join",
            Message::Peer { .. } => "peer",
            Message::Error { .. } => "error",
            Message::Request { .. } => "request",
            Message::Sync { .. } => "sync",
            Message::DocUnavailable { .. } => "doc-unavailable",
            Message::Ephemeral { .. } => "ephemeral",
            Message::RemoteSubscriptionChange { .. } => "remote-subscription-change",
            Message::RemoteHeadsChanged { .. } => "remote-heads-changed",
        }
    }

    /// The document a message is about, if any.
    pub fn document_id(&self) -> Option<Result<DocumentId, crate::DocumentIdError>> {
        match self {
            Message::Request { document_id, .. }
            | Message::Sync { document_id, .. }
            | Message::DocUnavailable { document_id, .. }
            | Message::Ephemeral { document_id, .. }
            | Message::RemoteHeadsChanged { document_id, .. } => Some(document_id.parse()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn every_message_round_trips() {
        let doc = "2Uvk9RHdtydqSxzeiUTibnpkXWbc".to_owned();
        let messages = vec![
            Message::Join {
                sender_id: "a".into(),
                peer_metadata: PeerMetadata {
                    storage_id: Some("s".into()),
                    is_ephemeral: Some(false),
                },
                supported_protocol_versions: vec!["1".into()],
            },
            Message::Peer {
                sender_id: "b".into(),
                target_id: "a".into(),
                peer_metadata: PeerMetadata::default(),
                selected_protocol_version: "1".into(),
            },
            Message::Error {
                sender_id: "b".into(),
                target_id: Some("a".into()),
                message: "no".into(),
            },
            Message::Request {
                sender_id: "a".into(),
                target_id: "b".into(),
                document_id: doc.clone(),
                data: vec![0x42, 1, 2],
            },
            Message::Sync {
                sender_id: "a".into(),
                target_id: "b".into(),
                document_id: doc.clone(),
                data: vec![0x42],
            },
            Message::DocUnavailable {
                sender_id: "b".into(),
                target_id: "a".into(),
                document_id: doc.clone(),
            },
            Message::Ephemeral {
                sender_id: "a".into(),
                target_id: "b".into(),
                count: 3,
                session_id: "x".into(),
                document_id: doc.clone(),
                data: vec![1],
            },
            Message::RemoteSubscriptionChange {
                sender_id: "a".into(),
                target_id: "b".into(),
                add: Some(vec!["s".into()]),
                remove: None,
            },
            Message::RemoteHeadsChanged {
                sender_id: "a".into(),
                target_id: "b".into(),
                document_id: doc,
                new_heads: BTreeMap::from([(
                    "s".into(),
                    HeadsAt {
                        heads: vec!["h".into()],
                        timestamp: 1.0,
                    },
                )]),
            },
        ];
        for message in messages {
            let decoded = Message::decode(&message.encode()).unwrap();
            assert_eq!(decoded, message);
            assert!(MESSAGE_TYPES.contains(&message.kind()));
        }
    }

    #[test]
    fn pins_the_encoding_of_a_sync_message() {
        let message = Message::Sync {
            sender_id: "a".into(),
            target_id: "b".into(),
            document_id: "d".into(),
            data: vec![0x42],
        };
        // {"type":"sync","senderId":"a","targetId":"b","documentId":"d","data":h'42'}
        // `data` is a CBOR byte string (major type 2), as cbor-x writes a Uint8Array.
        let expected = [
            "a5",                     // map of 5
            "6474797065",             // "type"
            "6473796e63",             // "sync"
            "6873656e6465724964",     // "senderId"
            "6161",                   // "a"
            "687461726765744964",     // "targetId"
            "6162",                   // "b"
            "6a646f63756d656e744964", // "documentId"
            "6164",                   // "d"
            "6464617461",             // "data"
            "4142",                   // bytes h'42'
        ]
        .concat();
        assert_eq!(hex(&message.encode()), expected);
    }

    #[test]
    fn refuses_what_is_not_a_message() {
        assert_eq!(Message::decode(&[0xff, 0x00]), Err(DecodeError::Cbor));
        assert_eq!(Message::decode(&[]), Err(DecodeError::Cbor));
        // A CBOR integer, not a map.
        assert_eq!(Message::decode(&[0x01]), Err(DecodeError::NotAMessage));
        // {"type": "gossip"}
        let mut frame = Vec::new();
        ciborium::into_writer(&BTreeMap::from([("type", "gossip")]), &mut frame).unwrap();
        assert_eq!(
            Message::decode(&frame),
            Err(DecodeError::UnknownType("gossip".into()))
        );
        // A sync message without data.
        let mut frame = Vec::new();
        ciborium::into_writer(
            &BTreeMap::from([
                ("type", "sync"),
                ("senderId", "a"),
                ("targetId", "b"),
                ("documentId", "d"),
            ]),
            &mut frame,
        )
        .unwrap();
        assert!(matches!(
            Message::decode(&frame),
            Err(DecodeError::Malformed { kind, .. }) if kind == "sync"
        ));
        let mut two = Message::Error {
            sender_id: "a".into(),
            target_id: None,
            message: "m".into(),
        }
        .encode();
        two.push(0x01);
        assert_eq!(Message::decode(&two), Err(DecodeError::TrailingBytes));
    }

    #[test]
    fn ignores_unknown_fields_and_missing_metadata() {
        let mut frame = Vec::new();
        ciborium::into_writer(
            &ciborium::Value::Map(vec![
                ("type".into(), "join".into()),
                ("senderId".into(), "peer-1".into()),
                (
                    "supportedProtocolVersions".into(),
                    ciborium::Value::Array(vec!["1".into()]),
                ),
                ("futureField".into(), 7.into()),
            ]),
            &mut frame,
        )
        .unwrap();
        assert_eq!(
            Message::decode(&frame).unwrap(),
            Message::Join {
                sender_id: "peer-1".into(),
                peer_metadata: PeerMetadata::default(),
                supported_protocol_versions: vec!["1".into()],
            }
        );
    }
}
