//! Documents and their change log: what one sync message stores, the
//! snapshot and the changes since, news from other nodes, compaction, the
//! change feed between nodes and the quarantine.

use veldwerk_core::case::CaseProjection;
use veldwerk_core::identity::Compartment;

use sqlx::sqlite::SqlitePool;

use super::audit::{AuditEntry, AuditKey};
use super::group;
use super::{Backend, BeginWrite, Result, Store, StoreError};

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
        $crate::audit::append_audit!($tx, $key, &batch.audit, now);
        if batch.restricted && last_seq.is_some() {
            sqlx::query(
                "UPDATE cases SET signal_at = $1, signal_org_id = \
                 (SELECT u.organisation_id FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = $2) \
                 WHERE restricted_document_id = $3")
                .bind(now).bind(batch.device_id).bind(&batch.document_id)
                .execute(&mut *$tx).await?;
        }
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
pub(crate) use write_batch;

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
    /// The document is a case's restricted record: a change accepted on it
    /// is news for the directing case directors.
    pub restricted: bool,
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

impl Store {
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
