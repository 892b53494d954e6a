//! Group commit on SQLite. Every commit there waits for an fsync (a few
//! milliseconds on ordinary disks), and SQLite takes one writer at a time, so
//! committing each sync message on its own caps the whole server at a few
//! hundred commits a second however many documents are busy. One writer task
//! instead takes every write waiting at that moment, applies them in one
//! transaction, commits them all with one fsync, and only then answers each:
//! nothing is acknowledged before it is durable. Should one write fail, the
//! group is written again with each write in its own savepoint, so the
//! failing one is rolled back alone.

use sqlx::Connection;
use sqlx::sqlite::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::BeginWrite;
use super::audit::append_audit;
use super::documents::write_batch;
use super::{AuditEntry, AuditKey, ChangeBatch, Result, StoreError};

/// Writes waiting for the next group, at most.
const QUEUE: usize = 4096;
/// Writes committed together, at most.
const MAX_GROUP: usize = 256;

enum Write {
    Batch(Box<ChangeBatch>),
    Audit(Vec<AuditEntry>),
}

struct Job {
    write: Write,
    now: i64,
    /// The highest change `seq` the write logged, once durable.
    done: oneshot::Sender<Result<Option<i64>>>,
}

/// The way to the writer task.
#[derive(Clone)]
pub(super) struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the writer task; it ends when every `GroupCommit` is dropped.
    pub(super) fn start(pool: SqlitePool, audit_key: AuditKey) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, audit_key, queue));
        Self { jobs }
    }

    /// Commits a change batch; returns the highest change `seq` it logged.
    pub(super) async fn batch(&self, batch: ChangeBatch, now: i64) -> Result<Option<i64>> {
        self.submit(Write::Batch(Box::new(batch)), now).await
    }

    /// Appends audit entries.
    pub(super) async fn audit(&self, entries: Vec<AuditEntry>, now: i64) -> Result<()> {
        self.submit(Write::Audit(entries), now).await.map(|_| ())
    }

    async fn submit(&self, write: Write, now: i64) -> Result<Option<i64>> {
        let (done, outcome) = oneshot::channel();
        self.jobs
            .send(Job { write, now, done })
            .await
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))?;
        outcome
            .await
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))?
    }
}

async fn run(pool: SqlitePool, key: AuditKey, mut queue: mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        commit_group(&pool, &key, jobs).await;
    }
}

async fn commit_group(pool: &SqlitePool, key: &AuditKey, jobs: Vec<Job>) {
    // Most groups write cleanly: try the whole group in one go first, and
    // only when a write fails, again with each write in its own savepoint.
    let outcomes = match attempt(pool, key, &jobs, false).await {
        Ok(outcomes) if outcomes.iter().all(Result::is_ok) => Ok(outcomes),
        _ => attempt(pool, key, &jobs, true).await,
    };
    match outcomes {
        Ok(outcomes) => {
            for (job, outcome) in jobs.into_iter().zip(outcomes) {
                let _ = job.done.send(outcome);
            }
        }
        Err(e) => {
            // Nothing of the group is stored: every writer hears so.
            for job in jobs {
                let _ = job.done.send(Err(e.shared()));
            }
        }
    }
}

/// Writes a group in one transaction. Without savepoints, the first failing
/// write rolls everything back (its outcome is the only error returned).
async fn attempt(
    pool: &SqlitePool,
    key: &AuditKey,
    jobs: &[Job],
    savepoints: bool,
) -> Result<Vec<Result<Option<i64>>>> {
    let mut outcomes: Vec<Result<Option<i64>>> = Vec::with_capacity(jobs.len());
    let mut tx = pool.begin_write().await?;
    for job in jobs {
        if !savepoints {
            match write(&mut tx, key, &job.write, job.now).await {
                Ok(seq) => outcomes.push(Ok(seq)),
                Err(e) => {
                    tx.rollback().await?;
                    return Ok(vec![Err(e)]);
                }
            }
            continue;
        }
        let mut savepoint = tx.begin().await?;
        match write(&mut savepoint, key, &job.write, job.now).await {
            Ok(seq) => {
                savepoint.commit().await?;
                outcomes.push(Ok(seq));
            }
            Err(e) => {
                savepoint.rollback().await?;
                outcomes.push(Err(e));
            }
        }
    }
    tx.commit().await?;
    Ok(outcomes)
}

async fn write(
    conn: &mut SqliteConnection,
    key: &AuditKey,
    write: &Write,
    now: i64,
) -> Result<Option<i64>> {
    let tx = conn;
    match write {
        Write::Batch(batch) => Ok(write_batch!(tx, key, batch, now)),
        Write::Audit(entries) => {
            append_audit!(tx, key, entries, now);
            Ok(None)
        }
    }
}
