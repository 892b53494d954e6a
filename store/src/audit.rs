//! The audit log: append-only and hash-chained. Each entry's hash covers its
//! own fields and the previous entry's hash, so editing or removing any entry
//! breaks the chain from there on. Entries hold ids and counts, never content.
//!
//! The hash is an HMAC under [`AuditKey`], a key kept outside the database: a
//! plain hash could be recomputed by anyone who can edit the database, and an
//! edited log would then verify. A log begun before the chain was keyed starts
//! with entries under plain SHA-256 hashes; the first keyed entry covers the
//! last of them, so editing any of them still breaks the chain. A plain entry
//! after a keyed one can only be a forgery.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::BeginWrite;
use super::{Backend, Result, Store};

/// The secret key of the audit chain's hashes. Never in the database, never
/// logged: derived from the server's key file, which lives outside it.
#[derive(Clone)]
pub struct AuditKey([u8; 32]);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(…)")
    }
}

impl AuditKey {
    /// The audit key belonging to a server secret: an HMAC of a fixed label,
    /// so it differs from every other key derived from the same secret.
    pub fn derive(secret: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
            .expect("HMAC takes a key of any length");
        mac.update(b"veldwerk audit chain key v1");
        Self(mac.finalize().into_bytes().into())
    }
}

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

/// How a stored entry's hash relates to its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashCheck {
    /// The keyed hash of its content and predecessor.
    Keyed,
    /// The plain hash a server wrote before the chain was keyed.
    Unkeyed,
    /// Neither: the entry, or its hash, was changed.
    Wrong,
}

impl AuditRecord {
    /// Whether this entry's hash is right for its fields and predecessor.
    pub fn check_hash(&self, key: &AuditKey) -> HashCheck {
        let fields = self.fields();
        if fields.hash(Some(key)) == self.hash {
            HashCheck::Keyed
        } else if fields.hash(None) == self.hash {
            HashCheck::Unkeyed
        } else {
            HashCheck::Wrong
        }
    }

    /// The plain SHA-256 of this entry's fields and predecessor: what a
    /// server wrote before the chain was keyed, and what anyone can compute.
    pub fn plain_hash(&self) -> String {
        self.fields().hash(None)
    }

    fn fields(&self) -> Fields<'_> {
        Fields {
            seq: self.seq,
            at: self.at,
            ids: [
                self.user_id,
                self.device_id,
                self.organisation_id,
                self.case_id,
            ],
            texts: [
                &self.action,
                self.compartment.as_deref().unwrap_or(""),
                &self.via,
                &self.detail,
            ],
            prev_hash: &self.prev_hash,
        }
    }
}

/// What an entry's hash covers.
struct Fields<'a> {
    seq: i64,
    at: i64,
    ids: [Option<i64>; 4],
    texts: [&'a str; 4],
    prev_hash: &'a str,
}

impl Fields<'_> {
    /// The fields, each length-prefixed so no two entries collide, under the
    /// HMAC of `key`; without a key the plain SHA-256 of older logs.
    fn hash(&self, key: Option<&AuditKey>) -> String {
        match key {
            Some(key) => {
                let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0)
                    .expect("HMAC takes a key of any length");
                mac.update(b"veldwerk audit chain v2\0");
                self.feed(|bytes| mac.update(bytes));
                hex::encode(mac.finalize().into_bytes())
            }
            None => {
                let mut hasher = Sha256::new();
                self.feed(|bytes| hasher.update(bytes));
                hex::encode(hasher.finalize())
            }
        }
    }

    fn feed(&self, mut update: impl FnMut(&[u8])) {
        update(&self.seq.to_be_bytes());
        update(&self.at.to_be_bytes());
        for id in self.ids {
            match id {
                Some(id) => {
                    update(&[1]);
                    update(&id.to_be_bytes());
                }
                None => update(&[0]),
            }
        }
        for text in self.texts.into_iter().chain([self.prev_hash]) {
            update(&(text.len() as u64).to_be_bytes());
            update(text.as_bytes());
        }
    }
}

impl AuditEntry {
    pub(crate) fn hash(&self, seq: i64, at: i64, prev_hash: &str, key: &AuditKey) -> String {
        Fields {
            seq,
            at,
            ids: [
                self.user_id,
                self.device_id,
                self.organisation_id,
                self.case_id,
            ],
            texts: [
                self.action,
                self.compartment.as_deref().unwrap_or(""),
                self.via,
                &self.detail,
            ],
            prev_hash,
        }
        .hash(Some(key))
    }
}

/// Appends entries inside an open transaction `$tx`, hashed under `$key`.
/// Updating the head row first takes its lock, so concurrent appends (on any
/// server node) queue up.
macro_rules! append_audit {
    ($tx:ident, $key:expr, $entries:expr, $now:expr) => {{
        for entry in $entries {
            let entry: &$crate::AuditEntry = entry;
            let (seq, prev_hash): (i64, String) = sqlx::query_as(
                "UPDATE audit_head SET last_seq = last_seq + 1 WHERE id = 1 RETURNING last_seq, last_hash")
                .fetch_one(&mut *$tx).await?;
            let hash = entry.hash(seq, $now, &prev_hash, $key);
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
            append_audit!(tx, &self.audit_key, entries, now);
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

/// The result of checking the audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditVerdict {
    /// Every link holds. The first `unkeyed` entries were written before the
    /// chain was keyed; the keyed entry after them vouches for them.
    Intact {
        entries: i64,
        unkeyed: i64,
        last_hash: String,
    },
    /// No entry is keyed, so nothing shows the log was not rewritten: it was
    /// written before the chain was keyed, or by someone without the key.
    Unkeyed {
        entries: i64,
    },
    Broken {
        seq: i64,
        reason: String,
    },
}

/// Follows the chain entry by entry, from the first.
struct ChainWalk<'k> {
    key: &'k AuditKey,
    next_seq: i64,
    prev_hash: String,
    unkeyed: i64,
}

impl<'k> ChainWalk<'k> {
    fn new(key: &'k AuditKey) -> Self {
        Self {
            key,
            next_seq: 1,
            prev_hash: String::new(),
            unkeyed: 0,
        }
    }

    /// Checks the next entry; on a break, the verdict saying where and why.
    fn step(&mut self, record: &AuditRecord) -> std::result::Result<(), AuditVerdict> {
        let seq = self.next_seq;
        let broken = |reason: String| Err(AuditVerdict::Broken { seq, reason });
        if record.seq != seq {
            return broken(format!("entry {seq} is missing"));
        }
        if record.prev_hash != self.prev_hash {
            return broken("it does not follow the entry before it".into());
        }
        match record.check_hash(self.key) {
            HashCheck::Keyed => {}
            HashCheck::Unkeyed if self.unkeyed == seq - 1 => self.unkeyed += 1,
            HashCheck::Unkeyed => {
                return broken("its hash is not keyed, though an entry before it is".into());
            }
            HashCheck::Wrong => return broken("its content does not match its hash".into()),
        }
        self.prev_hash.clone_from(&record.hash);
        self.next_seq += 1;
        Ok(())
    }

    fn verdict(self, head: (i64, String)) -> AuditVerdict {
        let entries = self.next_seq - 1;
        let (last_seq, last_hash) = head;
        if last_seq != entries || last_hash != self.prev_hash {
            return AuditVerdict::Broken {
                seq: self.next_seq,
                reason: format!(
                    "the log ends at entry {entries} but its head records entry {last_seq}"
                ),
            };
        }
        if entries > 0 && self.unkeyed == entries {
            return AuditVerdict::Unkeyed { entries };
        }
        AuditVerdict::Intact {
            entries,
            unkeyed: self.unkeyed,
            last_hash,
        }
    }
}

impl Store {
    /// How the log's first entry is hashed: [`HashCheck::Unkeyed`] when the
    /// log was begun before the chain was keyed. An empty log is keyed.
    pub async fn audit_start(&self) -> Result<HashCheck> {
        let first = self.audit_records(0, 1).await?;
        Ok(first.first().map_or(HashCheck::Keyed, |record| {
            record.check_hash(&self.audit_key)
        }))
    }

    /// Walks the audit log from the start and checks every link of the chain
    /// under this store's key.
    pub async fn verify_audit(&self) -> Result<AuditVerdict> {
        let mut walk = ChainWalk::new(&self.audit_key);
        loop {
            let records = self.audit_records(walk.next_seq - 1, 1000).await?;
            if records.is_empty() {
                break;
            }
            for record in &records {
                if let Err(broken) = walk.step(record) {
                    return Ok(broken);
                }
            }
        }
        Ok(walk.verdict(self.audit_head().await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(detail: &str) -> AuditEntry {
        AuditEntry {
            user_id: Some(7),
            device_id: None,
            organisation_id: Some(2),
            action: "case.read",
            case_id: Some(11),
            compartment: Some("general".into()),
            via: "api",
            detail: detail.into(),
        }
    }

    /// A chain of `plain` unkeyed entries followed by keyed ones, as a log
    /// begun before the chain was keyed looks.
    fn chain(key: &AuditKey, plain: usize, keyed: usize) -> Vec<AuditRecord> {
        let mut records: Vec<AuditRecord> = Vec::new();
        for i in 0..plain + keyed {
            let e = entry(&format!("n={i}"));
            let seq = i as i64 + 1;
            let prev_hash = records.last().map(|r| r.hash.clone()).unwrap_or_default();
            let mut record = AuditRecord {
                seq,
                at: 1_000 + seq,
                user_id: e.user_id,
                device_id: e.device_id,
                organisation_id: e.organisation_id,
                action: e.action.into(),
                case_id: e.case_id,
                compartment: e.compartment.clone(),
                via: e.via.into(),
                detail: e.detail.clone(),
                prev_hash,
                hash: String::new(),
            };
            record.hash = if i < plain {
                record.plain_hash()
            } else {
                e.hash(seq, record.at, &record.prev_hash, key)
            };
            records.push(record);
        }
        records
    }

    fn walk(key: &AuditKey, records: &[AuditRecord]) -> AuditVerdict {
        let mut walk = ChainWalk::new(key);
        for record in records {
            if let Err(broken) = walk.step(record) {
                return broken;
            }
        }
        let head = records
            .last()
            .map(|r| (r.seq, r.hash.clone()))
            .unwrap_or((0, String::new()));
        walk.verdict(head)
    }

    #[test]
    fn a_keyed_chain_verifies_only_under_its_key() {
        let key = AuditKey::derive(b"one server secret");
        let records = chain(&key, 0, 4);
        assert!(matches!(
            walk(&key, &records),
            AuditVerdict::Intact {
                entries: 4,
                unkeyed: 0,
                ..
            }
        ));
        let other = AuditKey::derive(b"another server secret");
        assert!(matches!(
            walk(&other, &records),
            AuditVerdict::Broken { seq: 1, .. }
        ));
        assert_eq!(format!("{key:?}"), "AuditKey(…)");
    }

    #[test]
    fn an_older_plain_prefix_is_vouched_for_by_the_first_keyed_entry() {
        let key = AuditKey::derive(b"secret");
        let records = chain(&key, 3, 2);
        assert!(matches!(
            walk(&key, &records),
            AuditVerdict::Intact {
                entries: 5,
                unkeyed: 3,
                ..
            }
        ));

        // Rewriting a plain entry and recomputing the plain hashes after it
        // breaks the link into the first keyed entry.
        let mut forged = records.clone();
        forged[1].detail = "n=forged".into();
        for i in 1..3 {
            forged[i].prev_hash = forged[i - 1].hash.clone();
            forged[i].hash = forged[i].plain_hash();
        }
        assert!(matches!(
            walk(&key, &forged),
            AuditVerdict::Broken { seq: 4, .. }
        ));
    }

    #[test]
    fn a_plain_entry_after_a_keyed_one_is_a_forgery() {
        let key = AuditKey::derive(b"secret");
        let mut records = chain(&key, 0, 3);
        records[2].detail = "n=forged".into();
        records[2].hash = records[2].plain_hash();
        match walk(&key, &records) {
            AuditVerdict::Broken { seq: 3, reason } => assert!(reason.contains("not keyed")),
            other => panic!("expected a break at entry 3, got {other:?}"),
        }
    }

    #[test]
    fn a_log_with_no_keyed_entry_cannot_be_vouched_for() {
        let key = AuditKey::derive(b"secret");
        assert_eq!(
            walk(&key, &chain(&key, 3, 0)),
            AuditVerdict::Unkeyed { entries: 3 }
        );
        assert!(matches!(
            walk(&key, &[]),
            AuditVerdict::Intact { entries: 0, .. }
        ));
    }
}
