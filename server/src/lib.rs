//! veldwerk-server: the sync server as a library, so tests start the real
//! thing on port 0. `app` builds the router, `serve` runs it on a listener
//! until a shutdown signal; `main.rs` only parses the command line.

pub mod admin;
mod api;
pub mod auth;
pub mod config;
mod direction;
mod error;
mod hardening;
pub mod metrics;
mod monitor;
mod passkeys;
mod people;
mod radar;
mod shell;
mod signals;
pub use veldwerk_store as store;
mod sync;
mod tls;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use veldwerk_core::protocol::PeerId;

pub use config::{Config, ServeArgs};
pub use error::ApiError;
use metrics::Metrics;
use store::{Store, StoreError};
use sync::docs::DocRegistry;

/// Milliseconds since 1970, the time unit of the store.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// The time the server goes by: the system clock plus an offset that only
/// tests set, to run the real retention job years ahead. Clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// Milliseconds since 1970, as this clock reads them.
    pub fn now(&self) -> i64 {
        now_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves the clock ahead by `ms`.
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// A browser session, or all of a person's, signed out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// The hash of one session's token.
    Session(String),
    /// Every session of a person.
    User(i64),
}

/// What every handler and connection shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    docs: Arc<DocRegistry>,
    server_peer: PeerId,
    shutdown: watch::Receiver<bool>,
    webauthn: Arc<webauthn_rs::Webauthn>,
    /// Devices revoked while connections of theirs may be open.
    revocations: broadcast::Sender<i64>,
    /// Browser sessions that ended: their connections close.
    session_ends: broadcast::Sender<SessionEnd>,
    /// Cases whose team changed: open connections check their access again.
    team_changes: broadcast::Sender<i64>,
    auth_limiter: Arc<hardening::RateLimiter>,
    signal_key: Arc<signals::SignalKey>,
}

impl AppState {
    fn new(
        store: Store,
        config: Config,
        signal_key: signals::SignalKey,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, ServeError> {
        let webauthn =
            passkeys::relying_party(&config.origin, config.rp_id()).map_err(ServeError::Config)?;
        let metrics = Arc::new(Metrics::default());
        // Short: it travels in every message. Unique per process is enough.
        let server_peer = format!("vw-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let docs = Arc::new(
            DocRegistry::new(
                store.clone(),
                metrics.clone(),
                server_peer.clone(),
                config.compact_after,
                config.max_loaded_documents,
            )
            .with_max_document_bytes(config.max_document_bytes),
        );
        let auth_limiter = Arc::new(hardening::RateLimiter::per_minute(config.auth_rate_per_min));
        Ok(Self {
            store,
            config: Arc::new(config),
            metrics,
            docs,
            server_peer,
            shutdown,
            webauthn,
            revocations: broadcast::channel(256).0,
            team_changes: broadcast::channel(256).0,
            session_ends: broadcast::channel(256).0,
            auth_limiter,
            signal_key: Arc::new(signal_key),
        })
    }
}

/// Largest JSON body the API accepts.
const API_BODY_LIMIT: usize = 256 * 1024;

async fn no_such_endpoint() -> error::ApiError {
    error::ApiError::NotFound("API endpoint")
}

/// The HTTP routes of the server.
pub fn app(state: AppState) -> Router {
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    api::routes()
        .merge(passkeys::routes())
        .merge(people::routes())
        .merge(monitor::routes())
        .merge(radar::routes())
        .merge(direction::routes())
        .merge(signals::routes())
        .route("/sync", get(sync::upgrade))
        // An API path nobody serves is an error in JSON, not the app's page.
        .route("/api", axum::routing::any(no_such_endpoint))
        .route("/api/{*path}", axum::routing::any(no_such_endpoint))
        .fallback(shell::service(&state.config.app_dir))
        .layer(DefaultBodyLimit::max(API_BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), hardening::rate_limit_auth))
        .layer(middleware::from_fn_with_state(state.clone(), hardening::same_origin))
        .layer(middleware::from_fn_with_state(state.clone(), hardening::security_headers))
        .with_state(state)
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                // The path only: a query string may carry a sync ticket.
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("server I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Config(String),
}

/// Opens the database with the server's secret key (see
/// [`signals::SignalKey::load`]), refusing a key other than the one the
/// database was first used with: with it the signal index would match no one
/// and the audit chain would break.
pub async fn open_store(
    database_url: &str,
    key_file: Option<&std::path::Path>,
) -> Result<(Store, signals::SignalKey), ServeError> {
    let signal_key =
        signals::SignalKey::load(database_url, key_file).map_err(ServeError::Config)?;
    let store = Store::connect(database_url, signal_key.audit_key()).await?;
    let check_value = signal_key.check_value().map_err(ServeError::Config)?;
    if !store.check_signal_key(&check_value, now_ms()).await? {
        store.close().await;
        return Err(ServeError::Config(
            "this server's key is not the one the database was first used with, so no signal \
             would match and the audit chain would break; give every node the same \
             VELDWERK_SIGNAL_KEY_FILE"
                .into(),
        ));
    }
    Ok((store, signal_key))
}

/// Opens the store and serves on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let (store, signal_key) =
        open_store(&config.database_url, config.signal_key_file.as_deref()).await?;
    match store.audit_start().await? {
        store::HashCheck::Unkeyed => tracing::warn!(
            "the audit log was begun before its chain was keyed; the first keyed entry vouches for the entries before it"
        ),
        store::HashCheck::Wrong => tracing::error!(
            "the audit log's first entry does not match its hash; run `veldwerk admin audit verify`"
        ),
        store::HashCheck::Keyed => {}
    }
    let (stop, stopped) = watch::channel(false);
    let state = AppState::new(store.clone(), config, signal_key, stopped)?;
    let janitor = tokio::spawn(unload_idle_documents(state.clone()));
    let fanout = tokio::spawn(sync::fanout::follow_other_nodes(state.clone()));
    let retention = tokio::spawn(signals::retain(state.clone()));
    let acceptor = match &state.config.tls {
        Some((cert, key)) => Some(tls::acceptor(cert, key).map_err(ServeError::Config)?),
        None => None,
    };
    tracing::info!(
        address = %listener.local_addr()?,
        tls = acceptor.is_some(),
        database = store.backend_name(),
        origin = %state.config.origin,
        "veldwerk is listening"
    );
    let shutdown = async move {
        shutdown.await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
    };
    match acceptor {
        Some(acceptor) => tls::serve(listener, acceptor, app(state), shutdown).await,
        None => {
            let app = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await?;
        }
    }
    janitor.abort();
    fanout.abort();
    retention.abort();
    store.close().await;
    Ok(())
}

async fn unload_idle_documents(state: AppState) {
    let idle = state.config.idle_unload;
    let mut tick = tokio::time::interval((idle / 2).clamp(
        std::time::Duration::from_millis(100),
        std::time::Duration::from_secs(30),
    ));
    loop {
        tick.tick().await;
        let unloaded = state.docs.unload_idle(idle);
        if unloaded > 0 {
            tracing::debug!(unloaded, "idle documents unloaded");
        }
    }
}
