//! The audit log: append-only and hash-chained. Each entry's hash covers its
//! own fields and the previous entry's hash, so editing or removing any entry
//! breaks the chain from there on. Entries hold ids and counts, never content.

use sha2::{Digest, Sha256};

use super::BeginWrite;
use super::{Backend, Result, Store};

/// One thing to record: who did what to which case, through what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub user_id: Option<i64>,
    pub device_id: Option<i64>,
    pub organisation_id: Option<i64>,
    /// What happened, e.g. `case.read`, `case.change`, `auth.sign_in`.
    pub action: &'static str,
    pub case_id: Option<i64>,
    pub compartment: Option<String>,
    /// `sync`, `api`, `cli` or `server`.
    pub via: &'static str,
    /// Ids, counts and reasons; never case content.
    pub detail: String,
}

/// An entry as stored, with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: i64,
    pub user_id: Option<i64>,
    pub device_id: Option<i64>,
    pub organisation_id: Option<i64>,
    pub action: String,
    pub case_id: Option<i64>,
    pub compartment: Option<String>,
    pub via: String,
    pub detail: String,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditRecord {
    /// The hash this entry must carry, given its fields and predecessor.
    pub fn expected_hash(&self) -> String {
        chain_hash(
            self.seq,
            self.at,
            [
                self.user_id,
                self.device_id,
                self.organisation_id,
                self.case_id,
            ],
            [
                &self.action,
                self.compartment.as_deref().unwrap_or(""),
                &self.via,
                &self.detail,
            ],
            &self.prev_hash,
        )
    }
}

/// SHA-256 over the fields, each length-prefixed so no two entries collide.
fn chain_hash(
    seq: i64,
    at: i64,
    ids: [Option<i64>; 4],
    texts: [&str; 4],
    prev_hash: &str,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(seq.to_be_bytes());
    hasher.update(at.to_be_bytes());
    for id in ids {
        match id {
            Some(id) => {
                hasher.update([1]);
                hasher.update(id.to_be_bytes());
            }
            None => hasher.update([0]),
        }
    }
    for text in texts.into_iter().chain([prev_hash]) {
        hasher.update((text.len() as u64).to_be_bytes());
        hasher.update(text.as_bytes());
    }
    hex::encode(hasher.finalize())
}

impl AuditEntry {
    pub(crate) fn hash(&self, seq: i64, at: i64, prev_hash: &str) -> String {
        chain_hash(
            seq,
            at,
            [
                self.user_id,
                self.device_id,
                self.organisation_id,
                self.case_id,
            ],
            [
                self.action,
                self.compartment.as_deref().unwrap_or(""),
                self.via,
                &self.detail,
            ],
            prev_hash,
        )
    }
}

/// Appends entries inside an open transaction `$tx`. Updating the head row
/// first takes its lock, so concurrent appends (on any server node) queue up.
macro_rules! append_audit {
    ($tx:ident, $entries:expr, $now:expr) => {{
        for entry in $entries {
            let entry: &$crate::store::AuditEntry = entry;
            let (seq, prev_hash): (i64, String) = sqlx::query_as(
                "UPDATE audit_head SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq, last_hash")
                .fetch_one(&mut *$tx).await?;
            let hash = entry.hash(seq, $now, &prev_hash);
            sqlx::query(
                "INSERT INTO audit_log (seq, at, user_id, device_id, organisation_id, action, case_id, compartment, via, detail, prev_hash, hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
                .bind(seq).bind($now).bind(entry.user_id).bind(entry.device_id).bind(entry.organisation_id)
                .bind(entry.action).bind(entry.case_id).bind(&entry.compartment).bind(entry.via)
                .bind(&entry.detail).bind(&prev_hash).bind(&hash)
                .execute(&mut *$tx).await?;
            sqlx::query("UPDATE audit_head SET last_hash = $1 WHERE id = 1")
                .bind(&hash).execute(&mut *$tx).await?;
        }
    }};
}
pub(crate) use append_audit;

impl Store {
    /// Appends entries to the audit log in their own transaction.
    pub async fn audit(&self, entries: &[AuditEntry], now: i64) -> Result<()> {
        if let Some(group) = &self.group {
            return group.audit(entries.to_vec(), now).await;
        }
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            append_audit!(tx, entries, now);
            tx.commit().await?;
            Ok(())
        })
    }

    /// Up to `limit` entries after `after_seq`, in order.
    pub async fn audit_records(&self, after_seq: i64, limit: i64) -> Result<Vec<AuditRecord>> {
        let rows: Vec<AuditRecord> = with_pool!(self, pool => sqlx::query_as(
            "SELECT seq, at, user_id, device_id, organisation_id, action, case_id, compartment, via, detail, prev_hash, hash \
             FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after_seq).bind(limit).fetch_all(pool).await)?;
        Ok(rows)
    }

    /// The last sequence number and hash the chain's head records.
    pub async fn audit_head(&self) -> Result<(i64, String)> {
        let head: (i64, String) = with_pool!(self, pool => sqlx::query_as(
            "SELECT last_seq, last_hash FROM audit_head WHERE id = 1").fetch_one(pool).await)?;
        Ok(head)
    }
}
