//! What every handler and connection shares: `AppState`, made once at start,
//! and the `Clock` the server reads the time from.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{broadcast, watch};
use veldwerk_core::protocol::PeerId;

use crate::config::Config;
use crate::http::guards::RateLimiter;
use crate::metrics::Metrics;
use crate::signals::SignalKey;
use crate::store::Store;
use crate::sync::docs::DocRegistry;
use crate::{ServeError, identity};

/// Milliseconds since 1970 by the system clock, the time unit of the store.
/// Requests go by [`AppState::now`] instead, which tests can move.
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
    pub(crate) docs: Arc<DocRegistry>,
    pub(crate) server_peer: PeerId,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) webauthn: Arc<webauthn_rs::Webauthn>,
    /// Devices revoked while connections of theirs may be open.
    pub(crate) revocations: broadcast::Sender<i64>,
    /// Browser sessions that ended: their connections close.
    pub(crate) session_ends: broadcast::Sender<SessionEnd>,
    /// Cases whose team changed: open connections check their access again.
    pub(crate) team_changes: broadcast::Sender<i64>,
    pub(crate) auth_limiter: Arc<RateLimiter>,
    pub(crate) signal_key: Arc<SignalKey>,
}

impl AppState {
    pub(crate) fn new(
        store: Store,
        config: Config,
        signal_key: SignalKey,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Self, ServeError> {
        let webauthn =
            identity::relying_party(&config.origin, config.rp_id()).map_err(ServeError::Config)?;
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
            .with_max_document_bytes(config.max_document_bytes)
            .with_clock(config.clock.clone()),
        );
        let auth_limiter = Arc::new(RateLimiter::per_minute(config.auth_rate_per_min));
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

    /// The time now, by the server's one clock (`Config::clock`). A request
    /// reads it once, through the `Now` extractor, and passes it down.
    pub fn now(&self) -> i64 {
        self.config.clock.now()
    }
}
