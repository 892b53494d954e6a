//! The load generator's client: one WebSocket connection speaking the automerge-repo protocol
//! through `veldwerk_core::client`, counting every payload byte it sends and receives. Both servers
//! are driven, and measured, by exactly this code.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use automerge::{AutoCommit, ChangeHash};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use veldwerk_core::DocumentId;
use veldwerk_core::client::{ClientConnection, Incoming, engine};
use veldwerk_core::protocol::Message;

/// Where a server takes sync connections, and the bearer token it wants (the reference wants none).
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub url: String,
    pub token: Option<String>,
}

/// WebSocket payload bytes (binary messages) in both directions, summed over a workload's clients.
#[derive(Default, Debug)]
pub struct Traffic {
    sent: AtomicU64,
    received: AtomicU64,
    messages: AtomicU64,
}

impl Traffic {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Bytes sent plus bytes received.
    pub fn total(&self) -> u64 {
        self.sent.load(Ordering::Relaxed) + self.received.load(Ordering::Relaxed)
    }

    /// Protocol messages sent plus received.
    pub fn messages(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }

    fn count(&self, direction: &AtomicU64, bytes: usize) {
        direction.fetch_add(bytes as u64, Ordering::Relaxed);
        self.messages.fetch_add(1, Ordering::Relaxed);
    }
}

/// The deadline passed while waiting for the server. A distinct type, so a workload that expects
/// a timeout (a feature the server lacks) can tell it from a failure.
#[derive(Debug, thiserror::Error)]
#[error("timed out waiting for the server")]
pub struct TimedOut;

/// A document the client holds: a case it pushes (`has_content`), or one it fetches into an empty
/// document.
pub struct Held {
    pub id: DocumentId,
    pub doc: AutoCommit,
    pub has_content: bool,
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One live connection, joined.
pub struct Client {
    ws: Socket,
    conn: ClientConnection,
    traffic: Arc<Traffic>,
}

impl Client {
    /// Connects (with the endpoint's bearer token, if any) and completes the handshake.
    pub async fn connect(
        endpoint: &Endpoint,
        traffic: Arc<Traffic>,
        deadline: Instant,
    ) -> Result<Self> {
        let mut request = endpoint
            .url
            .as_str()
            .into_client_request()
            .context("building the WebSocket request")?;
        if let Some(token) = &endpoint.token {
            request.headers_mut().insert(
                "authorization",
                format!("Bearer {token}")
                    .parse()
                    .context("the token is not a valid header value")?,
            );
        }
        // No Nagle: the protocol is request and answer, and the reference's sockets do the same.
        let connect = tokio_tungstenite::connect_async_with_config(request, None, true);
        let (ws, _) = timeout_at(deadline, connect)
            .await
            .map_err(|_| TimedOut)?
            .with_context(|| format!("connecting to {}", endpoint.url))?;
        let peer_id = format!("bench-{:016x}", rand::random::<u64>());
        let mut client = Self {
            ws,
            conn: ClientConnection::new(peer_id),
            traffic,
        };
        let join = client.conn.join();
        client.send(&join).await?;
        while !client.conn.is_joined() {
            let message = client.receive(deadline).await?;
            if let Incoming::Error { message } = client.conn.handle(message)? {
                bail!("the server refused the handshake: {message}");
            }
        }
        Ok(client)
    }

    async fn send(&mut self, message: &Message) -> Result<()> {
        let frame = message.encode();
        self.traffic.count(&self.traffic.sent, frame.len());
        self.ws
            .send(WsMessage::Binary(frame.into()))
            .await
            .context("sending to the server")
    }

    /// The next protocol message. Pings are answered by the WebSocket layer while we read.
    async fn receive(&mut self, deadline: Instant) -> Result<Message> {
        loop {
            let frame = timeout_at(deadline, self.ws.next())
                .await
                .map_err(|_| TimedOut)?;
            match frame {
                Some(Ok(WsMessage::Binary(bytes))) => {
                    self.traffic.count(&self.traffic.received, bytes.len());
                    return Message::decode(&bytes)
                        .context("the server sent a frame that is not a protocol message");
                }
                Some(Ok(WsMessage::Close(frame))) => {
                    bail!("the server closed the connection ({frame:?})")
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e).context("reading from the server"),
                None => bail!("the server closed the connection"),
            }
        }
    }

    /// Sends the server what it lacks of `held`, if a message is due.
    async fn offer(&mut self, held: &mut Held) -> Result<()> {
        if let Some(message) = self.conn.sync(held.id, &held.doc.sync(), held.has_content) {
            self.send(&message).await?;
        }
        Ok(())
    }

    /// Exchanges sync messages for all of `docs` at once until `done` holds for each of them.
    pub async fn converge(
        &mut self,
        docs: &mut [Held],
        deadline: Instant,
        mut done: impl FnMut(&ClientConnection, &mut Held) -> bool,
    ) -> Result<()> {
        let index: HashMap<DocumentId, usize> = docs
            .iter()
            .enumerate()
            .map(|(i, held)| (held.id, i))
            .collect();
        let mut finished = vec![false; docs.len()];
        let mut remaining = docs.len();
        for (i, held) in docs.iter_mut().enumerate() {
            self.offer(held).await?;
            if done(&self.conn, held) {
                finished[i] = true;
                remaining -= 1;
            }
        }
        while remaining > 0 {
            let message = self.receive(deadline).await.with_context(|| {
                let waiting: Vec<String> = docs
                    .iter()
                    .zip(&finished)
                    .filter(|(_, finished)| !**finished)
                    .take(3)
                    .map(|(held, _)| held.id.to_string())
                    .collect();
                format!(
                    "{remaining} of {} documents not yet in step (among them {})",
                    docs.len(),
                    waiting.join(", ")
                )
            })?;
            match self.conn.handle(message)? {
                Incoming::Sync { document, data } => {
                    let Some(&i) = index.get(&document) else {
                        continue;
                    };
                    let held = &mut docs[i];
                    self.conn
                        .apply(document, &mut held.doc.sync(), &data)
                        .with_context(|| {
                            format!("applying the server's sync data for {document}")
                        })?;
                    self.offer(held).await?;
                    if !finished[i] && done(&self.conn, held) {
                        finished[i] = true;
                        remaining -= 1;
                    }
                }
                Incoming::Unavailable { document } if index.contains_key(&document) => {
                    bail!("the server says document {document} is unavailable")
                }
                Incoming::Error { message } => bail!("the server refused: {message}"),
                Incoming::Unavailable { .. } | Incoming::Joined { .. } | Incoming::Ignored => {}
            }
        }
        Ok(())
    }

    /// Pushes local changes until the server's heads include all of ours: acknowledged.
    pub async fn push(&mut self, docs: &mut [Held], deadline: Instant) -> Result<()> {
        self.converge(docs, deadline, server_has_ours).await
    }

    /// Fetches documents into empty ones until we hold every head the server reported.
    pub async fn fetch(&mut self, docs: &mut [Held], deadline: Instant) -> Result<()> {
        self.converge(docs, deadline, we_have_theirs).await
    }

    /// Waits until a change made elsewhere reaches our copy of a document.
    pub async fn wait_for_change(
        &mut self,
        held: &mut Held,
        change: ChangeHash,
        deadline: Instant,
    ) -> Result<()> {
        self.converge(std::slice::from_mut(held), deadline, |_, held| {
            held.doc.get_change_by_hash(&change).is_some()
        })
        .await
    }

    /// Keeps the connection open, reading (so pings get their pongs), until `stop` says so or the
    /// deadline passes; then closes it.
    pub async fn idle(mut self, mut stop: watch::Receiver<bool>, deadline: Instant) -> Result<()> {
        let outcome = loop {
            tokio::select! {
                _ = stop.wait_for(|stop| *stop) => break Ok(()),
                () = tokio::time::sleep_until(deadline) => break Err(anyhow!(TimedOut)),
                frame = self.ws.next() => match frame {
                    Some(Ok(WsMessage::Binary(bytes))) => {
                        self.traffic.count(&self.traffic.received, bytes.len());
                    }
                    Some(Ok(WsMessage::Close(frame))) => {
                        break Err(anyhow!("the server closed an idle connection ({frame:?})"))
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break Err(anyhow!(e).context("an idle connection failed")),
                    None => break Err(anyhow!("the server closed an idle connection")),
                },
            }
        };
        self.close().await;
        outcome
    }

    /// Closes the connection politely, without waiting long for the server's answer.
    pub async fn close(mut self) {
        let _ = timeout(Duration::from_secs(5), self.ws.close(None)).await;
    }
}

/// Acknowledged: the heads the server last reported include every head of ours.
fn server_has_ours(conn: &ClientConnection, held: &mut Held) -> bool {
    engine::acknowledged(&held.doc.get_heads(), conn.server_heads(&held.id))
}

/// Fetched: we hold every head the server last reported (and it reported some).
fn we_have_theirs(conn: &ClientConnection, held: &mut Held) -> bool {
    engine::received(conn.server_heads(&held.id), |head| {
        held.doc.get_change_by_hash(head).is_some()
    })
}

/// Whether an error is (caused by) the deadline passing.
pub fn is_timeout(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| cause.is::<TimedOut>())
}
