//! The signal index: registrations of involvement with a person, known only by
//! a keyed hash, and the matches between organisations that registered the
//! same person. Registering, matching and the audit entries are one
//! transaction; the retention job deletes what is past its visible period.

use super::audit::append_audit;
use super::{AuditEntry, Backend, BeginWrite, Result, Store, StoreError};

/// How a professional is reached, as they gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalContact {
    pub name: String,
    pub phone: String,
    pub email: String,
}

/// A registration to store (or to refresh, when the organisation has one).
#[derive(Debug, Clone)]
pub struct NewRegistration {
    /// The keyed hash of the person's canonical identifier, hex.
    pub subject_hash: String,
    /// `bsn` or `name`.
    pub subject_kind: &'static str,
    pub organisation_id: i64,
    pub user_id: i64,
    pub reference: String,
    pub contact: SignalContact,
    pub active_until: i64,
    pub visible_until: i64,
}

/// What registering did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub signal_id: i64,
    /// The organisation had registered this person already.
    pub refreshed: bool,
    /// Matches made now (earlier ones are kept, not repeated).
    pub new_matches: usize,
}

/// One of an organisation's signals, as its own people see it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SignalRecord {
    pub id: i64,
    pub subject_kind: String,
    pub reference: String,
    pub registered_by: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub contact_email: String,
    pub created_at: i64,
    pub registered_at: i64,
    pub active_until: i64,
    pub visible_until: i64,
}

/// Another organisation's registration of the same person: only who they
/// are, how to reach them, and when the match was made.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SignalMatch {
    /// The own signal this match belongs to.
    pub signal_id: i64,
    pub matched_at: i64,
    pub organisation: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub contact_email: String,
}

impl Store {
    /// Registers (or refreshes) an organisation's signal and matches it with
    /// other organisations' active signals for the same person. `by` is the
    /// registrant's audit entry; its action and detail are filled in here.
    pub async fn register_signal(
        &self,
        signal: &NewRegistration,
        by: &AuditEntry,
        now: i64,
    ) -> Result<Registration> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // The audit chain's head lock, taken first: registrations run one
            // at a time on every node, so two organisations registering the
            // same person at the same moment cannot both miss the other.
            sqlx::query("UPDATE audit_head SET last_seq = last_seq WHERE id = 1")
                .execute(&mut *tx).await?;
            let existing: Option<(i64,)> = sqlx::query_as(
                "SELECT id FROM signals WHERE subject_hash = $1 AND organisation_id = $2")
                .bind(&signal.subject_hash).bind(signal.organisation_id)
                .fetch_optional(&mut *tx).await?;
            let c = &signal.contact;
            let signal_id = match existing {
                Some((id,)) => {
                    sqlx::query(
                        "UPDATE signals SET user_id = $1, subject_kind = $2, reference = $3, contact_name = $4, \
                         contact_phone = $5, contact_email = $6, registered_at = $7, active_until = $8, \
                         visible_until = $9 WHERE id = $10")
                        .bind(signal.user_id).bind(signal.subject_kind).bind(&signal.reference)
                        .bind(&c.name).bind(&c.phone).bind(&c.email).bind(now)
                        .bind(signal.active_until).bind(signal.visible_until).bind(id)
                        .execute(&mut *tx).await?;
                    id
                }
                None => {
                    let (id,): (i64,) = sqlx::query_as(
                        "INSERT INTO signals (subject_hash, organisation_id, user_id, subject_kind, reference, \
                         contact_name, contact_phone, contact_email, created_at, registered_at, active_until, visible_until) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10, $11) RETURNING id")
                        .bind(&signal.subject_hash).bind(signal.organisation_id).bind(signal.user_id)
                        .bind(signal.subject_kind).bind(&signal.reference).bind(&c.name).bind(&c.phone)
                        .bind(&c.email).bind(now).bind(signal.active_until).bind(signal.visible_until)
                        .fetch_one(&mut *tx).await?;
                    id
                }
            };
            let others: Vec<(i64, i64)> = sqlx::query_as(
                "SELECT id, organisation_id FROM signals \
                 WHERE subject_hash = $1 AND organisation_id <> $2 AND active_until > $3 ORDER BY id")
                .bind(&signal.subject_hash).bind(signal.organisation_id).bind(now)
                .fetch_all(&mut *tx).await?;
            let mut audit = Vec::new();
            for (other_id, other_organisation) in others {
                let mut made = 0;
                for (a, b) in [(signal_id, other_id), (other_id, signal_id)] {
                    made += sqlx::query(
                        "INSERT INTO signal_matches (signal_id, other_signal_id, matched_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (signal_id, other_signal_id) DO NOTHING")
                        .bind(a).bind(b).bind(now).execute(&mut *tx).await?.rows_affected();
                }
                if made > 0 {
                    audit.push(AuditEntry {
                        action: "signal.match",
                        detail: format!(
                            "signal {signal_id} matched signal {other_id} of organisation {other_organisation}"
                        ),
                        ..by.clone()
                    });
                }
            }
            let new_matches = audit.len();
            audit.insert(0, AuditEntry {
                action: "signal.register",
                detail: format!(
                    "signal {signal_id} {}, {new_matches} new matches",
                    if existing.is_some() { "refreshed" } else { "registered" }
                ),
                ..by.clone()
            });
            append_audit!(tx, &self.audit_key, &audit, now);
            tx.commit().await?;
            Ok(Registration { signal_id, refreshed: existing.is_some(), new_matches })
        })
    }

    /// An organisation's signals still visible at `now`, newest first.
    pub async fn organisation_signals(
        &self,
        organisation_id: i64,
        now: i64,
    ) -> Result<Vec<SignalRecord>> {
        let rows: Vec<SignalRecord> = with_pool!(self, pool => sqlx::query_as(
            "SELECT s.id, s.subject_kind, s.reference, u.handle AS registered_by, s.contact_name, \
                    s.contact_phone, s.contact_email, s.created_at, s.registered_at, s.active_until, s.visible_until \
             FROM signals s JOIN users u ON u.id = s.user_id \
             WHERE s.organisation_id = $1 AND s.visible_until > $2 \
             ORDER BY s.registered_at DESC, s.id DESC")
            .bind(organisation_id).bind(now).fetch_all(pool).await)?;
        Ok(rows)
    }

    /// The matches of an organisation's visible signals with other
    /// organisations' visible signals, oldest first.
    pub async fn organisation_signal_matches(
        &self,
        organisation_id: i64,
        now: i64,
    ) -> Result<Vec<SignalMatch>> {
        let rows: Vec<SignalMatch> = with_pool!(self, pool => sqlx::query_as(
            "SELECT m.signal_id, m.matched_at, o.name AS organisation, other.contact_name, \
                    other.contact_phone, other.contact_email \
             FROM signal_matches m \
             JOIN signals mine ON mine.id = m.signal_id \
             JOIN signals other ON other.id = m.other_signal_id \
             JOIN organisations o ON o.id = other.organisation_id \
             WHERE mine.organisation_id = $1 AND mine.visible_until > $2 AND other.visible_until > $2 \
             ORDER BY m.matched_at, m.other_signal_id")
            .bind(organisation_id).bind(now).fetch_all(pool).await)?;
        Ok(rows)
    }

    /// Deletes the signals whose visible period ended by `now`, with their
    /// matches, and audits how many (`audit` gets the counts). Returns the
    /// number of signals deleted.
    /// Deletes an organisation's signal and its matches on both sides, with
    /// the audit entry, at once. Not found when the signal is not the
    /// organisation's.
    pub async fn withdraw_signal(
        &self,
        signal_id: i64,
        organisation_id: i64,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM signal_matches WHERE signal_id = $1 OR other_signal_id = $1")
                .bind(signal_id).execute(&mut *tx).await?;
            let deleted = sqlx::query("DELETE FROM signals WHERE id = $1 AND organisation_id = $2")
                .bind(signal_id).bind(organisation_id).execute(&mut *tx).await?.rows_affected();
            if deleted == 0 {
                return Err(StoreError::NotFound("signal"));
            }
            append_audit!(tx, &self.audit_key, std::iter::once(audit), now);
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn purge_signals(
        &self,
        now: i64,
        audit: impl Fn(u64, u64) -> AuditEntry,
    ) -> Result<u64> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let matches = sqlx::query(
                "DELETE FROM signal_matches WHERE signal_id IN (SELECT id FROM signals WHERE visible_until <= $1) \
                 OR other_signal_id IN (SELECT id FROM signals WHERE visible_until <= $1)")
                .bind(now).execute(&mut *tx).await?.rows_affected();
            let signals = sqlx::query("DELETE FROM signals WHERE visible_until <= $1")
                .bind(now).execute(&mut *tx).await?.rows_affected();
            if signals > 0 || matches > 0 {
                append_audit!(tx, &self.audit_key, [audit(signals, matches)].iter(), now);
            }
            tx.commit().await?;
            Ok(signals)
        })
    }

    /// Records the signal key's check value if none is recorded yet, and
    /// tells whether `check_value` is the recorded one.
    pub async fn check_signal_key(&self, check_value: &str, now: i64) -> Result<bool> {
        let recorded: (String,) = with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO signal_key_check (id, check_value, created_at) VALUES (1, $1, $2) \
                 ON CONFLICT (id) DO NOTHING")
                .bind(check_value).bind(now).execute(pool).await?;
            sqlx::query_as("SELECT check_value FROM signal_key_check WHERE id = 1")
                .fetch_one(pool).await
        })?;
        Ok(recorded.0 == check_value)
    }

    /// How many signals and matches are stored, whatever their age: for checks.
    pub async fn signal_counts(&self) -> Result<(i64, i64)> {
        let counts: (i64, i64) = with_pool!(self, pool => sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM signals), (SELECT COUNT(*) FROM signal_matches)")
            .fetch_one(pool).await)?;
        Ok(counts)
    }
}
