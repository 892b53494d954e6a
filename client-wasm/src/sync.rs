//! The sync engine: the automerge-repo protocol from `veldwerk_core::client`
//! over a browser WebSocket. It connects on start, when the browser comes
//! online, when the app becomes visible, when the service worker's background
//! sync fires, and every 30 s; after a drop it reconnects with exponential
//! backoff and jitter. Authentication is the session cookie, checked with
//! `/api/me` first, because a refused WebSocket upgrade tells the page nothing.
//!
//! What to do when — the backoff, what a close code or a refusal means, which
//! cases to fetch or forget — is decided by `veldwerk_core::client::engine`;
//! this file owns the socket, the timers and the browser's events. It listens
//! to the model's announcements ([`install`]) and reports the connection, a sign-out
//! and a revoked device into the model, where the views see them.

use std::cell::RefCell;
use std::collections::BTreeSet;

use veldwerk_core::DocumentId;
use veldwerk_core::client::engine::{self, Outcome, PERIOD_MS, Retry, Session};
use veldwerk_core::client::{ClientConnection, Incoming};
use veldwerk_core::protocol::Message;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use veldwerk_core::api::cases::CaseItem;

use crate::app::{self, Announcement, Connection, Listed};
use crate::platform::{self, now_ms};

#[derive(Default)]
struct Engine {
    state: engine::Engine,
    socket: Option<Socket>,
    conn: Option<ClientConnection>,
}

struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close();
    }
}

thread_local! {
    static ENGINE: RefCell<Engine> = RefCell::new(Engine::default());
    /// A sync server other than this page's own, if set (see [`use_sync_server`]).
    static SERVER: RefCell<Option<String>> = const { RefCell::new(None) };
    /// The page's event listeners, installed once and kept for the page's life.
    static TRIGGERS: RefCell<Vec<Closure<dyn FnMut()>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with the engine. It may read the model (`app::with`) inside, never
/// the other way round; never hold on across an `.await`.
fn engine<R>(f: impl FnOnce(&mut Engine) -> R) -> R {
    ENGINE.with(|e| f(&mut e.borrow_mut()))
}

fn set_connection(connection: Connection) {
    app::with(|r| r.connection = Some(connection));
    app::changed();
}

/// Jitter for the backoff, in `[0, 1)`.
fn jitter() -> f64 {
    js_sys::Math::random()
}

/// Makes the engine the model's listener: it starts when the store opens,
/// stops when it closes, and offers every local change to the server.
pub fn install() {
    app::listen(|announcement| match announcement {
        Announcement::Opened => start(),
        Announcement::Closed => stop(),
        Announcement::Changed(document) => push(document),
        Announcement::Replaced(document) => restart_document(document),
    });
}

/// Syncs with the automerge-repo server at `url` (`ws://…`) instead of this page's own
/// server, without a session check or caseload: any automerge-repo sync server will do. The
/// engine's own tests sync with the JS reference server this way; it installs the engine,
/// as the app's start-up does.
pub fn use_sync_server(url: &str) {
    SERVER.with(|s| *s.borrow_mut() = Some(url.to_owned()));
    install();
}

/// Starts syncing (after unlock) and installs the triggers once per page.
pub fn start() {
    engine(|e| e.state.start());
    install_triggers();
    connect_now();
}

/// Stops syncing (on lock, sign-out or wipe).
pub fn stop() {
    let socket = engine(|e| {
        e.state.stop();
        e.conn = None;
        e.socket.take()
    });
    drop(socket);
}

/// Connects now, unless connected or stopped.
pub fn connect_now() {
    if engine(|e| e.state.should_connect()) {
        wasm_bindgen_futures::spawn_local(connect());
    }
}

fn is_open() -> bool {
    engine(|e| {
        e.socket
            .as_ref()
            .is_some_and(|s| s.ws.ready_state() == WebSocket::OPEN)
    })
}

fn install_triggers() {
    TRIGGERS.with(|t| {
        if !t.borrow().is_empty() {
            return;
        }
        let window = web_sys::window().expect("window");
        let on_online = Closure::<dyn FnMut()>::new(|| {
            engine(|e| e.state.network_returned());
            connect_now();
        });
        let on_visible = Closure::<dyn FnMut()>::new(|| {
            let visible = web_sys::window()
                .and_then(|w| w.document())
                .is_some_and(|d| d.visibility_state() == web_sys::VisibilityState::Visible);
            if visible {
                connect_now();
                sync_all();
            }
        });
        let on_tick = Closure::<dyn FnMut()>::new(|| {
            if is_open() {
                wasm_bindgen_futures::spawn_local(refresh_caseload());
                sync_all();
            } else {
                connect_now();
            }
        });
        let _ =
            window.add_event_listener_with_callback("online", on_online.as_ref().unchecked_ref());
        if let Some(document) = window.document() {
            let _ = document.add_event_listener_with_callback(
                "visibilitychange",
                on_visible.as_ref().unchecked_ref(),
            );
        }
        let _ = window.set_interval_with_callback_and_timeout_and_arguments_0(
            on_tick.as_ref().unchecked_ref(),
            PERIOD_MS as i32,
        );
        t.borrow_mut().extend([on_online, on_visible, on_tick]);
    });
}

/// Called when the service worker's background sync fires.
pub fn background_sync() {
    engine(|e| e.state.network_returned());
    connect_now();
    sync_all();
}

/// Does what the engine decided.
fn follow(outcome: Outcome) {
    match outcome {
        Outcome::Continue => {}
        Outcome::Offline { retry } => {
            set_connection(Connection::Offline);
            if let Some(retry) = retry {
                set_retry(retry);
            }
        }
        Outcome::SignedOut => set_connection(Connection::SignedOut),
        Outcome::Wipe => wasm_bindgen_futures::spawn_local(app::revoked()),
        Outcome::Refused { document, reason } => {
            wasm_bindgen_futures::spawn_local(app::refused(document, reason));
        }
        Outcome::TryAgain(document) => {
            // The changes stay in the local copy; a fresh sync offers them again.
            let fire = Closure::once_into_js(move || restart_document(document));
            if let Some(window) = web_sys::window() {
                let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                    fire.unchecked_ref(),
                    engine::try_again_delay_ms(jitter()) as i32,
                );
            }
        }
    }
}

async fn connect() {
    let generation = engine(|e| e.state.connecting());
    set_connection(Connection::Connecting);
    if let Some(url) = SERVER.with(|s| s.borrow().clone()) {
        open_socket(generation, url);
        return;
    }
    // A refused upgrade is indistinguishable from no network; ask the API first.
    let session = match app::fetch_me().await {
        Ok(Some(me)) => {
            // The device (and so the actor id) stays; names and role may have changed.
            app::with(|r| r.me = Some(me));
            Session::SignedIn
        }
        Ok(None) => Session::SignedOut,
        Err(platform::Failure::Server { code, .. }) if code == "device_revoked" => Session::Revoked,
        Err(_) => Session::Unreachable,
    };
    let outcome = engine(|e| e.state.session_checked(generation, session, jitter()));
    if outcome != Outcome::Continue {
        follow(outcome);
        return;
    }
    if !engine(|e| e.state.may_go_on(generation)) {
        return;
    }
    refresh_caseload().await;
    let Some(location) = web_sys::window().map(|w| w.location()) else {
        return;
    };
    let scheme = if location.protocol().ok().as_deref() == Some("https:") {
        "wss"
    } else {
        "ws"
    };
    let host = location.host().unwrap_or_default();
    open_socket(generation, format!("{scheme}://{host}/sync"));
}

fn open_socket(generation: u64, url: String) {
    let Ok(ws) = WebSocket::new(&url) else {
        let outcome = engine(|e| e.state.socket_failed(generation, jitter()));
        follow(outcome);
        return;
    };
    ws.set_binary_type(BinaryType::Arraybuffer);
    let peer = app::with(|r| {
        let device = r.me.as_ref().map_or(0, |m| m.device_id);
        format!("vwapp-{device}-{}", hex::encode(platform::random(4)))
    });

    let on_open = Closure::<dyn FnMut()>::new(move || {
        let join = engine(|e| e.conn.as_ref().map(ClientConnection::join));
        if let Some(join) = join {
            send(&join);
        }
    });
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        if !engine(|e| e.state.is_current(generation)) {
            return;
        }
        if let Ok(buffer) = event.data().dyn_into::<js_sys::ArrayBuffer>() {
            receive(&js_sys::Uint8Array::new(&buffer).to_vec());
        }
    });
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
        if !engine(|e| e.state.is_current(generation)) {
            return;
        }
        discard_socket();
        let outcome = engine(|e| e.state.closed(event.code(), jitter()));
        follow(outcome);
    });
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    engine(|e| {
        e.conn = Some(ClientConnection::new(peer));
        e.socket = Some(Socket {
            ws,
            _on_open: on_open,
            _on_message: on_message,
            _on_close: on_close,
        });
        e.state.socket_opened();
    });
}

/// Lets go of the current socket. Called from the socket's own callbacks, so
/// its closures are dropped only after the running one has returned.
fn discard_socket() {
    let socket = engine(|e| {
        e.conn = None;
        e.socket.take()
    });
    wasm_bindgen_futures::spawn_local(async move { drop(socket) });
}

/// Sets the reconnect timer the engine asked for.
fn set_retry(retry: Retry) {
    let fire = Closure::once_into_js(move || {
        if engine(|e| e.state.retry_due(retry.generation)) {
            wasm_bindgen_futures::spawn_local(connect());
        }
    });
    if let Some(window) = web_sys::window() {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            fire.unchecked_ref(),
            retry.delay_ms as i32,
        );
    }
}

fn send(message: &Message) {
    engine(|e| {
        if let Some(socket) = &e.socket
            && socket.ws.ready_state() == WebSocket::OPEN
        {
            let _ = socket.ws.send_with_u8_array(&message.encode());
        }
    });
}

fn receive(frame: &[u8]) {
    let Ok(message) = Message::decode(frame) else {
        return;
    };
    let incoming = engine(|e| e.conn.as_mut().map(|c| c.handle(message)));
    match incoming {
        Some(Ok(Incoming::Joined { .. })) => {
            engine(|e| e.state.joined());
            app::with(|r| r.last_sync_ms = Some(now_ms()));
            set_connection(Connection::Online);
            sync_all();
        }
        Some(Ok(Incoming::Sync { document, data })) => applied(document, &data),
        Some(Ok(Incoming::Unavailable { document })) => {
            // We held it and may no longer read it (or it is gone).
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(true) = app::forget(document).await {
                    let _ = app::persist_listed().await;
                }
            });
        }
        Some(Ok(Incoming::Error { message })) => {
            let outcome = engine(|e| e.state.refused(&message));
            follow(outcome);
        }
        Some(Ok(Incoming::Ignored)) | None => {}
        Some(Err(_)) => {
            // The server broke the protocol; start over.
            discard_socket();
            let outcome = engine(|e| e.state.connection_lost(jitter()));
            follow(outcome);
        }
    }
}

fn applied(document: DocumentId, data: &[u8]) {
    let reply = engine(|e| {
        let conn = e.conn.as_mut()?;
        app::with(|r| {
            let local = r.docs.get_mut(&document)?;
            conn.apply(document, &mut local.doc, data).ok()?;
            if let Some(heads) = conn.server_heads(&document) {
                local.acked = heads.to_vec();
            }
            let reply = conn.sync(document, &local.doc, local.has_content());
            r.last_sync_ms = Some(now_ms());
            Some(reply)
        })
    });
    let Some(reply) = reply else { return };
    if let Some(reply) = reply {
        send(&reply);
    }
    app::changed();
    wasm_bindgen_futures::spawn_local(async move {
        let _ = app::persist(document).await;
    });
}

/// Offers every document to the server.
pub fn sync_all() {
    let messages = engine(|e| {
        let Some(conn) = e.conn.as_mut().filter(|c| c.is_joined()) else {
            return Vec::new();
        };
        app::with(|r| {
            r.docs
                .iter()
                .filter_map(|(id, local)| conn.sync(*id, &local.doc, local.has_content()))
                .collect::<Vec<_>>()
        })
    });
    for message in &messages {
        send(message);
    }
}

/// Offers one document's new changes to the server, if connected.
pub fn push(document: DocumentId) {
    let message = engine(|e| {
        let conn = e.conn.as_mut().filter(|c| c.is_joined())?;
        app::with(|r| {
            let local = r.docs.get(&document)?;
            conn.sync(document, &local.doc, local.has_content())
        })
    });
    match message {
        Some(message) => send(&message),
        None => connect_now(),
    }
    if !is_open() {
        wasm_bindgen_futures::spawn_local(async {
            let _ = platform::request_background_sync().await;
        });
    }
}

/// Starts a document's sync over after its local copy was replaced.
pub fn restart_document(document: DocumentId) {
    engine(|e| {
        if let Some(conn) = e.conn.as_mut() {
            conn.reset(&document);
        }
    });
    push(document);
}

/// Asks the server which cases we may see, adds the ones not on the tablet
/// yet, and forgets the ones the server had and no longer lists.
pub async fn refresh_caseload() {
    // Only cases the server acknowledged before we asked can be missing for
    // want of access rather than because the list was made before they arrived.
    let acknowledged: Vec<DocumentId> = app::with(|r| {
        r.docs
            .iter()
            .filter(|(_, d)| !d.acked.is_empty())
            .map(|(id, _)| *id)
            .collect()
    });
    let Ok(body) = platform::api("GET", "/api/cases", None).await else {
        return;
    };
    let Ok(cases) = serde_json::from_value::<Vec<CaseItem>>(body) else {
        return;
    };
    let listed: Vec<Listed> = cases.into_iter().map(Listed::from).collect();
    // A case's restricted record is kept with it, for those the server names it to.
    let listed_ids: Vec<DocumentId> = listed
        .iter()
        .flat_map(|case| {
            [
                Some(&case.document_id),
                case.restricted_document_id.as_ref(),
            ]
        })
        .flatten()
        .filter_map(|id| id.parse().ok())
        .collect();
    let local: BTreeSet<DocumentId> = app::with(|r| {
        r.listed = listed;
        r.docs.keys().copied().collect()
    });
    let plan = engine::reconcile(&acknowledged, &local, &listed_ids);
    for id in plan.forget {
        let _ = app::forget(id).await;
    }
    let _ = app::persist_listed().await;
    for id in plan.fetch {
        track(id);
    }
    let restricted: Vec<DocumentId> = app::read(|r| {
        r.listed
            .iter()
            .filter_map(|l| l.restricted_document_id.as_deref()?.parse().ok())
            .collect()
    });
    for id in restricted {
        let _ = crate::restricted::hold(id).await;
    }
}

/// Fetches a document the tablet does not have yet (one the server lists for us).
pub fn track(id: DocumentId) {
    app::track(id);
}
