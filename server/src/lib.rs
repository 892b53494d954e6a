//! veldwerk-server: the sync server as a library, so tests start the real
//! thing on port 0. `app` composes the features' routes over the HTTP kit,
//! `serve` runs it on a listener until a shutdown signal; `main.rs` only
//! parses the command line.

pub mod admin;
mod audit;
pub mod auth;
mod cases;
pub mod config;
mod direction;
mod http;
mod identity;
pub mod metrics;
mod oversight;
mod shell;
mod signals;
mod state;
pub use veldwerk_store as store;
mod sync;
mod tls;

use std::future::Future;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use config::{Config, ServeArgs};
pub use http::ApiError;
pub use state::{AppState, Clock, SessionEnd, now_ms};
use store::{Store, StoreError};

/// The HTTP routes of the server: every feature's, the sync socket and the
/// tablet app's files, inside the kit's guards.
pub fn app(state: AppState) -> Router {
    let routes = Router::new()
        .merge(http::health::routes())
        .merge(identity::routes())
        .merge(cases::routes())
        .merge(direction::routes())
        .merge(oversight::routes())
        .merge(signals::routes())
        .merge(audit::routes())
        .route("/sync", get(sync::upgrade))
        .fallback(shell::service(&state.config.app_dir));
    http::stack(routes, state)
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
    open_store_limited(database_url, key_file, store::PageLimit::default()).await
}

/// [`open_store`], with SQLite held to `limit` (see `Config::page_limit`).
async fn open_store_limited(
    database_url: &str,
    key_file: Option<&std::path::Path>,
    limit: store::PageLimit,
) -> Result<(Store, signals::SignalKey), ServeError> {
    let signal_key =
        signals::SignalKey::load(database_url, key_file).map_err(ServeError::Config)?;
    let store = Store::connect_limited(database_url, signal_key.audit_key(), limit).await?;
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
    let (store, signal_key) = open_store_limited(
        &config.database_url,
        config.signal_key_file.as_deref(),
        config.page_limit.clone(),
    )
    .await?;
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
