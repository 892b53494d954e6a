//! Case direction: which municipality directs a case, handing it over to
//! another when a family moves, taking direction of households a partner
//! organisation registered, and links between households. Each write is one
//! transaction with its audit entries.

use veldwerk_core::identity::{HandoverStatus, OrganisationKind};

use super::BeginWrite;
use super::audit::append_audit;
use super::{AuditEntry, Backend, Result, Store, StoreError};

/// An organisation as others may see it when choosing a team member or a
/// municipality to hand over to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganisationEntry {
    pub id: i64,
    pub name: String,
    pub kind: OrganisationKind,
}

/// A handover request and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Handover {
    pub id: i64,
    pub case_id: i64,
    pub document_id: String,
    pub from_org_id: i64,
    pub from_org: String,
    pub to_org_id: i64,
    pub to_org: String,
    /// The household's label when the handover was asked for.
    pub label: String,
    pub reason: String,
    pub requested_by: String,
    pub requested_at: i64,
    #[sqlx(try_from = "String")]
    pub status: HandoverStatus,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub decision_note: Option<String>,
}

/// A municipality's request to hand a case over to another.
#[derive(Debug, Clone, Copy)]
pub struct HandoverRequest<'a> {
    pub case_id: i64,
    pub from_org_id: i64,
    pub to_org_id: i64,
    /// The household's label as the sending municipality knows it.
    pub label: &'a str,
    pub reason: &'a str,
    pub requested_by: i64,
}

/// A link a case director records between two cases.
#[derive(Debug, Clone, Copy)]
pub struct NewLink<'a> {
    pub case: i64,
    pub other: i64,
    pub basis: &'a str,
    pub note: &'a str,
    pub recorded_by: i64,
}

/// What happens to an open handover request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Accept,
    Refuse,
    Withdraw,
}

impl Decision {
    /// The status a request has after the decision.
    pub fn status(self) -> HandoverStatus {
        match self {
            Decision::Accept => HandoverStatus::Accepted,
            Decision::Refuse => HandoverStatus::Refused,
            Decision::Withdraw => HandoverStatus::Withdrawn,
        }
    }
}

/// A household registered by a partner organisation that no municipality directs yet.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Undirected {
    pub case_id: i64,
    pub document_id: String,
    pub label: String,
    pub created_at: i64,
    pub registered_by_org: String,
}

/// A link from one case to another, as seen from the first.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct HouseholdLink {
    pub id: i64,
    pub other_case_id: i64,
    pub other_document_id: String,
    pub other_label: String,
    pub other_directed_by: Option<String>,
    pub basis: String,
    pub note: String,
    pub recorded_by: String,
    pub recorded_at: i64,
}

/// The handovers query with its `WHERE …` appended (sqlx takes only static SQL).
macro_rules! handovers_where {
    ($rest:literal) => {
        concat!(
            "SELECT h.id, h.case_id, c.document_id, h.from_org_id, f.name AS from_org, \
        h.to_org_id, t.name AS to_org, h.label, h.reason, r.handle AS requested_by, h.requested_at, \
        h.status, d.handle AS decided_by, h.decided_at, h.decision_note \
     FROM handovers h JOIN cases c ON c.id = h.case_id \
     JOIN organisations f ON f.id = h.from_org_id JOIN organisations t ON t.id = h.to_org_id \
     JOIN users r ON r.id = h.requested_by LEFT JOIN users d ON d.id = h.decided_by",
            " ",
            $rest
        )
    };
}

impl Store {
    /// Every organisation, optionally of one kind, by name.
    pub async fn organisations(
        &self,
        kind: Option<OrganisationKind>,
    ) -> Result<Vec<OrganisationEntry>> {
        let kind = kind.map(|k| k.as_str());
        let rows: Vec<(i64, String, String)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, name, kind FROM organisations WHERE $1 IS NULL OR kind = $1 ORDER BY name")
            .bind(kind).fetch_all(pool).await)?;
        rows.into_iter()
            .map(|(id, name, kind)| {
                Ok(OrganisationEntry {
                    id,
                    name,
                    kind: kind
                        .parse()
                        .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
                })
            })
            .collect()
    }

    /// Says which municipality's case directors take direction of the
    /// households a partner organisation registers.
    pub async fn set_organisation_municipality(
        &self,
        organisation_id: i64,
        municipality_id: Option<i64>,
    ) -> Result<()> {
        with_pool!(self, pool => sqlx::query("UPDATE organisations SET municipality_id = $1 WHERE id = $2")
            .bind(municipality_id).bind(organisation_id).execute(pool).await.map(drop))?;
        Ok(())
    }

    /// Records a request to hand a case over; a case has at most one open request.
    pub async fn request_handover(
        &self,
        request: &HandoverRequest<'_>,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<i64> {
        let r = request;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO handovers (case_id, from_org_id, to_org_id, label, reason, requested_by, requested_at, status) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'requested') RETURNING id")
                .bind(r.case_id).bind(r.from_org_id).bind(r.to_org_id).bind(r.label).bind(r.reason)
                .bind(r.requested_by).bind(now).fetch_one(&mut *tx).await?;
            append_audit!(tx, &self.audit_key, [audit], now);
            tx.commit().await?;
            Ok(id)
        })
    }

    pub async fn handover(&self, id: i64) -> Result<Option<Handover>> {
        let row: Option<Handover> = with_pool!(self, pool => sqlx::query_as(handovers_where!("WHERE h.id = $1"))
            .bind(id).fetch_optional(pool).await)?;
        Ok(row)
    }

    /// Handovers to or from an organisation, newest first.
    pub async fn handovers_of(&self, organisation_id: i64) -> Result<Vec<Handover>> {
        let rows: Vec<Handover> = with_pool!(self, pool => sqlx::query_as(handovers_where!(
            "WHERE h.to_org_id = $1 OR h.from_org_id = $1 ORDER BY h.requested_at DESC, h.id DESC"))
            .bind(organisation_id).fetch_all(pool).await)?;
        Ok(rows)
    }

    /// How many requests to take a case over wait for this municipality's answer.
    pub async fn open_handovers_to(&self, organisation_id: i64) -> Result<i64> {
        let (count,): (i64,) = with_pool!(self, pool => sqlx::query_as(
            "SELECT COUNT(*) FROM handovers WHERE to_org_id = $1 AND status = 'requested'")
            .bind(organisation_id).fetch_one(pool).await)?;
        Ok(count)
    }

    /// Every handover of a case, oldest first: the trail of its direction.
    pub async fn case_handovers(&self, case_id: i64) -> Result<Vec<Handover>> {
        let rows: Vec<Handover> = with_pool!(self, pool => sqlx::query_as(handovers_where!(
            "WHERE h.case_id = $1 ORDER BY h.requested_at, h.id"))
            .bind(case_id).fetch_all(pool).await)?;
        Ok(rows)
    }

    /// Closes an open request. Accepting moves direction and the team's
    /// place in one transaction: the receiving municipality directs the case
    /// and is on its team, the sending one is on neither.
    pub async fn decide_handover(
        &self,
        id: i64,
        decision: Decision,
        decided_by: i64,
        note: Option<&str>,
        audit: &[AuditEntry],
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let open: Option<(i64, i64, i64)> = sqlx::query_as(
                "UPDATE handovers SET status = $1, decided_by = $2, decided_at = $3, decision_note = $4 \
                 WHERE id = $5 AND status = 'requested' RETURNING case_id, from_org_id, to_org_id")
                .bind(decision.status().as_str()).bind(decided_by).bind(now).bind(note).bind(id)
                .fetch_optional(&mut *tx).await?;
            let Some((case_id, from_org, to_org)) = open else {
                return Err(StoreError::Conflict("the handover request is no longer open".into()));
            };
            if decision == Decision::Accept {
                let moved = sqlx::query(
                    "UPDATE cases SET directing_org_id = $1, updated_at = $2 WHERE id = $3 AND directing_org_id = $4")
                    .bind(to_org).bind(now).bind(case_id).bind(from_org).execute(&mut *tx).await?;
                if moved.rows_affected() != 1 {
                    return Err(StoreError::Conflict("the case is no longer directed by the requesting municipality".into()));
                }
                sqlx::query("INSERT INTO case_team (case_id, organisation_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                    .bind(case_id).bind(to_org).execute(&mut *tx).await?;
                sqlx::query("DELETE FROM case_team WHERE case_id = $1 AND organisation_id = $2")
                    .bind(case_id).bind(from_org).execute(&mut *tx).await?;
            }
            append_audit!(tx, &self.audit_key, audit, now);
            tx.commit().await?;
            Ok(())
        })
    }

    /// Households registered by partner organisations working for this
    /// municipality that no municipality directs yet.
    pub async fn undirected_cases(&self, municipality_id: i64) -> Result<Vec<Undirected>> {
        let rows: Vec<Undirected> = with_pool!(self, pool => sqlx::query_as(
            "SELECT c.id AS case_id, c.document_id, c.label, c.created_at, o.name AS registered_by_org \
             FROM cases c JOIN users u ON u.id = c.created_by_user_id \
             JOIN organisations o ON o.id = u.organisation_id \
             WHERE c.directing_org_id IS NULL AND o.municipality_id = $1 ORDER BY c.created_at, c.id")
            .bind(municipality_id).fetch_all(pool).await)?;
        Ok(rows)
    }

    /// Makes a municipality direct a case nobody directs, and puts it on the team.
    pub async fn take_direction(
        &self,
        case_id: i64,
        municipality_id: i64,
        audit: &AuditEntry,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let taken = sqlx::query(
                "UPDATE cases SET directing_org_id = $1, updated_at = $2 WHERE id = $3 AND directing_org_id IS NULL")
                .bind(municipality_id).bind(now).bind(case_id).execute(&mut *tx).await?;
            if taken.rows_affected() != 1 {
                return Err(StoreError::Conflict("the case is already directed".into()));
            }
            sqlx::query("INSERT INTO case_team (case_id, organisation_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(case_id).bind(municipality_id).execute(&mut *tx).await?;
            append_audit!(tx, &self.audit_key, [audit], now);
            tx.commit().await?;
            Ok(())
        })
    }

    /// Handovers decided in `[from, to)` (ms) into or out of a municipality:
    /// `(decided_at, incoming)`.
    pub async fn monitor_handovers(
        &self,
        organisation_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, bool)>> {
        let rows: Vec<(i64, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT decided_at, CAST(CASE WHEN to_org_id = $1 THEN 1 ELSE 0 END AS BIGINT) FROM handovers \
             WHERE status = 'accepted' AND (to_org_id = $1 OR from_org_id = $1) \
             AND decided_at >= $2 AND decided_at < $3")
            .bind(organisation_id).bind(from).bind(to).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|(at, incoming)| (at, incoming == 1))
            .collect())
    }

    // --- links between households ----------------------------------------

    /// Links two cases; one live link per pair.
    pub async fn link_households(
        &self,
        link: &NewLink<'_>,
        audit: &[AuditEntry],
        now: i64,
    ) -> Result<i64> {
        let (a, b) = if link.case < link.other {
            (link.case, link.other)
        } else {
            (link.other, link.case)
        };
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO household_links (case_a, case_b, basis, note, recorded_by, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
                .bind(a).bind(b).bind(link.basis).bind(link.note).bind(link.recorded_by).bind(now)
                .fetch_one(&mut *tx).await?;
            append_audit!(tx, &self.audit_key, audit, now);
            tx.commit().await?;
            Ok(id)
        })
    }

    /// The live links of a case, oldest first.
    pub async fn case_links(&self, case_id: i64) -> Result<Vec<HouseholdLink>> {
        let rows: Vec<HouseholdLink> = with_pool!(self, pool => sqlx::query_as(
            "SELECT l.id, o.id AS other_case_id, o.document_id AS other_document_id, o.label AS other_label, \
                    g.name AS other_directed_by, l.basis, l.note, u.handle AS recorded_by, l.recorded_at \
             FROM household_links l \
             JOIN cases o ON o.id = CASE WHEN l.case_a = $1 THEN l.case_b ELSE l.case_a END \
             LEFT JOIN organisations g ON g.id = o.directing_org_id \
             JOIN users u ON u.id = l.recorded_by \
             WHERE (l.case_a = $1 OR l.case_b = $1) AND l.removed_at IS NULL ORDER BY l.recorded_at, l.id")
            .bind(case_id).fetch_all(pool).await)?;
        Ok(rows)
    }

    /// Ends a live link of `case_id`; the row stays, marked removed.
    pub async fn unlink_households(
        &self,
        case_id: i64,
        link_id: i64,
        removed_by: i64,
        audit: &[AuditEntry],
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let removed = sqlx::query(
                "UPDATE household_links SET removed_by = $1, removed_at = $2 \
                 WHERE id = $3 AND (case_a = $4 OR case_b = $4) AND removed_at IS NULL")
                .bind(removed_by).bind(now).bind(link_id).bind(case_id).execute(&mut *tx).await?;
            if removed.rows_affected() != 1 {
                return Err(StoreError::NotFound("link"));
            }
            append_audit!(tx, &self.audit_key, audit, now);
            tx.commit().await?;
            Ok(())
        })
    }
}
