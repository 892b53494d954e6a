//! Durable storage behind one type, `Store`, with SQLite (the embedded
//! default) and PostgreSQL backends. Handlers and sync sessions never see
//! sqlx: they call these methods and get `StoreError`s, translated here.
//!
//! Both backends run the same SQL text, written once: `$N` parameters and the
//! syntax the two share. `with_pool!` compiles each method once per backend.

mod error;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use veldwerk_core::case::CaseProjection;
use veldwerk_core::identity::{Compartment, OrganisationKind, Role, Standing};

pub use error::StoreError;

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

/// Writes a batch inside an open transaction `$tx`.
macro_rules! write_batch {
    ($tx:ident, $key:expr, $batch:expr, $now:expr) => {{
        let batch: &ChangeBatch = $batch;
        let now: i64 = $now;
        for actor in &batch.bind_actors {
            sqlx::query("INSERT INTO actors (actor_id, device_id, bound_at) VALUES ($1, $2, $3)")
                .bind(actor).bind(batch.device_id).bind(now).execute(&mut *$tx).await?;
        }
        let mut last_seq: Option<i64> = None;
        for change in &batch.changes {
            let seq: Option<(i64,)> = sqlx::query_as(
                "INSERT INTO doc_changes (document_id, hash, bytes, device_id, stored_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (document_id, hash) DO NOTHING RETURNING seq")
                .bind(&batch.document_id).bind(&change.hash).bind(&change.bytes)
                .bind(batch.device_id).bind(now).fetch_optional(&mut *$tx).await?;
            if let Some((seq,)) = seq {
                last_seq = Some(last_seq.map_or(seq, |l| l.max(seq)));
            }
        }
        for q in &batch.quarantined {
            sqlx::query(
                "INSERT INTO quarantine (document_id, hash, bytes, device_id, reason, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (document_id, hash) DO NOTHING")
                .bind(&batch.document_id).bind(&q.hash).bind(&q.bytes).bind(batch.device_id)
                .bind(&q.reason).bind(now).execute(&mut *$tx).await?;
        }
        audit::append_audit!($tx, $key, &batch.audit, now);
        if let Some(projection) = &batch.projection {
            sqlx::query(
                "UPDATE cases SET label = $1, address_status = $2, last_visit_at = $3, updated_at = $4 \
                 WHERE id = (SELECT case_id FROM documents WHERE document_id = $5)")
                .bind(&projection.label).bind(projection.address_status.as_str())
                .bind(projection.last_visit_ms).bind(now).bind(&batch.document_id)
                .execute(&mut *$tx).await?;
            let (rows, gone): (Vec<&veldwerk_core::case::VisitRow>, Vec<&String>) = match &batch.changed_visits {
                None => {
                    sqlx::query("DELETE FROM visits WHERE document_id = $1")
                        .bind(&batch.document_id).execute(&mut *$tx).await?;
                    (projection.visits.iter().collect(), Vec::new())
                }
                Some(changed) => {
                    let rows: Vec<_> = projection.visits.iter().filter(|v| changed.contains(&v.id)).collect();
                    let gone = changed.iter().filter(|id| !rows.iter().any(|v| &v.id == *id)).collect();
                    (rows, gone)
                }
            };
            for id in gone {
                sqlx::query("DELETE FROM visits WHERE document_id = $1 AND visit_id = $2")
                    .bind(&batch.document_id).bind(id).execute(&mut *$tx).await?;
            }
            for visit in rows {
                let themes: Vec<&str> = visit.themes.iter().map(|t| t.as_str()).collect();
                sqlx::query(
                    "INSERT INTO visits (document_id, visit_id, at, author, organisation, kind, status, review_status, themes) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (document_id, visit_id) DO UPDATE SET at = excluded.at, author = excluded.author, \
                     organisation = excluded.organisation, kind = excluded.kind, status = excluded.status, \
                     review_status = excluded.review_status, themes = excluded.themes")
                    .bind(&batch.document_id).bind(&visit.id).bind(visit.at_ms).bind(&visit.author)
                    .bind(&visit.organisation).bind(visit.kind.as_str()).bind(visit.status.as_str())
                    .bind(visit.review.map(|r| r.as_str())).bind(themes.join(","))
                    .execute(&mut *$tx).await?;
            }
        }
        last_seq
    }};
}

/// Reads what was committed to a document after `$after` on connection `$conn`;
/// the snapshot only when it covers changes after `$after`.
macro_rules! read_news {
    ($conn:ident, $document_id:expr, $after:expr, $snapshot_seq:expr) => {{
        let document_id: &str = $document_id;
        let after: i64 = $after;
        let snapshot_seq: i64 = $snapshot_seq;
        let snapshot = if snapshot_seq > after {
            let (snapshot,): (Option<Vec<u8>>,) =
                sqlx::query_as("SELECT snapshot FROM documents WHERE document_id = $1")
                    .bind(document_id)
                    .fetch_one(&mut *$conn)
                    .await?;
            snapshot
        } else {
            None
        };
        let changes: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT seq, bytes FROM doc_changes WHERE document_id = $1 AND seq > $2 ORDER BY seq",
        )
        .bind(document_id)
        .bind(after)
        .fetch_all(&mut *$conn)
        .await?;
        let mut last_seq = after;
        if snapshot.is_some() {
            last_seq = last_seq.max(snapshot_seq);
        }
        if let Some((seq, _)) = changes.last() {
            last_seq = last_seq.max(*seq);
        }
        Ok(DocumentNews {
            snapshot,
            changes: changes.into_iter().map(|c| c.1).collect(),
            last_seq,
        })
    }};
}

/// The PostgreSQL channel on which nodes tell each other what they did:
/// payloads are `<origin node> <topic> <subject>`.
const CHANGE_CHANNEL: &str = "veldwerk_changes";
/// The topic of a commit to a document; the subject is its id.
const CHANGE_TOPIC: &str = "change";

/// A write to one stored document: see [`Store::begin_document_write`].
pub struct DocumentWrite {
    document_id: String,
    inner: WriteInner,
    audit_key: AuditKey,
}

enum WriteInner {
    Sqlite {
        pool: SqlitePool,
        group: Option<group::GroupCommit>,
    },
    Postgres {
        tx: sqlx::Transaction<'static, sqlx::Postgres>,
        snapshot_seq: i64,
    },
}

impl DocumentWrite {
    /// What other nodes committed after `after_seq` and before this write
    /// took the lock. Always empty on SQLite (one node).
    pub async fn news(&mut self, after_seq: i64) -> Result<DocumentNews> {
        match &mut self.inner {
            WriteInner::Sqlite { .. } => Ok(DocumentNews {
                last_seq: after_seq,
                ..DocumentNews::default()
            }),
            WriteInner::Postgres { tx, snapshot_seq } => {
                let snapshot_seq = *snapshot_seq;
                let document_id = self.document_id.as_str();
                let conn: &mut sqlx::PgConnection = tx;
                read_news!(conn, document_id, after_seq, snapshot_seq)
            }
        }
    }

    /// The device an actor id is bound to, if any (inside the write, so a
    /// node holding many document locks never waits for another connection).
    pub async fn actor_device(&mut self, actor_id: &str) -> Result<Option<i64>> {
        const SQL: &str = "SELECT device_id FROM actors WHERE actor_id = $1";
        let row: Option<(i64,)> = match &mut self.inner {
            WriteInner::Sqlite { pool, .. } => {
                sqlx::query_as(SQL)
                    .bind(actor_id)
                    .fetch_optional(&*pool)
                    .await?
            }
            WriteInner::Postgres { tx, .. } => {
                sqlx::query_as(SQL)
                    .bind(actor_id)
                    .fetch_optional(&mut **tx)
                    .await?
            }
        };
        Ok(row.map(|r| r.0))
    }

    /// Commits a batch for this document and, on PostgreSQL, tells the other
    /// nodes (`origin` names this one). Returns the highest `seq` logged.
    pub async fn commit(self, batch: &ChangeBatch, origin: &str, now: i64) -> Result<Option<i64>> {
        match self.inner {
            WriteInner::Sqlite {
                group: Some(group), ..
            } => group.batch(batch.clone(), now).await,
            WriteInner::Sqlite { pool, group: None } => {
                let mut tx = pool.begin_write().await?;
                let last_seq = write_batch!(tx, &self.audit_key, batch, now);
                tx.commit().await?;
                Ok(last_seq)
            }
            WriteInner::Postgres { mut tx, .. } => {
                let last_seq = write_batch!(tx, &self.audit_key, batch, now);
                if last_seq.is_some() {
                    // Delivered to listeners when (and only if) this commits.
                    sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(CHANGE_CHANNEL)
                        .bind(format!("{origin} {CHANGE_TOPIC} {}", self.document_id))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(last_seq)
            }
        }
    }

    /// Replaces the logged changes up to `through_seq` by `snapshot`, which
    /// must contain all of them, so loading never replays an unbounded log.
    pub async fn compact(self, snapshot: &[u8], through_seq: i64, now: i64) -> Result<()> {
        macro_rules! compact_in {
            ($tx:ident) => {{
                sqlx::query(
                    "UPDATE documents SET snapshot = $1, snapshot_at = $2, snapshot_seq = $3 \
                     WHERE document_id = $4",
                )
                .bind(snapshot)
                .bind(now)
                .bind(through_seq)
                .bind(&self.document_id)
                .execute(&mut *$tx)
                .await?;
                sqlx::query("DELETE FROM doc_changes WHERE document_id = $1 AND seq <= $2")
                    .bind(&self.document_id)
                    .bind(through_seq)
                    .execute(&mut *$tx)
                    .await?;
                $tx.commit().await?;
            }};
        }
        match self.inner {
            WriteInner::Sqlite { pool, .. } => {
                let mut tx = pool.begin_write().await?;
                compact_in!(tx);
            }
            WriteInner::Postgres { mut tx, .. } => compact_in!(tx),
        }
        Ok(())
    }
}

/// What a node hears from the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedEvent {
    /// A node (`origin`, its peer id) committed changes to a document.
    Changed { origin: String, document_id: String },
    /// A node announced something else (see [`Store::announce`]).
    Announced {
        origin: String,
        topic: String,
        subject: String,
    },
    /// The feed's connection was lost and is back: anything may have been
    /// missed in between.
    Resumed,
}

/// Notifications of commits by any node on the same PostgreSQL database.
pub struct ChangeFeed {
    listener: sqlx::postgres::PgListener,
}

impl ChangeFeed {
    /// The next event; an error means the feed is broken and must be reopened.
    pub async fn next(&mut self) -> Result<FeedEvent> {
        loop {
            match self.listener.try_recv().await? {
                None => return Ok(FeedEvent::Resumed),
                Some(notification) => {
                    let mut parts = notification.payload().splitn(3, ' ');
                    if let (Some(origin), Some(topic), Some(subject)) =
                        (parts.next(), parts.next(), parts.next())
                    {
                        let origin = origin.to_owned();
                        return Ok(if topic == CHANGE_TOPIC {
                            FeedEvent::Changed {
                                origin,
                                document_id: subject.to_owned(),
                            }
                        } else {
                            FeedEvent::Announced {
                                origin,
                                topic: topic.to_owned(),
                                subject: subject.to_owned(),
                            }
                        });
                    }
                }
            }
        }
    }
}

/// Inserts a device and binds its actor id to it, inside an open transaction.
macro_rules! insert_device {
    ($tx:ident, $user_id:expr, $name:expr, $actor_id:expr, $now:expr) => {{
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO devices (user_id, name, actor_id, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind($user_id).bind($name).bind($actor_id).bind($now)
            .fetch_one(&mut *$tx).await?;
        sqlx::query("INSERT INTO actors (actor_id, device_id, bound_at) VALUES ($1, $2, $3)")
            .bind($actor_id).bind(id).bind($now).execute(&mut *$tx).await?;
        id
    }};
}

/// The person and device behind an authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub handle: String,
    pub organisation_id: i64,
    pub organisation: String,
    pub organisation_kind: OrganisationKind,
    pub role: Role,
    pub device_id: i64,
    pub device_name: String,
    /// The automerge actor id (hex) this device writes with in our own app.
    pub actor_id: String,
}

/// What a presented credential (token, session, ticket) turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authn {
    Valid(Principal),
    /// The credential belongs to a device that was revoked: it must wipe its data.
    DeviceRevoked {
        device_id: i64,
    },
    /// A session past its idle timeout or absolute lifetime, or a used-up ticket.
    Expired,
    AlreadyUsed,
    Unknown,
}

/// One case in a caseload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseSummary {
    pub id: i64,
    pub document_id: String,
    pub label: String,
    pub address_status: String,
    pub last_visit_at: Option<i64>,
    pub restricted_document_id: Option<String>,
}

type CaseRow = (i64, String, String, String, Option<i64>, Option<String>);

fn case_summary(row: CaseRow) -> CaseSummary {
    let (id, document_id, label, address_status, last_visit_at, restricted_document_id) = row;
    CaseSummary {
        id,
        document_id,
        label,
        address_status,
        last_visit_at,
        restricted_document_id,
    }
}

/// Where a document belongs and whether an organisation is on its case's team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentAccess {
    pub case_id: i64,
    pub compartment: Compartment,
    pub organisation_on_team: bool,
    pub organisation_directs: bool,
}

impl DocumentAccess {
    pub fn standing(&self) -> Standing {
        Standing {
            on_team: self.organisation_on_team,
            directs: self.organisation_directs,
        }
    }
}

/// A document as stored: its latest snapshot and the changes logged since.
#[derive(Debug, Clone)]
pub struct StoredDocument {
    pub case_id: i64,
    pub compartment: Compartment,
    pub snapshot: Option<Vec<u8>>,
    pub changes: Vec<Vec<u8>>,
    /// The highest change `seq` this covers (the snapshot's, or the last change's).
    pub last_seq: i64,
}

/// What other nodes committed to a document after a given `seq`.
#[derive(Debug, Clone, Default)]
pub struct DocumentNews {
    /// The latest snapshot, when it covers changes after that `seq` (another
    /// node compacted, and those changes are no longer in the log).
    pub snapshot: Option<Vec<u8>>,
    /// The changes logged after that `seq`, in order.
    pub changes: Vec<Vec<u8>>,
    /// The highest `seq` covered now.
    pub last_seq: i64,
}

impl DocumentNews {
    pub fn is_empty(&self) -> bool {
        self.snapshot.is_none() && self.changes.is_empty()
    }
}

/// One automerge change to store.
#[derive(Debug, Clone)]
pub struct NewChange {
    pub hash: String,
    pub bytes: Vec<u8>,
}

/// A change the rules refused, kept with the reason.
#[derive(Debug, Clone)]
pub struct QuarantinedChange {
    pub hash: String,
    pub bytes: Vec<u8>,
    pub reason: String,
}

/// Everything one sync message leads to, stored in one transaction, so the
/// change log, the projections and the actor bindings never disagree.
#[derive(Debug, Clone, Default)]
pub struct ChangeBatch {
    pub document_id: String,
    pub device_id: i64,
    pub changes: Vec<NewChange>,
    pub quarantined: Vec<QuarantinedChange>,
    /// New actor ids first seen from this device.
    pub bind_actors: Vec<String>,
    /// The document's projection after the changes, when they were accepted.
    pub projection: Option<CaseProjection>,
    /// The only visits whose rows may have changed, when that is known;
    /// otherwise every visit row of the document is rewritten.
    pub changed_visits: Option<Vec<String>>,
    /// What the audit log records of this batch (no content).
    pub audit: Vec<AuditEntry>,
}

/// A quarantined change as admins see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuarantineEntry {
    pub id: i64,
    pub document_id: String,
    pub hash: String,
    pub device_id: i64,
    pub handle: String,
    pub reason: String,
    pub created_at: i64,
}

/// The pieces of a case registered with its first document.
#[derive(Debug, Clone)]
pub struct NewCaseRecord {
    pub document_id: String,
    /// The id of the case's (initially empty) restricted record.
    pub restricted_document_id: String,
    pub creator_user_id: i64,
    pub creator_organisation_id: i64,
    /// The creator's organisation directs the case when it is a municipality;
    /// otherwise the case awaits direction.
    pub directing_org_id: Option<i64>,
    pub batch: ChangeBatch,
}

type PrincipalRow = (
    i64,
    String,
    i64,
    String,
    String,
    String,
    i64,
    String,
    String,
    Option<i64>,
);

/// `SELECT` of a principal's columns, followed by the rest of the query.
macro_rules! select_principal {
    ($rest:literal) => {
        concat!(
            "SELECT u.id, u.handle, o.id, o.name, o.kind, u.role, d.id, d.name, d.actor_id, d.revoked_at \
             FROM devices d JOIN users u ON u.id = d.user_id \
             JOIN organisations o ON o.id = u.organisation_id ",
            $rest
        )
    };
}

/// A principal row as an authentication outcome: valid, or its device revoked.
fn authn(row: Option<PrincipalRow>) -> Result<Authn> {
    match row {
        None => Ok(Authn::Unknown),
        Some(row) if row.9.is_some() => Ok(Authn::DeviceRevoked { device_id: row.6 }),
        Some(row) => principal(row).map(Authn::Valid),
    }
}

fn principal(row: PrincipalRow) -> Result<Principal> {
    let (
        user_id,
        handle,
        organisation_id,
        organisation,
        kind,
        role,
        device_id,
        device_name,
        actor_id,
        _revoked_at,
    ) = row;
    Ok(Principal {
        user_id,
        handle,
        organisation_id,
        organisation,
        organisation_kind: kind
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
        role: role
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
        device_id,
        device_name,
        actor_id,
    })
}

mod audit;
mod direction;
mod group;
mod identity;
mod oversight;
pub use direction::{
    Decision, Handover, HandoverRequest, HouseholdLink, NewLink, OrganisationEntry, Undirected,
};
mod signals;
pub use oversight::{MonitorVisit, RadarCase};
pub use signals::{NewSignal, Registration, SignalContact, SignalMatch, SignalRecord};

pub use audit::{AuditEntry, AuditKey, AuditRecord, AuditVerdict, HashCheck};
pub use identity::{Challenge, DeviceInfo, Enrollment, Invite, InviteState, StoredPasskey};

impl Store {
    /// Opens the database named by `url` (`sqlite:…` or `postgres:…`) and
    /// brings its schema up to date. The audit chain is hashed under `audit_key`.
    pub async fn connect(url: &str, audit_key: AuditKey) -> Result<Self> {
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
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
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

    // --- identity -------------------------------------------------------

    pub async fn add_organisation(
        &self,
        name: &str,
        kind: OrganisationKind,
        now: i64,
    ) -> Result<i64> {
        let id: (i64,) = with_pool!(self, pool => sqlx::query_as(
            "INSERT INTO organisations (name, kind, created_at) VALUES ($1, $2, $3) RETURNING id")
            .bind(name).bind(kind.as_str()).bind(now)
            .fetch_one(pool).await)?;
        Ok(id.0)
    }

    pub async fn add_user(
        &self,
        organisation: &str,
        handle: &str,
        role: Role,
        now: i64,
    ) -> Result<i64> {
        let org: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id FROM organisations WHERE name = $1").bind(organisation).fetch_optional(pool).await)?;
        let (org_id,) = org.ok_or(StoreError::NotFound("organisation"))?;
        let id: (i64,) = with_pool!(self, pool => sqlx::query_as(
            "INSERT INTO users (handle, organisation_id, role, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(handle).bind(org_id).bind(role.as_str()).bind(now)
            .fetch_one(pool).await)?;
        Ok(id.0)
    }

    /// Stores the hash of a new API token for a user's named device, creating
    /// the device (with `actor_id`, bound to it) the first time it is named.
    pub async fn add_api_token(
        &self,
        handle: &str,
        device_name: &str,
        new_actor_id: &str,
        token_hash: &str,
        now: i64,
    ) -> Result<Principal> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let user: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE handle = $1")
                .bind(handle).fetch_optional(&mut *tx).await?;
            let (user_id,) = user.ok_or(StoreError::NotFound("user"))?;
            let existing: Option<(i64, Option<i64>)> = sqlx::query_as(
                "SELECT id, revoked_at FROM devices WHERE user_id = $1 AND name = $2")
                .bind(user_id).bind(device_name).fetch_optional(&mut *tx).await?;
            let device_id = match existing {
                Some((_, Some(_))) => return Err(StoreError::Conflict("device is revoked".into())),
                Some((id, None)) => id,
                None => insert_device!(tx, user_id, device_name, new_actor_id, now),
            };
            sqlx::query("INSERT INTO api_tokens (device_id, token_hash, created_at) VALUES ($1, $2, $3)")
                .bind(device_id).bind(token_hash).bind(now).execute(&mut *tx).await?;
            let row: PrincipalRow = sqlx::query_as(select_principal!("WHERE d.id = $1"))
                .bind(device_id).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            principal(row)
        })
    }

    /// Who holds an API token (not revoked itself), and whether their device is live.
    pub async fn principal_by_token(&self, token_hash: &str, now: i64) -> Result<Authn> {
        let row: Option<PrincipalRow> = with_pool!(self, pool => sqlx::query_as(select_principal!(
            "JOIN api_tokens t ON t.device_id = d.id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL"))
            .bind(token_hash).fetch_optional(pool).await)?;
        let outcome = authn(row)?;
        if let Authn::Valid(principal) = &outcome {
            self.touch_device(principal.device_id, now).await?;
        }
        Ok(outcome)
    }

    pub(crate) async fn touch_device(&self, device_id: i64, now: i64) -> Result<()> {
        with_pool!(self, pool => sqlx::query("UPDATE devices SET last_seen_at = $1 WHERE id = $2")
            .bind(now).bind(device_id).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn add_sync_ticket(
        &self,
        device_id: i64,
        ticket_hash: &str,
        expires_at: i64,
    ) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO sync_tickets (ticket_hash, device_id, expires_at) VALUES ($1, $2, $3)")
            .bind(ticket_hash).bind(device_id).bind(expires_at).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Uses a ticket up: succeeds once, within its lifetime, for a live device.
    pub async fn redeem_sync_ticket(&self, ticket_hash: &str, now: i64) -> Result<Authn> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let ticket: Option<(i64, i64, Option<i64>)> = sqlx::query_as(
                "SELECT device_id, expires_at, used_at FROM sync_tickets WHERE ticket_hash = $1")
                .bind(ticket_hash).fetch_optional(&mut *tx).await?;
            let outcome = match ticket {
                None => Authn::Unknown,
                Some((_, _, Some(_))) => Authn::AlreadyUsed,
                Some((_, expires_at, None)) if expires_at <= now => Authn::Expired,
                Some((device_id, _, None)) => {
                    let used = sqlx::query(
                        "UPDATE sync_tickets SET used_at = $1 WHERE ticket_hash = $2 AND used_at IS NULL")
                        .bind(now).bind(ticket_hash).execute(&mut *tx).await?.rows_affected();
                    let row: Option<PrincipalRow> = sqlx::query_as(select_principal!("WHERE d.id = $1"))
                        .bind(device_id).fetch_optional(&mut *tx).await?;
                    if used == 1 { authn(row)? } else { Authn::AlreadyUsed }
                }
            };
            tx.commit().await?;
            Ok(outcome)
        })
    }

    /// The device an actor id is bound to, if any.
    pub async fn actor_device(&self, actor_id: &str) -> Result<Option<i64>> {
        let row: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT device_id FROM actors WHERE actor_id = $1").bind(actor_id).fetch_optional(pool).await)?;
        Ok(row.map(|r| r.0))
    }

    /// The person (handle, organisation) behind an actor id: the device it is
    /// bound to, or whose own actor id it is.
    pub async fn actor_person(&self, actor_id: &str) -> Result<Option<(String, String)>> {
        let row: Option<(String, String)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT u.handle, o.name FROM devices d JOIN users u ON u.id = d.user_id \
             JOIN organisations o ON o.id = u.organisation_id \
             WHERE d.id = (SELECT device_id FROM actors WHERE actor_id = $1) OR d.actor_id = $1 LIMIT 1")
            .bind(actor_id).fetch_optional(pool).await)?;
        Ok(row)
    }

    // --- cases and documents ---------------------------------------------

    /// Where a document belongs, as seen by one organisation; `None` when no
    /// such document exists.
    pub async fn document_access(
        &self,
        document_id: &str,
        organisation_id: i64,
    ) -> Result<Option<DocumentAccess>> {
        let row: Option<(i64, String, i64, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT d.case_id, d.compartment, \
                    (SELECT COUNT(*) FROM case_team t WHERE t.case_id = d.case_id AND t.organisation_id = $2), \
                    (SELECT COUNT(*) FROM cases c WHERE c.id = d.case_id AND c.directing_org_id = $2) \
             FROM documents d WHERE d.document_id = $1")
            .bind(document_id).bind(organisation_id).fetch_optional(pool).await)?;
        row.map(|(case_id, compartment, on_team, directs)| {
            Ok(DocumentAccess {
                case_id,
                compartment: compartment
                    .parse()
                    .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
                organisation_on_team: on_team > 0,
                organisation_directs: directs > 0,
            })
        })
        .transpose()
    }

    /// The cases whose team includes an organisation, most recently visited first.
    pub async fn caseload(&self, organisation_id: i64) -> Result<Vec<CaseSummary>> {
        let rows: Vec<CaseRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT c.id, c.document_id, c.label, c.address_status, c.last_visit_at, c.restricted_document_id \
             FROM cases c JOIN case_team t ON t.case_id = c.id WHERE t.organisation_id = $1 \
             ORDER BY c.last_visit_at IS NULL, c.last_visit_at DESC, c.id")
            .bind(organisation_id).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(case_summary).collect())
    }

    /// The summary of the case a document belongs to.
    pub async fn case_summary(&self, document_id: &str) -> Result<Option<CaseSummary>> {
        let row: Option<CaseRow> = with_pool!(self, pool => sqlx::query_as(
            "SELECT c.id, c.document_id, c.label, c.address_status, c.last_visit_at, c.restricted_document_id \
             FROM cases c JOIN documents d ON d.case_id = c.id WHERE d.document_id = $1")
            .bind(document_id).fetch_optional(pool).await)?;
        Ok(row.map(case_summary))
    }

    /// The organisation directing a case, if any.
    pub async fn directing_organisation(&self, case_id: i64) -> Result<Option<i64>> {
        let row: Option<(Option<i64>,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT directing_org_id FROM cases WHERE id = $1").bind(case_id).fetch_optional(pool).await)?;
        Ok(row.and_then(|r| r.0))
    }

    /// The organisations on a case's team, by name.
    pub async fn case_team(&self, case_id: i64) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT o.name FROM case_team t JOIN organisations o ON o.id = t.organisation_id \
             WHERE t.case_id = $1 ORDER BY o.name")
            .bind(case_id).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Puts an organisation on a case's team or takes it off, recording why in the audit log.
    pub async fn set_team_member(
        &self,
        case_id: i64,
        organisation_id: i64,
        on_team: bool,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            if on_team {
                sqlx::query("INSERT INTO case_team (case_id, organisation_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(case_id).bind(organisation_id).execute(&mut *tx).await?;
            } else {
                sqlx::query("DELETE FROM case_team WHERE case_id = $1 AND organisation_id = $2")
                    .bind(case_id).bind(organisation_id).execute(&mut *tx).await?;
            }
            audit::append_audit!(tx, &self.audit_key, [audit], now);
            tx.commit().await?;
            Ok(())
        })
    }

    /// Registers a new case with its general record, in one transaction.
    pub async fn create_case(&self, record: &NewCaseRecord, now: i64) -> Result<i64> {
        self.create_case_logged(record, now)
            .await
            .map(|(case_id, _)| case_id)
    }

    /// As [`Store::create_case`]; also returns the highest change `seq` logged.
    pub async fn create_case_logged(&self, record: &NewCaseRecord, now: i64) -> Result<(i64, i64)> {
        let projection = record
            .batch
            .projection
            .as_ref()
            .ok_or_else(|| StoreError::Corrupt("a new case needs its projection".into()))?;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let (case_id,): (i64,) = sqlx::query_as(
                "INSERT INTO cases (document_id, directing_org_id, created_by_user_id, created_at, label, address_status, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $4) RETURNING id")
                .bind(&record.document_id).bind(record.directing_org_id).bind(record.creator_user_id)
                .bind(now).bind(&projection.label).bind(projection.address_status.as_str())
                .fetch_one(&mut *tx).await?;
            sqlx::query("INSERT INTO case_team (case_id, organisation_id) VALUES ($1, $2)")
                .bind(case_id).bind(record.creator_organisation_id).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO documents (document_id, case_id, compartment) VALUES ($1, $2, 'general')")
                .bind(&record.document_id).bind(case_id).execute(&mut *tx).await?;
            // The restricted record starts empty; the first who may write it creates its skeleton.
            sqlx::query("INSERT INTO documents (document_id, case_id, compartment) VALUES ($1, $2, 'restricted')")
                .bind(&record.restricted_document_id).bind(case_id).execute(&mut *tx).await?;
            sqlx::query("UPDATE cases SET restricted_document_id = $1 WHERE id = $2")
                .bind(&record.restricted_document_id).bind(case_id).execute(&mut *tx).await?;
            let mut batch = record.batch.clone();
            for entry in &mut batch.audit {
                entry.case_id.get_or_insert(case_id);
            }
            let last_seq = write_batch!(tx, &self.audit_key, &batch, now);
            tx.commit().await?;
            Ok((case_id, last_seq.unwrap_or(0)))
        })
    }

    /// Stores what one sync message brought: accepted changes, quarantined
    /// ones, new actor bindings and the updated projection, all or nothing.
    /// A batch of quarantined changes alone may be for a document that is not
    /// (and will not become) a case.
    pub async fn commit_batch(&self, batch: &ChangeBatch, now: i64) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            write_batch!(tx, &self.audit_key, batch, now);
            tx.commit().await?;
            Ok(())
        })
    }

    /// A document's latest snapshot and the changes logged after it.
    pub async fn load_document(&self, document_id: &str) -> Result<Option<StoredDocument>> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let row: Option<(i64, String, Option<Vec<u8>>, i64)> = sqlx::query_as(
                "SELECT case_id, compartment, snapshot, snapshot_seq FROM documents WHERE document_id = $1")
                .bind(document_id).fetch_optional(&mut *tx).await?;
            let Some((case_id, compartment, snapshot, snapshot_seq)) = row else { return Ok(None) };
            let compartment = compartment.parse().map_err(|e| StoreError::Corrupt(format!("{e}")))?;
            let changes: Vec<(i64, Vec<u8>)> = sqlx::query_as(
                "SELECT seq, bytes FROM doc_changes WHERE document_id = $1 ORDER BY seq")
                .bind(document_id).fetch_all(&mut *tx).await?;
            tx.commit().await?;
            let last_seq = changes.last().map_or(snapshot_seq, |c| c.0.max(snapshot_seq));
            Ok(Some(StoredDocument {
                case_id,
                compartment,
                snapshot,
                changes: changes.into_iter().map(|c| c.1).collect(),
                last_seq,
            }))
        })
    }

    /// What was committed to a document after `after_seq`, read without a
    /// lock: for a node that heard another one committed something.
    pub async fn document_news(&self, document_id: &str, after_seq: i64) -> Result<DocumentNews> {
        // One snapshot for all reads: a compaction committed between reading
        // `snapshot_seq` and the change log would otherwise hide the changes
        // it folded into the snapshot, and this node would miss them.
        with_pool!(self, pool => {
            let mut conn = pool.begin_read().await?;
            let row: Option<(i64,)> = sqlx::query_as(
                "SELECT snapshot_seq FROM documents WHERE document_id = $1")
                .bind(document_id).fetch_optional(&mut *conn).await?;
            let Some((snapshot_seq,)) = row else { return Ok(DocumentNews::default()) };
            let news: Result<DocumentNews> = read_news!(conn, document_id, after_seq, snapshot_seq);
            conn.commit().await?;
            news
        })
    }

    /// Begins a write to a stored document. On PostgreSQL this takes the
    /// document's row lock, held until the write commits or is dropped, so
    /// nodes commit to one document one at a time, each after it has caught
    /// up with the others ([`DocumentWrite::news`]).
    pub async fn begin_document_write(&self, document_id: &str) -> Result<DocumentWrite> {
        let inner = match &self.backend {
            // One node per SQLite database: the document's mutex in the
            // registry already serialises its writes.
            Backend::Sqlite(pool) => WriteInner::Sqlite {
                pool: pool.clone(),
                group: self.group.clone(),
            },
            Backend::Postgres(pool) => {
                let mut tx = pool.begin_write().await?;
                let row: Option<(i64,)> = sqlx::query_as(
                    "SELECT snapshot_seq FROM documents WHERE document_id = $1 FOR UPDATE",
                )
                .bind(document_id)
                .fetch_optional(&mut *tx)
                .await?;
                let (snapshot_seq,) = row.ok_or(StoreError::NotFound("document"))?;
                WriteInner::Postgres { tx, snapshot_seq }
            }
        };
        Ok(DocumentWrite {
            document_id: document_id.to_owned(),
            inner,
            audit_key: self.audit_key.clone(),
        })
    }

    /// Tells the other nodes on this database about something (`topic`,
    /// `subject`: no spaces in the topic) after it was committed. Does
    /// nothing on SQLite, where there are no other nodes.
    pub async fn announce(&self, origin: &str, topic: &str, subject: &str) -> Result<()> {
        if let Backend::Postgres(pool) = &self.backend {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CHANGE_CHANNEL)
                .bind(format!("{origin} {topic} {subject}"))
                .execute(pool)
                .await?;
        }
        Ok(())
    }

    /// Notifications of documents changed by other nodes; `None` on SQLite,
    /// where there are no other nodes.
    pub async fn change_feed(&self) -> Result<Option<ChangeFeed>> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(pool) => {
                let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
                listener.listen(CHANGE_CHANNEL).await?;
                Ok(Some(ChangeFeed { listener }))
            }
        }
    }

    /// Quarantined changes, newest first.
    pub async fn quarantine(&self, limit: i64) -> Result<Vec<QuarantineEntry>> {
        let rows: Vec<(i64, String, String, i64, String, String, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT q.id, q.document_id, q.hash, q.device_id, u.handle, q.reason, q.created_at \
             FROM quarantine q JOIN devices d ON d.id = q.device_id JOIN users u ON u.id = d.user_id \
             ORDER BY q.id DESC LIMIT $1")
            .bind(limit).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(
                |(id, document_id, hash, device_id, handle, reason, created_at)| QuarantineEntry {
                    id,
                    document_id,
                    hash,
                    device_id,
                    handle,
                    reason,
                    created_at,
                },
            )
            .collect())
    }

    /// The hashes of all changes stored for a document (log only), for tests and checks.
    pub async fn logged_change_hashes(&self, document_id: &str) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT hash FROM doc_changes WHERE document_id = $1 ORDER BY seq")
            .bind(document_id).fetch_all(pool).await)?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }
}
