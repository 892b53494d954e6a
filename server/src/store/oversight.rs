//! Reads for oversight: the monitor's visit facts. Projections only — no
//! free text, no names.

use super::{Backend, Result, Store};

/// One visit of a case a municipality directs, as the monitor counts it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct MonitorVisit {
    pub case_id: i64,
    pub at: i64,
    pub review_status: Option<String>,
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
            "SELECT c.id AS case_id, v.at, v.review_status, v.themes \
             FROM cases c JOIN visits v ON v.document_id = c.document_id \
             WHERE c.directing_org_id = $1 AND v.at >= $2 AND v.at < $3")
            .bind(organisation_id).bind(from).bind(to).fetch_all(pool).await)?;
        Ok(rows)
    }
}
