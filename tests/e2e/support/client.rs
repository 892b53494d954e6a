//! A native client: documents kept across connections (a tablet that goes
//! offline and back), and one WebSocket socket at a time driven through
//! `veldwerk_core::client`.

use std::collections::HashMap;
use std::time::Duration;

use automerge::{ActorId, AutoCommit};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use veldwerk_core::DocumentId;
use veldwerk_core::client::{ClientConnection, Incoming, engine};
use veldwerk_core::protocol::Message;

/// How long a test waits for the server before it fails.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A tablet's documents, which outlive any one connection.
pub struct Tablet {
    pub actor: ActorId,
    pub docs: HashMap<DocumentId, AutoCommit>,
}

impl Tablet {
    /// A tablet writing with the given actor id (hex), as our app does with its device's.
    pub fn new(actor_hex: &str) -> Self {
        Self {
            actor: ActorId::from(hex_decode(actor_hex)),
            docs: HashMap::new(),
        }
    }

    /// Keeps a fetched document, writing to it from now on with this tablet's actor id.
    pub fn adopt(&mut self, id: DocumentId, mut doc: AutoCommit) {
        doc.set_actor(self.actor.clone());
        self.docs.insert(id, doc);
    }

    pub fn doc(&mut self, id: DocumentId) -> &mut AutoCommit {
        let actor = self.actor.clone();
        self.docs
            .entry(id)
            .or_insert_with(|| AutoCommit::new().with_actor(actor))
    }
}

fn hex_decode(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex actor id"))
        .collect()
}

/// What the server said that was not a sync payload.
#[derive(Debug, Default)]
pub struct Heard {
    pub errors: Vec<String>,
    pub unavailable: Vec<DocumentId>,
}

/// One live WebSocket connection to a server.
pub struct Socket {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub conn: ClientConnection,
    pub heard: Heard,
}

/// What became of changes offered to the server.
#[derive(Debug)]
pub enum Offer {
    /// The server's heads include them: they are durably stored.
    Acknowledged,
    /// The server could not store them and said so: the text it sent, and
    /// the heads it had reported last.
    TryAgain {
        message: String,
        server_heads: Option<Vec<automerge::ChangeHash>>,
    },
}

/// Why the server ended or refused a socket.
#[derive(Debug)]
pub enum SocketEnd {
    Closed(Option<CloseFrame>),
    TimedOut,
    Unavailable(DocumentId),
    /// The server answered with an `error` (only when asked to stop on one).
    Refused(String),
}

impl Socket {
    /// Connects with a bearer token and completes the handshake.
    pub async fn bearer(url: &str, token: &str) -> Self {
        let ws = connect_with_token(url, token).await;
        Self::join(ws).await
    }

    /// Connects with a browser's session cookie and joins.
    pub async fn cookie(url: &str, cookie: &str) -> Self {
        let mut request = url.into_client_request().expect("request");
        request
            .headers_mut()
            .insert("cookie", cookie.parse().expect("header"));
        let (ws, _) = tokio_tungstenite::connect_async(request)
            .await
            .expect("websocket connect");
        Self::join(ws).await
    }

    /// Connects with the URL as given (a ticket in its query) and joins.
    pub async fn url(url: &str) -> Self {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connect");
        Self::join(ws).await
    }

    /// Connects without joining, for handshake tests.
    pub async fn raw(url: &str, token: &str) -> Self {
        let ws = connect_with_token(url, token).await;
        Self {
            ws,
            conn: ClientConnection::new(format!("test-{}", uuid::Uuid::new_v4())),
            heard: Heard::default(),
        }
    }

    async fn join(ws: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Self {
        let mut socket = Self {
            ws,
            conn: ClientConnection::new(format!("test-{}", uuid::Uuid::new_v4())),
            heard: Heard::default(),
        };
        let join = socket.conn.join();
        socket.send(&join).await;
        while !socket.conn.is_joined() {
            let message = socket.next().await.expect("server answers the handshake");
            socket
                .conn
                .handle(message)
                .expect("a valid handshake answer");
        }
        socket
    }

    pub async fn send(&mut self, message: &Message) {
        self.send_raw(message.encode()).await;
    }

    pub async fn send_raw(&mut self, frame: Vec<u8>) {
        self.try_send(frame).await.expect("sending a frame");
    }

    async fn try_send(&mut self, frame: Vec<u8>) -> Result<(), SocketEnd> {
        self.ws
            .send(WsMessage::Binary(frame.into()))
            .await
            .map_err(|_| SocketEnd::Closed(None))
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(WsMessage::Text(text.into()))
            .await
            .expect("sending a frame");
    }

    /// The next protocol message, or how the socket ended.
    pub async fn next(&mut self) -> Result<Message, SocketEnd> {
        loop {
            let frame = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .map_err(|_| SocketEnd::TimedOut)?;
            match frame {
                Some(Ok(WsMessage::Binary(bytes))) => {
                    return Ok(Message::decode(&bytes).expect("the server sends valid messages"));
                }
                Some(Ok(WsMessage::Close(frame))) => return Err(SocketEnd::Closed(frame)),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(SocketEnd::Closed(None)),
            }
        }
    }

    /// Waits for the next `error` message, skipping others.
    pub async fn next_error(&mut self) -> Result<String, SocketEnd> {
        loop {
            if let Message::Error { message, .. } = self.next().await? {
                return Ok(message);
            }
        }
    }

    /// Syncs one document until the server holds exactly what we hold.
    pub async fn sync(&mut self, id: DocumentId, doc: &mut AutoCommit) -> Result<(), SocketEnd> {
        self.sync_inner(id, doc, true, false).await
    }

    /// Syncs until in step with the server or refused by it, whichever comes first.
    pub async fn sync_until_refused_or_done(
        &mut self,
        id: DocumentId,
        doc: &mut AutoCommit,
    ) -> Result<(), SocketEnd> {
        self.sync_inner(id, doc, true, true).await
    }

    /// Syncs until the server sends an error (for changes it will refuse).
    pub async fn sync_until_refused(&mut self, id: DocumentId, doc: &mut AutoCommit) -> String {
        match self.sync_inner(id, doc, true, true).await {
            Err(SocketEnd::Refused(message)) => message,
            other => panic!("expected the server to refuse, got {other:?}"),
        }
    }

    /// Offers our changes to one document until the server holds exactly
    /// what we hold, or says it could not store them (its database is
    /// unavailable or full): then, as the tablet does, the document's sync
    /// starts over, so the next offer sends them again.
    pub async fn offer(
        &mut self,
        id: DocumentId,
        doc: &mut AutoCommit,
    ) -> Result<Offer, SocketEnd> {
        match self.sync_inner(id, doc, true, true).await {
            Ok(()) => Ok(Offer::Acknowledged),
            Err(SocketEnd::Refused(message)) => match engine::refusal(&message) {
                engine::Outcome::TryAgain(document) if document == id => {
                    let server_heads = self.conn.server_heads(&id).map(<[_]>::to_vec);
                    self.conn.reset(&id);
                    Ok(Offer::TryAgain {
                        message,
                        server_heads,
                    })
                }
                _ => Err(SocketEnd::Refused(message)),
            },
            Err(end) => Err(end),
        }
    }

    /// Fetches a document we do not have (a `request`), until in step with the server.
    pub async fn fetch(&mut self, id: DocumentId) -> Result<AutoCommit, SocketEnd> {
        let mut doc = AutoCommit::new();
        self.sync_inner(id, &mut doc, false, false).await?;
        Ok(doc)
    }

    async fn sync_inner(
        &mut self,
        id: DocumentId,
        doc: &mut AutoCommit,
        have: bool,
        stop_on_error: bool,
    ) -> Result<(), SocketEnd> {
        loop {
            if let Some(message) = self.conn.sync(id, &doc.sync(), have) {
                self.try_send(message.encode()).await?;
            }
            if self.in_step(id, doc) {
                return Ok(());
            }
            let message = self.next().await?;
            match self.conn.handle(message).expect("a valid message") {
                Incoming::Sync { document, data } if document == id => {
                    self.conn
                        .apply(id, &mut doc.sync(), &data)
                        .expect("applying the server's changes");
                }
                Incoming::Unavailable { document } if document == id => {
                    self.heard.unavailable.push(document);
                    return Err(SocketEnd::Unavailable(document));
                }
                Incoming::Unavailable { document } => self.heard.unavailable.push(document),
                Incoming::Error { message } if stop_on_error => {
                    return Err(SocketEnd::Refused(message));
                }
                Incoming::Error { message } => self.heard.errors.push(message),
                _ => {}
            }
        }
    }

    /// Stays connected, answering the server, until it has brought `doc` to
    /// a state `done` accepts: for changes that others made elsewhere.
    pub async fn hear_until(
        &mut self,
        id: DocumentId,
        doc: &mut AutoCommit,
        done: impl Fn(&mut AutoCommit) -> bool,
    ) -> Result<(), SocketEnd> {
        loop {
            if done(doc) {
                return Ok(());
            }
            let message = self.next().await?;
            match self.conn.handle(message).expect("a valid message") {
                Incoming::Sync { document, data } if document == id => {
                    self.conn
                        .apply(id, &mut doc.sync(), &data)
                        .expect("applying the server's changes");
                    if let Some(reply) = self.conn.sync(id, &doc.sync(), true) {
                        self.try_send(reply.encode()).await?;
                    }
                }
                Incoming::Unavailable { document } if document == id => {
                    return Err(SocketEnd::Unavailable(document));
                }
                Incoming::Error { message } => self.heard.errors.push(message),
                _ => {}
            }
        }
    }

    fn in_step(&self, id: DocumentId, doc: &mut AutoCommit) -> bool {
        engine::in_step(&doc.get_heads(), self.conn.server_heads(&id))
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

async fn connect_with_token(url: &str, token: &str) -> WebSocketStream<MaybeTlsStream<TcpStream>> {
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("header"),
    );
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket connect");
    ws
}
