//! The client side of a connection to a sync server, sans-IO: it keeps the
//! handshake and per-document sessions, turns documents into outgoing
//! messages and incoming messages into events. Native test clients and the
//! tablet app drive it, each with their own socket.

pub mod engine;

use std::collections::HashMap;

use automerge::sync::SyncDoc;

use crate::DocumentId;
use crate::protocol::{Message, PROTOCOL_VERSION, PeerId, PeerMetadata};
use crate::session::{SyncError, SyncSession};

/// What an incoming message means for the client.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// The server accepted the handshake.
    Joined { server: PeerId },
    /// A sync payload for a document; pass it to [`ClientConnection::apply`].
    Sync { document: DocumentId, data: Vec<u8> },
    /// The server does not have the document, or may not give it to us.
    Unavailable { document: DocumentId },
    /// The server refused something; `message` says what.
    Error { message: String },
    /// Presence and gossip messages the client has no use for.
    Ignored,
}

/// Why an incoming message makes no sense to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("server sent {0:?} before the handshake completed")]
    NotJoined(&'static str),
    #[error("server selected protocol version {0:?}")]
    Version(String),
    #[error("server sent an invalid document id")]
    DocumentId,
}

/// One client's connection state.
#[derive(Debug)]
pub struct ClientConnection {
    peer_id: PeerId,
    server: Option<PeerId>,
    sessions: HashMap<DocumentId, SyncSession>,
}

impl ClientConnection {
    pub fn new(peer_id: impl Into<PeerId>) -> Self {
        Self {
            peer_id: peer_id.into(),
            server: None,
            sessions: HashMap::new(),
        }
    }

    /// The peer id this client joins with.
    pub fn peer_id(&self) -> &PeerId {
        &self.peer_id
    }

    /// The first message on a new socket.
    pub fn join(&self) -> Message {
        Message::Join {
            sender_id: self.peer_id.clone(),
            peer_metadata: PeerMetadata {
                storage_id: None,
                is_ephemeral: Some(false),
            },
            supported_protocol_versions: vec![PROTOCOL_VERSION.to_owned()],
        }
    }

    pub fn is_joined(&self) -> bool {
        self.server.is_some()
    }

    /// Forgets all per-document state, for a new socket after a disconnect.
    pub fn disconnected(&mut self) {
        self.server = None;
        self.sessions.clear();
    }

    /// Interprets one message from the server.
    pub fn handle(&mut self, message: Message) -> Result<Incoming, ClientError> {
        let kind = message.kind();
        match message {
            Message::Peer {
                sender_id,
                selected_protocol_version,
                ..
            } => {
                if selected_protocol_version != PROTOCOL_VERSION {
                    return Err(ClientError::Version(selected_protocol_version));
                }
                self.server = Some(sender_id.clone());
                Ok(Incoming::Joined { server: sender_id })
            }
            Message::Error { message, .. } => Ok(Incoming::Error { message }),
            _ if self.server.is_none() => Err(ClientError::NotJoined(kind)),
            Message::Sync {
                document_id, data, ..
            }
            | Message::Request {
                document_id, data, ..
            } => {
                let document = document_id.parse().map_err(|_| ClientError::DocumentId)?;
                Ok(Incoming::Sync { document, data })
            }
            Message::DocUnavailable { document_id, .. } => {
                let document = document_id.parse().map_err(|_| ClientError::DocumentId)?;
                Ok(Incoming::Unavailable { document })
            }
            _ => Ok(Incoming::Ignored),
        }
    }

    /// Applies a sync payload from the server to the local document.
    pub fn apply<D: SyncDoc>(
        &mut self,
        document: DocumentId,
        doc: &mut D,
        data: &[u8],
    ) -> Result<(), SyncError> {
        let message = SyncSession::decode(data)?;
        self.sessions
            .entry(document)
            .or_default()
            .receive(doc, message)
    }

    /// The message that brings the server up to date with `doc`, if one is due.
    /// A document the server has never seen from us is announced with `request`
    /// when we hold nothing of it ourselves, as automerge-repo does.
    pub fn sync<D: SyncDoc>(
        &mut self,
        document: DocumentId,
        doc: &D,
        have_content: bool,
    ) -> Option<Message> {
        let server = self.server.clone()?;
        let first = !self.sessions.contains_key(&document);
        let data = self.sessions.entry(document).or_default().generate(doc)?;
        let (sender_id, target_id, document_id) =
            (self.peer_id.clone(), server, document.to_string());
        Some(if first && !have_content {
            Message::Request {
                sender_id,
                target_id,
                document_id,
                data,
            }
        } else {
            Message::Sync {
                sender_id,
                target_id,
                document_id,
                data,
            }
        })
    }

    /// Forgets the sync state of one document, so the next [`Self::sync`]
    /// starts over (after the local copy was replaced).
    pub fn reset(&mut self, document: &DocumentId) {
        self.sessions.remove(document);
    }

    /// The heads the server last reported for a document.
    pub fn server_heads(&self, document: &DocumentId) -> Option<&[automerge::ChangeHash]> {
        self.sessions
            .get(document)
            .and_then(SyncSession::their_heads)
    }
}
