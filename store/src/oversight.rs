//! Reads for oversight: the monitor's visit facts. Projections only — no
//! free text, no names.

use veldwerk_core::case::AddressStatus;

use super::cases::address_status_of;
use super::{Backend, Result, Store};

/// One visit of a case a municipality directs, as the monitor counts it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MonitorVisit {
    pub case_id: i64,
    pub at: i64,
    /// A supervisor returned the visit and has not approved it since.
    pub returned: bool,
    /// Comma-separated theme names.
    pub themes: String,
}

impl Store {
    /// Visits in `[from, to)` (ms) of the cases `organisation_id` directs.
    pub async fn monitor_visits(
        &self,
        organisation_id: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<MonitorVisit>> {
        let rows: Vec<MonitorVisit> = with_pool!(self, pool => sqlx::query_as(
            "SELECT c.id AS case_id, v.at, COALESCE(v.review_status = 'returned', FALSE) AS returned, v.themes \
             FROM cases c JOIN visits v ON v.document_id = c.document_id \
             WHERE c.directing_org_id = $1 AND v.at >= $2 AND v.at < $3")
            .bind(organisation_id).bind(from).bind(to).fetch_all(pool).await)?;
        Ok(rows)
    }
}

/// A case on a municipality's radar, with what put it there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RadarCase {
    pub case_id: i64,
    pub document_id: String,
    pub label: String,
    pub address_status: AddressStatus,
    pub last_visit_at: Option<i64>,
    pub created_at: i64,
    /// Visits returned by a supervisor and not approved since.
    pub returned_visits: i64,
    /// The municipality an open handover request asks to take the case over.
    pub handover_to: Option<String>,
    /// The organisation whose signal in the restricted record this director
    /// has not opened yet.
    pub new_signal_from: Option<String>,
}

impl Store {
    /// The days without a visit after which a case is on the radar, if the municipality set them.
    pub async fn radar_days(&self, organisation_id: i64) -> Result<Option<i64>> {
        let row: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT no_visit_days FROM radar_settings WHERE organisation_id = $1")
            .bind(organisation_id).fetch_optional(pool).await)?;
        Ok(row.map(|r| r.0))
    }

    pub async fn set_radar_days(&self, organisation_id: i64, days: i64, now: i64) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO radar_settings (organisation_id, no_visit_days, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (organisation_id) DO UPDATE SET no_visit_days = $2, updated_at = $3")
            .bind(organisation_id).bind(days).bind(now).execute(pool).await.map(drop))?;
        Ok(())
    }

    /// The cases `organisation_id` directs that are on its radar: no visit since
    /// `no_visit_since` (ms), address moved or unknown, returned visits, or a
    /// handover asked for and not yet decided, or a signal from another
    /// organisation in the restricted record that `user_id` has not opened.
    pub async fn radar(
        &self,
        organisation_id: i64,
        user_id: i64,
        no_visit_since: i64,
    ) -> Result<Vec<RadarCase>> {
        type Row = (
            i64,
            String,
            String,
            String,
            Option<i64>,
            i64,
            i64,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(
            "SELECT c.id AS case_id, c.document_id, c.label, c.address_status, c.last_visit_at, c.created_at, \
                    (SELECT COUNT(*) FROM visits v WHERE v.document_id = c.document_id \
                        AND v.review_status = 'returned') AS returned_visits, \
                    (SELECT o.name FROM handovers h JOIN organisations o ON o.id = h.to_org_id \
                        WHERE h.case_id = c.id AND h.status = 'requested') AS handover_to, \
                    (SELECT o.name FROM organisations o WHERE o.id = c.signal_org_id AND o.id <> c.directing_org_id \
                        AND c.signal_at > COALESCE((SELECT s.seen_at FROM restricted_seen s \
                            WHERE s.case_id = c.id AND s.user_id = $3), 0)) AS new_signal_from \
             FROM cases c WHERE c.directing_org_id = $1 AND ( \
                 COALESCE(c.last_visit_at, c.created_at) < $2 \
                 OR (c.signal_org_id <> c.directing_org_id AND c.signal_at > COALESCE( \
                     (SELECT s.seen_at FROM restricted_seen s WHERE s.case_id = c.id AND s.user_id = $3), 0)) \
                 OR c.address_status <> 'known' \
                 OR EXISTS (SELECT 1 FROM handovers h WHERE h.case_id = c.id AND h.status = 'requested') \
                 OR EXISTS (SELECT 1 FROM visits v WHERE v.document_id = c.document_id \
                            AND v.review_status = 'returned')) \
             ORDER BY COALESCE(c.last_visit_at, c.created_at), c.id")
            .bind(organisation_id).bind(no_visit_since).bind(user_id).fetch_all(pool).await)?;
        rows.into_iter()
            .map(
                |(
                    case_id,
                    document_id,
                    label,
                    status,
                    last_visit_at,
                    created_at,
                    returned_visits,
                    handover_to,
                    new_signal_from,
                )| {
                    Ok(RadarCase {
                        case_id,
                        document_id,
                        label,
                        address_status: address_status_of(&status)?,
                        last_visit_at,
                        created_at,
                        returned_visits,
                        handover_to,
                        new_signal_from,
                    })
                },
            )
            .collect()
    }

    /// Records that a case director opened a case's restricted record.
    pub async fn restricted_seen(&self, case_id: i64, user_id: i64, now: i64) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO restricted_seen (case_id, user_id, seen_at) VALUES ($1, $2, $3) \
             ON CONFLICT (case_id, user_id) DO UPDATE SET seen_at = excluded.seen_at")
            .bind(case_id).bind(user_id).bind(now).execute(pool).await.map(drop))?;
        Ok(())
    }
}
