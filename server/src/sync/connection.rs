//! One WebSocket connection speaking the automerge-repo protocol: handshake,
//! frame checks, access checks on every message, and the hand-off of sync
//! payloads to the document registry. A misbehaving peer gets an `error`
//! message with the reason; other connections never notice.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket};
use futures_util::{SinkExt, StreamExt};
use veldwerk_core::DocumentId;
use veldwerk_core::api::{
    CloseCode, DEVICE_REVOKED_MESSAGE, SESSION_EXPIRED_MESSAGE, SIGNED_OUT_MESSAGE, TryAgainNotice,
};
use veldwerk_core::identity::{Compartment, Standing};
use veldwerk_core::protocol::{Message, PROTOCOL_VERSION, PeerId, PeerMetadata};

mod access;

use access::Access;

use super::docs::{ConnectionId, Creation, Sender};
use super::live::PendingDoc;
use super::outbox::{Outbox, Outgoing};
use super::rate::Rate;
use crate::AppState;
use crate::metrics::Metrics;
use crate::store::Principal;

static NEXT_CONNECTION: AtomicU64 = AtomicU64::new(1);

/// Queued messages sent to a peer in one go before its socket is read again.
const MAX_BATCH: usize = 256;

/// How long one message may take to reach a peer's socket.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// New households one connection may negotiate at once.
const MAX_PENDING: usize = 32;
struct Connection {
    id: ConnectionId,
    state: AppState,
    principal: Principal,
    outbox: Outbox,
    peer: Option<PeerId>,
    access: HashMap<DocumentId, Access>,
    open: HashSet<DocumentId>,
    /// Documents whose first read by this connection is in the audit log.
    audited: HashSet<DocumentId>,
    pending: HashMap<DocumentId, PendingDoc>,
    own_actors: HashSet<String>,
    ephemeral: Rate,
    /// Requests for documents this connection does not have open yet.
    document_requests: Rate,
}

/// Why the server ends a connection.
struct Close(CloseCode, String);

/// Tells a revoked device to wipe its local data, and closes.
pub async fn refuse_revoked(mut socket: WebSocket) {
    let message = Message::Error {
        sender_id: "veldwerk-server".into(),
        target_id: None,
        message: DEVICE_REVOKED_MESSAGE.into(),
    };
    let _ = socket
        .send(WsMessage::Binary(message.encode().into()))
        .await;
    let frame = CloseFrame {
        code: CloseCode::DeviceRevoked.code(),
        reason: "device revoked; wipe local data".into(),
    };
    let _ = socket.send(WsMessage::Close(Some(frame))).await;
}

/// The browser session a cookie-authenticated connection lives by: signing
/// out ends the connection at once, and so does the session's end of life
/// (checked at every ping, by the server's clock).
#[derive(Debug, Clone)]
pub struct LiveSession {
    /// The hash of the session's token.
    pub hash: String,
    pub expires_at: i64,
}

/// Runs one connection until either side closes it or the server shuts down.
///
/// This future lives as long as the connection, and an async fn is as large
/// as the largest future it awaits: the handling of a frame (down to the
/// store's queries) made it 21 KiB for every idle connection. So what is
/// awaited here beyond the socket and the channels is boxed, and takes memory
/// only while it runs.
pub async fn run(
    socket: WebSocket,
    state: AppState,
    principal: Principal,
    session: Option<LiveSession>,
) {
    let mut revocations = state.revocations.subscribe();
    let mut session_ends = state.session_ends.subscribe();
    let mut team_changes = state.team_changes.subscribe();
    // A revocation between authentication and subscribing would be missed.
    if !matches!(
        Box::pin(state.store.device_principal(principal.device_id)).await,
        Ok(crate::store::Authn::Valid(_))
    ) {
        refuse_revoked(socket).await;
        return;
    }
    let id = NEXT_CONNECTION.fetch_add(1, Ordering::Relaxed);
    let queue_limit = state.config.max_queued_bytes;
    // A peer that vanished without closing (half-open TCP) sends nothing,
    // not even pongs: after three pings unanswered, its connection ends.
    let ping_every = state.config.ping_interval;
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut heard = tokio::time::Instant::now();
    let (outbox, mut outgoing, too_slow) = Outbox::new(queue_limit);
    let metrics = state.metrics.clone();
    Metrics::inc(&metrics.connections_total);
    metrics.connections_open.fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        connection = id,
        device = principal.device_id,
        "sync connection opened"
    );

    let (mut sink, mut stream) = socket.split();
    let mut shutdown = state.shutdown.clone();
    let device_id = principal.device_id;
    let max_frame = state.config.max_frame_bytes;
    let ephemeral = Rate::new(
        state.config.ephemeral_per_sec,
        state.config.ephemeral_per_sec as usize,
    );
    let document_requests = Rate::new(
        state.config.document_requests_per_sec,
        state.config.max_open_documents,
    );
    let mut connection = Connection {
        id,
        own_actors: HashSet::from([principal.actor_id.clone()]),
        state,
        principal,
        outbox,
        peer: None,
        access: HashMap::new(),
        open: HashSet::new(),
        audited: HashSet::new(),
        pending: HashMap::new(),
        ephemeral,
        document_requests,
    };

    let close = loop {
        tokio::select! {
            frame = stream.next() => {
                let frame = match frame {
                    None => break None,
                    Some(Err(e)) => {
                        tracing::debug!(connection = id, error = %e, "socket error");
                        break Some(Close(CloseCode::TooBig, "frame refused".into()));
                    }
                    Some(Ok(frame)) => frame,
                };
                heard = tokio::time::Instant::now();
                match frame {
                    WsMessage::Binary(bytes) => {
                        Metrics::inc(&metrics.frames_received_total);
                        if bytes.len() > max_frame {
                            Metrics::inc(&metrics.frames_refused_total);
                            let reason = format!("frame of {} bytes exceeds the limit of {max_frame} bytes", bytes.len());
                            connection.error(reason.clone());
                            break Some(Close(CloseCode::TooBig, reason));
                        }
                        if let Err(close) = Box::pin(connection.handle_frame(&bytes)).await {
                            break Some(close);
                        }
                    }
                    WsMessage::Text(_) => {
                        Metrics::inc(&metrics.frames_refused_total);
                        connection.error("text frames are not part of the protocol; send CBOR in binary frames".into());
                    }
                    WsMessage::Close(_) => break None,
                    WsMessage::Ping(_) | WsMessage::Pong(_) => {}
                }
            }
            Some(message) = outgoing.recv() => {
                // A peer that stops reading must not hold this connection (and
                // its queued messages) forever.
                let sent = tokio::time::timeout(SEND_TIMEOUT, Box::pin(send_queued(&mut sink, message, &mut outgoing))).await;
                if !matches!(sent, Ok(Ok(()))) {
                    tracing::info!(connection = id, "peer stopped reading; closing");
                    break None;
                }
            }
            _ = pings.tick() => {
                if session.as_ref().is_some_and(|s| connection.state.now() >= s.expires_at) {
                    Metrics::inc(&metrics.expired_sessions_closed_total);
                    connection.error(SESSION_EXPIRED_MESSAGE.into());
                    break Some(Close(CloseCode::SignedOut, "session expired".into()));
                }
                if heard.elapsed() >= ping_every * 3 {
                    Metrics::inc(&metrics.silent_peers_closed_total);
                    tracing::info!(connection = id, "nothing heard from the peer for three pings; closing");
                    break None;
                }
                let ping = tokio::time::timeout(SEND_TIMEOUT, sink.send(WsMessage::Ping(Default::default()))).await;
                if !matches!(ping, Ok(Ok(()))) {
                    tracing::info!(connection = id, "peer stopped reading; closing");
                    break None;
                }
            }
            () = too_slow.notified() => {
                Metrics::inc(&metrics.slow_readers_closed_total);
                tracing::info!(connection = id, queued = outgoing.queued(), "peer reads too slowly; closing");
                break Some(Close(CloseCode::Policy, format!("more than {queue_limit} bytes queued unread (VELDWERK_MAX_QUEUED_BYTES)")));
            }
            _ = shutdown.changed() => {
                break Some(Close(CloseCode::GoingAway, "server is shutting down".into()));
            }
            _ = team_changes.recv() => Box::pin(connection.check_access_again()).await,
            ended = session_ends.recv(), if session.is_some() => {
                let ours = match ended {
                    Ok(crate::SessionEnd::Session(hash)) => session.as_ref().is_some_and(|s| s.hash == hash),
                    Ok(crate::SessionEnd::User(user)) => user == connection.principal.user_id,
                    // Missed some: one may have been ours. Ask the store, and
                    // close unless it says the session is still live.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        Metrics::inc(&metrics.session_rechecks_total);
                        let hash = session.as_ref().map_or("", |s| s.hash.as_str());
                        !matches!(
                            Box::pin(connection.state.store.session_is_live(hash, connection.state.now())).await,
                            Ok(true)
                        )
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => true,
                };
                if ours {
                    connection.error(SIGNED_OUT_MESSAGE.into());
                    break Some(Close(CloseCode::SignedOut, "signed out".into()));
                }
            }
            revoked = revocations.recv() => {
                let this_device = match revoked {
                    Ok(revoked) => revoked == device_id,
                    // Missed some: ask the store.
                    Err(_) => !matches!(
                        Box::pin(connection.state.store.device_principal(device_id)).await,
                        Ok(crate::store::Authn::Valid(_))
                    ),
                };
                if this_device {
                    connection.error(DEVICE_REVOKED_MESSAGE.into());
                    break Some(Close(CloseCode::DeviceRevoked, "device revoked; wipe local data".into()));
                }
            }
        }
    };

    // Deliver what is queued (an error explaining the close, say), then close;
    // bounded, for a peer that no longer reads.
    let farewell = async {
        while let Some(message) = outgoing.try_recv() {
            if sink.send(WsMessage::Binary(message.into())).await.is_err() {
                return;
            }
        }
        if let Some(Close(code, reason)) = close {
            let frame = CloseFrame {
                code: code.code(),
                reason: reason.chars().take(120).collect::<String>().into(),
            };
            let _ = sink.send(WsMessage::Close(Some(frame))).await;
        }
        let _ = sink.close().await;
    };
    let _ = tokio::time::timeout(SEND_TIMEOUT, Box::pin(farewell)).await;
    Box::pin(
        connection
            .state
            .docs
            .detach(id, connection.open.iter().copied()),
    )
    .await;
    metrics.connections_open.fetch_sub(1, Ordering::Relaxed);
    tracing::info!(connection = id, "sync connection closed");
}

/// Sends a message and what is queued behind it (up to a batch), flushing
/// once: a peer that reads everything keeps up however fast it writes.
async fn send_queued(
    sink: &mut futures_util::stream::SplitSink<WebSocket, WsMessage>,
    first: Box<[u8]>,
    outgoing: &mut Outgoing,
) -> Result<(), axum::Error> {
    sink.feed(WsMessage::Binary(first.into())).await?;
    for _ in 1..MAX_BATCH {
        let Some(next) = outgoing.try_recv() else {
            break;
        };
        sink.feed(WsMessage::Binary(next.into())).await?;
    }
    sink.flush().await
}

impl Connection {
    fn server_peer(&self) -> PeerId {
        self.state.server_peer.clone()
    }

    fn error(&self, message: String) {
        self.outbox.send(Message::Error {
            sender_id: self.server_peer(),
            target_id: self.peer.clone(),
            message,
        });
    }

    fn refuse(&self, message: String) {
        Metrics::inc(&self.state.metrics.frames_refused_total);
        self.error(message);
    }

    fn unavailable(&self, peer: &PeerId, id: DocumentId) {
        self.outbox.send(Message::DocUnavailable {
            sender_id: self.server_peer(),
            target_id: peer.clone(),
            document_id: id.to_string(),
        });
    }

    async fn handle_frame(&mut self, frame: &[u8]) -> Result<(), Close> {
        let message = match Message::decode(frame) {
            Ok(message) => message,
            Err(e) => {
                self.refuse(format!("{e}"));
                return Ok(());
            }
        };
        let Some(peer) = self.peer.clone() else {
            return self.handshake(message);
        };
        match message {
            Message::Join { .. } => self.refuse("already joined".into()),
            Message::Request {
                document_id, data, ..
            } => {
                self.sync(&peer, &document_id, &data, false).await;
            }
            Message::Sync {
                document_id, data, ..
            } => {
                self.sync(&peer, &document_id, &data, true).await;
            }
            Message::Ephemeral {
                ref document_id,
                ref sender_id,
                ref data,
                ..
            } if *sender_id == peer => {
                if !self.ephemeral_allowed(data.len()) {
                    return Ok(());
                }
                if let Ok(id) = document_id.parse::<DocumentId>()
                    && self.open.contains(&id)
                {
                    self.state.docs.relay_ephemeral(self.id, id, &message).await;
                }
            }
            // Gossip about other storage peers: this server keeps no such state.
            Message::RemoteSubscriptionChange { .. } | Message::RemoteHeadsChanged { .. } => {}
            Message::Ephemeral { .. } => {
                self.refuse("an ephemeral message must carry the sender's own peer id".into())
            }
            Message::DocUnavailable { .. } | Message::Error { .. } | Message::Peer { .. } => {}
        }
        Ok(())
    }

    /// Whether an ephemeral message of `len` bytes is within the limits of
    /// size and rate; the peer is told when it is not (for the rate, once a
    /// second, not once per message dropped).
    fn ephemeral_allowed(&mut self, len: usize) -> bool {
        let now = std::time::Instant::now();
        let config = &self.state.config;
        let (max_bytes, per_sec) = (config.max_ephemeral_bytes, config.ephemeral_per_sec);
        let refusal = if len > max_bytes {
            Some(format!(
                "ephemeral message of {len} bytes exceeds the limit of {max_bytes} bytes \
                 (VELDWERK_MAX_EPHEMERAL_BYTES); it was dropped"
            ))
        } else if !self.ephemeral.take(now) {
            self.ephemeral.tell(now).then(|| {
                format!(
                    "more than {per_sec} ephemeral messages a second \
                     (VELDWERK_EPHEMERAL_PER_SEC); they are dropped until the rate falls"
                )
            })
        } else {
            return true;
        };
        Metrics::inc(&self.state.metrics.ephemeral_refused_total);
        if let Some(refusal) = refusal {
            self.error(refusal);
        }
        false
    }

    fn handshake(&mut self, message: Message) -> Result<(), Close> {
        let Message::Join {
            sender_id,
            supported_protocol_versions,
            ..
        } = message
        else {
            let reason = format!("expected \"join\" first, got {:?}", message.kind());
            self.refuse(reason.clone());
            return Err(Close(CloseCode::Protocol, reason));
        };
        if !supported_protocol_versions
            .iter()
            .any(|v| v == PROTOCOL_VERSION)
        {
            let reason = format!(
                "unsupported protocol version(s) {supported_protocol_versions:?}; this server speaks {PROTOCOL_VERSION:?}"
            );
            self.refuse(reason.clone());
            return Err(Close(CloseCode::Protocol, reason));
        }
        self.peer = Some(sender_id.clone());
        self.outbox.send(Message::Peer {
            sender_id: self.server_peer(),
            target_id: sender_id,
            peer_metadata: PeerMetadata {
                storage_id: None,
                is_ephemeral: Some(false),
            },
            selected_protocol_version: PROTOCOL_VERSION.to_owned(),
        });
        Ok(())
    }

    async fn sync(&mut self, peer: &PeerId, document_id: &str, data: &[u8], is_sync: bool) {
        let Ok(id) = document_id.parse::<DocumentId>() else {
            self.refuse(format!("{document_id:?} is not a document id"));
            return;
        };
        if !self.open.contains(&id) && !self.pending.contains_key(&id) && !self.may_open() {
            return;
        }
        let access = match self.access(id, is_sync).await {
            Ok(access) => access,
            Err(()) => {
                self.try_again(
                    id,
                    "the database is unavailable: access could not be checked, \
                     so nothing of this message was accepted; send it again later",
                );
                return;
            }
        };
        if let Access::Granted {
            case_id,
            compartment,
            ..
        } = access
            && !self.audited.contains(&id)
        {
            // Recorded before anything of the document is sent: no
            // unaccounted read, even if the log cannot be written.
            if !self.audit_read(id, case_id, compartment).await {
                self.try_again(
                    id,
                    "this read could not be recorded in the audit log, \
                     so nothing was sent or accepted; send it again later",
                );
                return;
            }
            self.audited.insert(id);
        }
        if access == Access::Creatable
            && !self.pending.contains_key(&id)
            && self.pending.len() >= MAX_PENDING
        {
            self.error(format!(
                "at most {MAX_PENDING} new households may be negotiated at once"
            ));
            return;
        }
        let sender = Sender {
            connection: self.id,
            peer_id: peer,
            principal: &self.principal,
            outbox: &self.outbox,
            own_actors: &mut self.own_actors,
        };
        match access {
            Access::Unavailable => self.unavailable(peer, id),
            Access::Granted { standing, .. } => {
                match self.state.docs.receive(sender, standing, id, data).await {
                    Ok(true) => {
                        self.open.insert(id);
                    }
                    Ok(false) => {
                        self.access.remove(&id);
                        self.unavailable(peer, id);
                    }
                    Err(refusal) => {
                        self.open.insert(id);
                        self.report(id, refusal);
                    }
                }
            }
            Access::Creatable => {
                let mut pending = self.pending.remove(&id).unwrap_or_default();
                match self.state.docs.create(sender, id, &mut pending, data).await {
                    Ok(Creation::Pending) => {
                        self.pending.insert(id, pending);
                    }
                    Ok(Creation::Registered { case_id }) => {
                        tracing::info!(
                            case = case_id,
                            device = self.principal.device_id,
                            "case registered from an offline-created document"
                        );
                        let standing = Standing {
                            on_team: true,
                            directs: crate::sync::docs::directing_org(&self.principal).is_some(),
                        };
                        let granted = Access::Granted {
                            case_id,
                            compartment: Compartment::General,
                            standing,
                        };
                        self.access.insert(id, granted);
                        self.open.insert(id);
                    }
                    Ok(Creation::Refused { reasons }) => {
                        self.error(format!(
                            "document {id} is not a valid case record and was quarantined: {}",
                            reasons.join("; ")
                        ));
                        self.unavailable(peer, id);
                    }
                    Err(refusal) => self.report(id, refusal),
                }
            }
        }
    }

    /// Tells the peer nothing of its message for `id` was taken, and to send it again.
    fn try_again(&self, id: DocumentId, reason: &str) {
        Metrics::inc(&self.state.metrics.sync_not_stored_total);
        self.error(TryAgainNotice::new(id, reason).encode());
    }

    fn report(&self, id: DocumentId, refusal: super::docs::SyncRefusal) {
        use super::docs::SyncRefusal;
        match &refusal {
            SyncRefusal::Storage(e) => {
                tracing::error!(document = %id, error = %e, "could not store changes");
                self.try_again(id, &refusal.to_string());
                return;
            }
            SyncRefusal::Load(e) => {
                tracing::error!(document = %id, error = %e, "could not load document")
            }
            SyncRefusal::TooLarge { .. } => {}
            SyncRefusal::Payload(_) | SyncRefusal::Automerge(_) => {
                Metrics::inc(&self.state.metrics.frames_refused_total);
            }
        }
        self.error(format!("document {id}: {refusal}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn future_size<F, Fut>(_: F) -> usize
    where
        F: FnOnce(WebSocket, AppState, Principal, Option<LiveSession>) -> Fut,
    {
        std::mem::size_of::<Fut>()
    }

    /// Every idle connection holds this future: keep it small (see `run`).
    #[test]
    fn a_connection_future_stays_small() {
        let size = future_size(run);
        assert!(size <= 4096, "the connection future takes {size} bytes");
    }
}
