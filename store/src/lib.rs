//! Durable storage behind one type, `Store`, with SQLite (the embedded
//! default) and PostgreSQL backends. Handlers and sync sessions never see
//! sqlx: they call these methods and get `StoreError`s, translated here.
//!
//! Both backends run the same SQL text, written once: `$N` parameters and the
//! syntax the two share. `with_pool!` compiles each method once per backend.

mod error;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use error::{StoreError, Unique};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[derive(Clone)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The database, whichever it is.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// SQLite's one writer of change batches and audit entries (see `group.rs`).
    group: Option<group::GroupCommit>,
    /// What the audit chain's hashes are keyed with.
    audit_key: AuditKey,
}

/// Opens a write transaction. On SQLite it takes the write lock at once
/// (`BEGIN IMMEDIATE`): a deferred transaction that reads first and writes
/// later fails at once with "database is locked" when another connection wrote
/// in between (two people enrolling at the same moment did), and
/// `busy_timeout` does not help it. Waiting for the lock up front does.
trait BeginWrite {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send + '_;

    /// Opens a read-only transaction in which every query sees the database
    /// as of one moment, whatever other connections commit meanwhile.
    fn begin_read(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send + '_;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send + '_
    {
        self.begin_with("BEGIN IMMEDIATE")
    }

    fn begin_read(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send + '_
    {
        // In WAL mode a read transaction reads one snapshot from its first read on.
        self.begin_with("BEGIN DEFERRED")
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send + '_
    {
        self.begin()
    }

    fn begin_read(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send + '_
    {
        self.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    }
}

macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

mod audit;
mod cases;
mod direction;
mod documents;
mod group;
mod identity;
mod oversight;
pub use direction::{
    Decision, Handover, HandoverRequest, HouseholdLink, NewLink, OrganisationEntry, Undirected,
};
mod signals;
pub use oversight::{MonitorVisit, RadarCase};
pub use signals::{NewRegistration, Registration, SignalContact, SignalMatch, SignalRecord};

pub use audit::{AuditEntry, AuditKey, AuditRecord, AuditVerdict, HashCheck};
pub use cases::{CaseSummary, DocumentAccess, NewCaseRecord};
pub use documents::{
    ChangeBatch, ChangeFeed, DocumentNews, DocumentWrite, FeedEvent, NewChange, QuarantineEntry,
    QuarantinedChange, StoredDocument,
};
pub use identity::{
    Authn, Challenge, DeviceInfo, Enrollment, Invite, InviteState, Principal, StoredPasskey,
};

/// Where a database keeps its data, as far as this machine can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite database in this file.
    File(std::path::PathBuf),
    /// A SQLite database in memory: it ends with the process.
    Memory,
    /// A database server (PostgreSQL), on this machine or another.
    Server,
}

impl Location {
    /// Where the database `url` names keeps its data.
    pub fn of(url: &str) -> Result<Self> {
        if !url.starts_with("sqlite:") {
            return Ok(Location::Server);
        }
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("invalid SQLite URL: {e}")))?;
        let file = options.get_filename();
        if file.as_os_str().is_empty() || file.to_string_lossy().contains(":memory:") {
            Ok(Location::Memory)
        } else {
            Ok(Location::File(file.to_owned()))
        }
    }
}

/// How far a SQLite database may grow (`PRAGMA max_page_count`), changed
/// while the store runs: the way tests fill the disk without filling one,
/// and give the space back. The pragma holds for one connection only, so
/// the store applies the limit to each connection as it is opened or taken
/// from the pool. Unset (the default), nothing is applied; PostgreSQL
/// ignores it.
#[derive(Clone, Debug, Default)]
pub struct PageLimit(Arc<AtomicU64>);

impl PageLimit {
    /// SQLite's own ceiling, which lifts any limit set before.
    const NONE: u64 = 4_294_967_294;

    /// Lets the database grow to `pages` pages at most (it never shrinks
    /// below its size), or again without limit.
    pub fn set(&self, pages: Option<u32>) {
        let pages = pages.map_or(Self::NONE, |p| u64::from(p).max(1));
        self.0.store(pages, Ordering::SeqCst);
    }

    async fn apply(&self, conn: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
        let pages = self.0.load(Ordering::SeqCst);
        if pages != 0 {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "PRAGMA max_page_count = {pages}"
            )))
            .execute(conn)
            .await?;
        }
        Ok(())
    }
}

impl Store {
    /// Opens the database named by `url` (`sqlite:…` or `postgres:…`) and
    /// brings its schema up to date. The audit chain is hashed under `audit_key`.
    pub async fn connect(url: &str, audit_key: AuditKey) -> Result<Self> {
        Self::connect_limited(url, audit_key, PageLimit::default()).await
    }

    /// [`Store::connect`], with SQLite's connections held to `limit`.
    pub async fn connect_limited(url: &str, audit_key: AuditKey, limit: PageLimit) -> Result<Self> {
        let backend = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::Config(format!("invalid SQLite URL: {e}")))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // FULL: a commit is on disk before we acknowledge it.
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            if let Some(parent) = options.get_filename().parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|e| {
                    StoreError::Config(format!("cannot create {}: {e}", parent.display()))
                })?;
            }
            let (on_connect, on_acquire) = (limit.clone(), limit);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .after_connect(move |conn, _| {
                    let limit = on_connect.clone();
                    Box::pin(async move { limit.apply(conn).await })
                })
                .before_acquire(move |conn, _| {
                    let limit = on_acquire.clone();
                    Box::pin(async move { limit.apply(conn).await.map(|()| true) })
                })
                .connect_with(options)
                .await?;
            sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
            Backend::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::Config(format!("invalid PostgreSQL URL: {e}")))?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await?;
            sqlx::migrate!("../migrations/postgres").run(&pool).await?;
            Backend::Postgres(pool)
        } else {
            return Err(StoreError::Config(
                "database URL must start with sqlite: or postgres:".into(),
            ));
        };
        let group = match &backend {
            Backend::Sqlite(pool) => {
                Some(group::GroupCommit::start(pool.clone(), audit_key.clone()))
            }
            Backend::Postgres(_) => None,
        };
        Ok(Self {
            backend,
            group,
            audit_key,
        })
    }

    /// Which backend this is, for logs and metrics.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }

    /// Succeeds when the database answers.
    pub async fn ping(&self) -> Result<()> {
        with_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn close(&self) {
        with_pool!(self, pool => pool.close().await)
    }
}
