//! `GET /api/audit?after=SEQ&limit=N`: the audit log, page by page, for
//! auditors. What is written to it is decided where things happen; this
//! only reads.

use axum::extract::{Query, State};
use axum::{Json, Router, routing::get};
use serde::Deserialize;
use veldwerk_core::api::identity::AuditItem;

use crate::AppState;
use crate::http::{ApiError, Authenticated};
use crate::store::AuditRecord;

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/audit", get(audit))
}

#[derive(Deserialize)]
struct AuditQuery {
    #[serde(default)]
    after: i64,
    #[serde(default)]
    limit: Option<i64>,
}

async fn audit(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditItem>>, ApiError> {
    if !p.role.may_read_audit_log() {
        return Err(ApiError::Forbidden("only auditors read the audit log"));
    }
    let limit = query.limit.unwrap_or(500).clamp(1, 5000);
    let records = state.store.audit_records(query.after, limit).await?;
    Ok(Json(
        records
            .into_iter()
            .map(|r: AuditRecord| AuditItem {
                seq: r.seq,
                at: r.at,
                user_id: r.user_id,
                device_id: r.device_id,
                organisation_id: r.organisation_id,
                action: r.action,
                case_id: r.case_id,
                compartment: r.compartment,
                via: r.via,
                detail: r.detail,
                hash: r.hash,
            })
            .collect(),
    ))
}
