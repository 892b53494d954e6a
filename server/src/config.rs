//! The server's configuration: one validated struct, from flags and
//! `VELDWERK_*` environment variables, passed explicitly.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;

/// The default database: a SQLite file under `./data/`.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/veldwerk.db";

/// Options of `veldwerk serve`, as given.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "VELDWERK_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The public URL people reach the server at (scheme, host, port).
    #[arg(long, env = "VELDWERK_ORIGIN")]
    pub origin: Option<String>,
    /// Largest WebSocket frame accepted, in bytes.
    #[arg(long, env = "VELDWERK_MAX_FRAME_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub max_frame_bytes: usize,
    /// Bytes queued for one connection that is not reading, before it is
    /// closed as too slow. At least the frame limit, so a document fits.
    #[arg(long, env = "VELDWERK_MAX_QUEUED_BYTES", default_value_t = 32 * 1024 * 1024)]
    pub max_queued_bytes: usize,
    /// Largest payload of an ephemeral message (presence, cursors), in bytes.
    #[arg(long, env = "VELDWERK_MAX_EPHEMERAL_BYTES", default_value_t = 16 * 1024)]
    pub max_ephemeral_bytes: usize,
    /// Ephemeral messages one connection may send per second (and in a burst).
    #[arg(long, env = "VELDWERK_EPHEMERAL_PER_SEC", default_value_t = 20)]
    pub ephemeral_per_sec: u32,
    /// Documents one connection may have open at once (a tablet opens its
    /// caseload's records, two per family); past it, more are refused.
    #[arg(long, env = "VELDWERK_MAX_OPEN_DOCUMENTS", default_value_t = 5_000)]
    pub max_open_documents: usize,
    /// Documents one connection may ask for a second, beyond a burst as large
    /// as the open-document limit (a tablet asks for its whole caseload at
    /// once); each costs an access check and often a load.
    #[arg(
        long,
        env = "VELDWERK_DOCUMENT_REQUESTS_PER_SEC",
        default_value_t = 100
    )]
    pub document_requests_per_sec: u32,
    /// The largest a case document may grow, in bytes as stored; changes
    /// past it are refused with an error naming the limit.
    #[arg(long, env = "VELDWERK_MAX_DOCUMENT_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_document_bytes: usize,
    /// Seconds between pings on a quiet sync connection. A peer heard
    /// nothing from (not even a pong) for three of them is gone without
    /// closing (a tablet switched off, a dead network): its connection ends.
    #[arg(long, env = "VELDWERK_PING_SECS", default_value_t = 30)]
    pub ping_secs: u64,
    /// Seconds a document with no connected peer stays in memory.
    #[arg(long, env = "VELDWERK_IDLE_UNLOAD_SECS", default_value_t = 60)]
    pub idle_unload_secs: u64,
    /// Documents kept in memory at most; beyond it the least recently used
    /// that no peer has open are unloaded. Documents peers have open stay.
    #[arg(long, env = "VELDWERK_MAX_LOADED_DOCUMENTS", default_value_t = 10_000)]
    pub max_loaded_documents: usize,
    /// Logged changes after which a document is compacted into a snapshot.
    #[arg(long, env = "VELDWERK_COMPACT_AFTER", default_value_t = 256)]
    pub compact_after: usize,
    /// Minutes a browser session may go unused before it must sign in again.
    #[arg(long, env = "VELDWERK_SESSION_IDLE_MINS", default_value_t = 60)]
    pub session_idle_mins: u64,
    /// Hours after which a browser session ends, used or not.
    #[arg(long, env = "VELDWERK_SESSION_MAX_HOURS", default_value_t = 12)]
    pub session_max_hours: u64,
    /// Sign-in and enrollment attempts allowed per client address per minute.
    #[arg(long, env = "VELDWERK_AUTH_RATE_PER_MIN", default_value_t = 30)]
    pub auth_rate_per_min: u32,
    /// PEM certificate chain: serve HTTPS (with `--tls-key`).
    #[arg(long, env = "VELDWERK_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, env = "VELDWERK_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// The built tablet app (`cargo xtask run` builds it there), served at `/`.
    #[arg(long, env = "VELDWERK_APP_DIR", default_value = "client-wasm/dist")]
    pub app_dir: std::path::PathBuf,
    /// Seconds between runs of the signal index's retention job.
    #[arg(long, env = "VELDWERK_SIGNAL_RETENTION_SECS", default_value_t = 3600)]
    pub signal_retention_secs: u64,
}

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `sqlite://path/to/file.db` (embedded, the default) or
    /// `postgres://user@host/db` (for several server nodes).
    #[arg(long = "database-url", env = "VELDWERK_DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub url: String,
    /// The server's secret key file (64+ hex digits), kept outside the
    /// database: it keys the signal index's person hashes and the audit
    /// chain. Made on first start where it is missing; without this option it
    /// lives next to the SQLite database, or in `data/` with PostgreSQL.
    /// Every PostgreSQL node must use the same file.
    #[arg(long, env = "VELDWERK_SIGNAL_KEY_FILE")]
    pub signal_key_file: Option<std::path::PathBuf>,
}

/// Validated configuration of a running server.
#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    pub origin: String,
    pub max_frame_bytes: usize,
    pub max_queued_bytes: usize,
    pub max_ephemeral_bytes: usize,
    pub ephemeral_per_sec: u32,
    pub max_open_documents: usize,
    pub document_requests_per_sec: u32,
    pub max_document_bytes: usize,
    /// How often a quiet sync connection is pinged.
    pub ping_interval: Duration,
    pub idle_unload: Duration,
    pub max_loaded_documents: usize,
    pub compact_after: usize,
    pub session_idle: Duration,
    pub session_max: Duration,
    pub auth_rate_per_min: u32,
    /// Certificate chain and key files, when serving HTTPS.
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// The built tablet app's files.
    pub app_dir: std::path::PathBuf,
    /// The server's key file, if given (see `signals::SignalKey::load`).
    pub signal_key_file: Option<std::path::PathBuf>,
    /// How often the signal index's retention job runs.
    pub signal_retention_interval: Duration,
    /// The time the server goes by. The system clock; tests move it ahead.
    pub clock: crate::state::Clock,
    /// How far a SQLite database may grow: no limit; tests set one to fill
    /// the disk and lift it again while the server runs.
    pub page_limit: crate::store::PageLimit,
}

impl Config {
    /// The WebAuthn relying party id: the origin's host, without port.
    pub fn rp_id(&self) -> &str {
        let host = self
            .origin
            .split_once("://")
            .map_or(self.origin.as_str(), |(_, h)| h);
        host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                host
            }
        })
    }

    /// Whether cookies may go without `Secure`: only for http://localhost development.
    pub fn secure_cookies(&self) -> bool {
        !(self.origin.starts_with("http://") && self.rp_id() == "localhost")
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The database URL may carry a password.
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database", &redact_url(&self.database_url))
            .field("origin", &self.origin)
            .field("max_frame_bytes", &self.max_frame_bytes)
            .field("max_queued_bytes", &self.max_queued_bytes)
            .field("max_ephemeral_bytes", &self.max_ephemeral_bytes)
            .field("ephemeral_per_sec", &self.ephemeral_per_sec)
            .field("max_open_documents", &self.max_open_documents)
            .field("document_requests_per_sec", &self.document_requests_per_sec)
            .field("ping_interval", &self.ping_interval)
            .field("max_document_bytes", &self.max_document_bytes)
            .field("idle_unload", &self.idle_unload)
            .field("max_loaded_documents", &self.max_loaded_documents)
            .field("compact_after", &self.compact_after)
            .field("session_idle", &self.session_idle)
            .field("session_max", &self.session_max)
            .field("auth_rate_per_min", &self.auth_rate_per_min)
            .field("tls", &self.tls)
            .field("signal_key_file", &self.signal_key_file)
            .field("signal_retention_interval", &self.signal_retention_interval)
            .finish()
    }
}

/// Why a configuration is refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("VELDWERK_ORIGIN must be an http:// or https:// URL without a path, got {0:?}")]
    Origin(String),
    #[error("VELDWERK_MAX_FRAME_BYTES must be between 1 KiB and 256 MiB")]
    FrameLimit,
    #[error("VELDWERK_MAX_QUEUED_BYTES must be at least VELDWERK_MAX_FRAME_BYTES ({0} bytes)")]
    QueueLimit(usize),
    #[error(
        "VELDWERK_MAX_EPHEMERAL_BYTES must be between 1 and VELDWERK_MAX_FRAME_BYTES ({0} bytes)"
    )]
    EphemeralLimit(usize),
    #[error("VELDWERK_EPHEMERAL_PER_SEC must be at least 1")]
    EphemeralRate,
    #[error(
        "VELDWERK_MAX_OPEN_DOCUMENTS and VELDWERK_DOCUMENT_REQUESTS_PER_SEC must be at least 1"
    )]
    DocumentLimits,
    #[error("VELDWERK_PING_SECS must be at least 1")]
    Ping,
    #[error("VELDWERK_MAX_LOADED_DOCUMENTS must be at least 1")]
    MaxLoaded,
    #[error("VELDWERK_COMPACT_AFTER must be at least 1")]
    CompactAfter,
    #[error("session lifetimes must be at least a minute, and idle no longer than the maximum")]
    Sessions,
    #[error("with TLS, VELDWERK_ORIGIN must be an https:// URL")]
    TlsOrigin,
    #[error("VELDWERK_SIGNAL_RETENTION_SECS must be at least 1")]
    SignalRetention,
}

impl ServeArgs {
    pub fn validate(self) -> Result<Config, ConfigError> {
        let origin = match self.origin {
            Some(origin) => {
                let trimmed = origin.trim_end_matches('/').to_owned();
                let rest = trimmed
                    .strip_prefix("http://")
                    .or_else(|| trimmed.strip_prefix("https://"));
                match rest {
                    Some(host) if !host.is_empty() && !host.contains('/') => trimmed,
                    _ => return Err(ConfigError::Origin(origin)),
                }
            }
            None => {
                let scheme = if self.tls_cert.is_some() {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://localhost:{}", self.listen.port())
            }
        };
        if self.tls_cert.is_some() && !origin.starts_with("https://") {
            return Err(ConfigError::TlsOrigin);
        }
        if !(1024..=256 * 1024 * 1024).contains(&self.max_frame_bytes) {
            return Err(ConfigError::FrameLimit);
        }
        if self.max_queued_bytes < self.max_frame_bytes {
            return Err(ConfigError::QueueLimit(self.max_frame_bytes));
        }
        if !(1..=self.max_frame_bytes).contains(&self.max_ephemeral_bytes) {
            return Err(ConfigError::EphemeralLimit(self.max_frame_bytes));
        }
        if self.ephemeral_per_sec == 0 {
            return Err(ConfigError::EphemeralRate);
        }
        if self.ping_secs == 0 {
            return Err(ConfigError::Ping);
        }
        if self.max_open_documents == 0 || self.document_requests_per_sec == 0 {
            return Err(ConfigError::DocumentLimits);
        }
        if self.max_loaded_documents == 0 {
            return Err(ConfigError::MaxLoaded);
        }
        if self.compact_after == 0 {
            return Err(ConfigError::CompactAfter);
        }
        let session_idle = Duration::from_secs(self.session_idle_mins * 60);
        let session_max = Duration::from_secs(self.session_max_hours * 3600);
        if session_idle.is_zero() || session_max.is_zero() || session_idle > session_max {
            return Err(ConfigError::Sessions);
        }
        if self.signal_retention_secs == 0 {
            return Err(ConfigError::SignalRetention);
        }
        Ok(Config {
            listen: self.listen,
            database_url: self.database.url,
            origin,
            max_frame_bytes: self.max_frame_bytes,
            max_queued_bytes: self.max_queued_bytes,
            max_ephemeral_bytes: self.max_ephemeral_bytes,
            ephemeral_per_sec: self.ephemeral_per_sec,
            max_open_documents: self.max_open_documents,
            document_requests_per_sec: self.document_requests_per_sec,
            ping_interval: Duration::from_secs(self.ping_secs),
            max_document_bytes: self.max_document_bytes,
            idle_unload: Duration::from_secs(self.idle_unload_secs),
            max_loaded_documents: self.max_loaded_documents,
            compact_after: self.compact_after,
            session_idle,
            session_max,
            auth_rate_per_min: self.auth_rate_per_min.max(1),
            tls: self.tls_cert.zip(self.tls_key),
            app_dir: self.app_dir,
            signal_key_file: self.database.signal_key_file,
            signal_retention_interval: Duration::from_secs(self.signal_retention_secs),
            clock: crate::state::Clock::default(),
            page_limit: crate::store::PageLimit::default(),
        })
    }
}

/// A database URL with any password replaced, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_the_origin_host() {
        let config = |origin: &str| Config {
            origin: origin.into(),
            ..ServeArgs::parse_from(["serve"]).validate().unwrap()
        };
        assert_eq!(config("http://localhost:8080").rp_id(), "localhost");
        assert!(!config("http://localhost:8080").secure_cookies());
        assert_eq!(
            config("https://veldwerk.ergens.nl").rp_id(),
            "veldwerk.ergens.nl"
        );
        assert!(config("https://veldwerk.ergens.nl").secure_cookies());
        assert!(config("http://192.168.1.5:8080").secure_cookies());
    }

    #[derive(clap::Parser)]
    struct Serve {
        #[command(flatten)]
        args: ServeArgs,
    }

    impl ServeArgs {
        fn parse_from(args: [&str; 1]) -> ServeArgs {
            use clap::Parser;
            Serve::parse_from(args).args
        }
    }

    #[test]
    fn hides_database_passwords() {
        assert_eq!(
            redact_url("postgres://vw:secret@db/veldwerk"),
            "postgres://vw:***@db/veldwerk"
        );
        assert_eq!(
            redact_url("sqlite://data/veldwerk.db"),
            "sqlite://data/veldwerk.db"
        );
    }
}
