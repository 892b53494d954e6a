//! The sync engine: the automerge-repo protocol from `veldwerk_core::client`
//! over a browser WebSocket. It connects on start, when the browser comes
//! online, when the app becomes visible, when the service worker's background
//! sync fires, and every 30 s; after a drop it reconnects with exponential
//! backoff and jitter. Authentication is the session cookie, checked with
//! `/api/me` first, because a refused WebSocket upgrade tells the page nothing.

use std::cell::RefCell;

use automerge::Automerge;
use veldwerk_core::DocumentId;
use veldwerk_core::client::{ClientConnection, Incoming};
use veldwerk_core::protocol::Message;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

use veldwerk_core::api::cases::CaseItem;
use veldwerk_core::api::{CloseCode, DEVICE_REVOKED_PREFIX, QuarantineNotice};

use crate::app::{self, Link, Listed, LocalDoc};
use crate::platform::{self, now_ms};

const PERIOD_MS: i32 = 30_000;
const BACKOFF_BASE_MS: f64 = 1_000.0;
const BACKOFF_MAX_MS: f64 = 60_000.0;

#[derive(Default)]
pub struct Engine {
    socket: Option<Socket>,
    conn: Option<ClientConnection>,
    attempt: u32,
    running: bool,
    /// Bumped on every new socket, so stale callbacks and timers do nothing.
    generation: u64,
    reconnect_pending: bool,
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
    /// A sync server other than this page's own, if set (see [`use_sync_server`]).
    static SERVER: RefCell<Option<String>> = const { RefCell::new(None) };
    /// The page's event listeners, installed once and kept for the page's life.
    static TRIGGERS: RefCell<Vec<Closure<dyn FnMut()>>> = const { RefCell::new(Vec::new()) };
}

fn engine<R>(f: impl FnOnce(&mut Engine) -> R) -> R {
    app::with(|r| f(&mut r.engine))
}

fn set_link(link: Link) {
    app::with(|r| r.link = Some(link));
    app::changed();
}

/// Syncs with the automerge-repo server at `url` (`ws://…`) instead of this page's own
/// server, without a session check or caseload: any automerge-repo sync server will do. The
/// engine's own tests sync with the JS reference server this way.
pub fn use_sync_server(url: &str) {
    SERVER.with(|s| *s.borrow_mut() = Some(url.to_owned()));
}

/// Starts syncing (after unlock) and installs the triggers once per page.
pub fn start() {
    engine(|e| {
        e.running = true;
        e.attempt = 0;
    });
    install_triggers();
    connect_now();
}

/// Stops syncing (on lock, sign-out or wipe).
pub fn stop() {
    engine(|e| {
        e.running = false;
        e.generation += 1;
        e.socket = None;
        e.conn = None;
    });
}

/// Connects now, unless connected or stopped.
pub fn connect_now() {
    let go = engine(|e| e.running && e.socket.is_none());
    if go {
        wasm_bindgen_futures::spawn_local(connect());
    }
}

fn install_triggers() {
    TRIGGERS.with(|t| {
        if !t.borrow().is_empty() {
            return;
        }
        let window = web_sys::window().expect("window");
        let on_online = Closure::<dyn FnMut()>::new(|| {
            engine(|e| e.attempt = 0);
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
            if engine(|e| {
                e.socket
                    .as_ref()
                    .is_some_and(|s| s.ws.ready_state() == WebSocket::OPEN)
            }) {
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
            PERIOD_MS,
        );
        t.borrow_mut().extend([on_online, on_visible, on_tick]);
    });
}

/// Called when the service worker's background sync fires.
pub fn background_sync() {
    engine(|e| e.attempt = 0);
    connect_now();
    sync_all();
}

async fn connect() {
    let generation = engine(|e| {
        e.generation += 1;
        e.reconnect_pending = false;
        e.generation
    });
    set_link(Link::Connecting);
    if let Some(url) = SERVER.with(|s| s.borrow().clone()) {
        open_socket(generation, url);
        return;
    }
    // A refused upgrade is indistinguishable from no network; ask the API first.
    match app::fetch_me().await {
        Ok(Some(me)) => {
            // The device (and so the actor id) stays; names and role may have changed.
            app::with(|r| r.me = Some(me));
        }
        Ok(None) => {
            set_link(Link::SignedOut);
            return;
        }
        Err(platform::Failure::Server { code, .. }) if code == "device_revoked" => {
            app::wipe().await;
            crate::ui::wiped();
            return;
        }
        Err(_) => {
            set_link(Link::Offline);
            schedule_reconnect(generation);
            return;
        }
    }
    if engine(|e| e.generation != generation || !e.running) {
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
        set_link(Link::Offline);
        schedule_reconnect(generation);
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
        if engine(|e| e.generation) != generation {
            return;
        }
        if let Ok(buffer) = event.data().dyn_into::<js_sys::ArrayBuffer>() {
            receive(&js_sys::Uint8Array::new(&buffer).to_vec());
        }
    });
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
        if engine(|e| e.generation) != generation {
            return;
        }
        closed(generation, event.code());
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
    });
}

/// Lets go of the current socket. Called from the socket's own callbacks, so
/// its closures are dropped only after the running one has returned.
fn discard_socket() -> u64 {
    let (socket, generation) = engine(|e| {
        e.conn = None;
        (e.socket.take(), e.generation)
    });
    wasm_bindgen_futures::spawn_local(async move { drop(socket) });
    generation
}

fn closed(generation: u64, code: u16) {
    discard_socket();
    match CloseCode::from_code(code) {
        Some(CloseCode::DeviceRevoked) => wasm_bindgen_futures::spawn_local(async {
            app::wipe().await;
            crate::ui::wiped();
        }),
        Some(CloseCode::SignedOut) => set_link(Link::SignedOut),
        _ => {
            set_link(Link::Offline);
            schedule_reconnect(generation);
        }
    }
}

/// Exponential backoff with full jitter: 1 s, 2 s, 4 s … up to 60 s.
fn schedule_reconnect(generation: u64) {
    let delay = engine(|e| {
        if !e.running || e.reconnect_pending {
            return None;
        }
        e.reconnect_pending = true;
        let ceiling = (BACKOFF_BASE_MS * 2f64.powi(e.attempt.min(16) as i32)).min(BACKOFF_MAX_MS);
        e.attempt += 1;
        Some(ceiling * (0.5 + js_sys::Math::random() / 2.0))
    });
    let Some(delay) = delay else { return };
    let retry = Closure::once_into_js(move || {
        let current = engine(|e| {
            e.reconnect_pending = false;
            e.generation == generation && e.running && e.socket.is_none()
        });
        if current {
            wasm_bindgen_futures::spawn_local(connect());
        }
    });
    if let Some(window) = web_sys::window() {
        let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(
            retry.unchecked_ref(),
            delay as i32,
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
            app::with(|r| {
                r.engine.attempt = 0;
                r.last_sync_ms = Some(now_ms());
            });
            set_link(Link::Online);
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
        Some(Ok(Incoming::Error { message })) => server_error(message),
        Some(Ok(Incoming::Ignored)) | None => {}
        Some(Err(_)) => {
            // The server broke the protocol; start over.
            let generation = discard_socket();
            set_link(Link::Offline);
            schedule_reconnect(generation);
        }
    }
}

fn applied(document: DocumentId, data: &[u8]) {
    let reply = app::with(|r| {
        let local = r.docs.get_mut(&document)?;
        let conn = r.engine.conn.as_mut()?;
        conn.apply(document, &mut local.doc, data).ok()?;
        if let Some(heads) = conn.server_heads(&document) {
            local.acked = heads.to_vec();
        }
        let reply = conn.sync(document, &local.doc, local.has_content());
        r.last_sync_ms = Some(now_ms());
        Some(reply)
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

fn server_error(message: String) {
    if message.starts_with(DEVICE_REVOKED_PREFIX) {
        wasm_bindgen_futures::spawn_local(async {
            app::wipe().await;
            crate::ui::wiped();
        });
        return;
    }
    if let Some(notice) = QuarantineNotice::parse(&message) {
        wasm_bindgen_futures::spawn_local(app::refused(notice.document_id, notice.reason));
    }
}

/// Offers every document to the server.
pub fn sync_all() {
    let messages = app::with(|r| {
        let Some(conn) = r.engine.conn.as_mut().filter(|c| c.is_joined()) else {
            return Vec::new();
        };
        r.docs
            .iter()
            .filter_map(|(id, local)| conn.sync(*id, &local.doc, local.has_content()))
            .collect::<Vec<_>>()
    });
    for message in &messages {
        send(message);
    }
}

/// Offers one document's new changes to the server, if connected.
pub fn push(document: DocumentId) {
    let message = app::with(|r| {
        let conn = r.engine.conn.as_mut().filter(|c| c.is_joined())?;
        let local = r.docs.get(&document)?;
        conn.sync(document, &local.doc, local.has_content())
    });
    match message {
        Some(message) => send(&message),
        None => connect_now(),
    }
    if let Some(false) | None = engine(|e| {
        e.socket
            .as_ref()
            .map(|s| s.ws.ready_state() == WebSocket::OPEN)
    }) {
        wasm_bindgen_futures::spawn_local(async {
            let _ = platform::request_background_sync().await;
        });
    }
}

/// Starts a document's sync over after its local copy was replaced.
pub fn restart_document(document: DocumentId) {
    app::with(|r| {
        if let Some(conn) = r.engine.conn.as_mut() {
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
    let held: Vec<DocumentId> = app::with(|r| {
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
    app::with(|r| r.listed = listed.clone());
    for id in held {
        let name = id.to_string();
        if !listed.iter().any(|l| l.document_id == name) {
            let _ = app::forget(id).await;
        }
    }
    let _ = app::persist_listed().await;
    for case in &listed {
        if let Ok(id) = case.document_id.parse::<DocumentId>() {
            track(id);
        }
    }
}

/// Fetches a document the tablet does not have yet (one the server lists for us).
pub fn track(id: DocumentId) {
    let added = app::with(|r| {
        let actor = r.me.as_ref()?.actor();
        if r.docs.contains_key(&id) {
            return None;
        }
        r.docs.insert(
            id,
            LocalDoc {
                doc: Automerge::new().with_actor(actor),
                acked: Vec::new(),
            },
        );
        Some(())
    });
    if added.is_some() {
        app::changed();
        push(id);
    }
}
