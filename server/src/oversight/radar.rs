//! `GET /api/radar`: the families of a municipality's cases that are slipping
//! off the radar — no visit for N days (N set per municipality with
//! `PUT /api/radar/settings {"noVisitDays": N}`, default 42), an address marked
//! moved or unknown, visits a supervisor returned that are not approved yet, or
//! a handover asked for and not decided. Besides: households registered by
//! partner organisations working for the municipality that await direction,
//! and how many handover requests wait for the municipality's answer.
//! For the municipality's case directors; each item names its case.

use axum::extract::State;
use axum::{Json, Router, routing::get};
use veldwerk_core::api::oversight::{
    ADDRESS_MOVED, ADDRESS_UNKNOWN, AwaitingDirection, HANDOVER_PENDING, NEW_SIGNAL, NO_VISIT,
    RETURNED_VISITS, Radar, RadarItem, RadarSettings,
};
use veldwerk_core::case::AddressStatus;

use super::overseer;
use crate::AppState;
use crate::http::{ApiError, ApiJson, Authenticated, Now, audit_entry, case_audit_entry};
use crate::store::Principal;

/// Days without a visit after which a family is on the radar, unless the municipality says otherwise.
pub const DEFAULT_NO_VISIT_DAYS: i64 = 42;
const DAY_MS: i64 = 86_400_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/radar", get(radar))
        .route("/api/radar/settings", get(settings).put(set_settings))
}

fn director(p: &Principal) -> Result<(), ApiError> {
    overseer(p, "the radar is for case directors of a municipality")
}

async fn days(state: &AppState, p: &Principal) -> Result<i64, ApiError> {
    Ok(state
        .store
        .radar_days(p.organisation_id)
        .await?
        .unwrap_or(DEFAULT_NO_VISIT_DAYS))
}

async fn radar(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Now(now): Now,
) -> Result<Json<Radar>, ApiError> {
    director(&p)?;
    let no_visit_days = days(&state, &p).await?;
    let since = now - no_visit_days * DAY_MS;
    let cases = state
        .store
        .radar(p.organisation_id, p.user_id, since)
        .await?;
    let mut audit = Vec::new();
    let items = cases
        .into_iter()
        .map(|c| {
            let last = c.last_visit_at.unwrap_or(c.created_at);
            let mut reasons = Vec::new();
            if last < since {
                reasons.push(NO_VISIT.to_owned());
            }
            match c.address_status {
                AddressStatus::Moved => reasons.push(ADDRESS_MOVED.to_owned()),
                AddressStatus::Unknown => reasons.push(ADDRESS_UNKNOWN.to_owned()),
                AddressStatus::Known => {}
            }
            if c.returned_visits > 0 {
                reasons.push(RETURNED_VISITS.to_owned());
            }
            if c.handover_to.is_some() {
                reasons.push(HANDOVER_PENDING.to_owned());
            }
            if c.new_signal_from.is_some() {
                reasons.push(NEW_SIGNAL.to_owned());
            }
            audit.push(case_audit_entry(
                &p,
                "case.radar",
                c.case_id,
                &format!("document {}", c.document_id),
            ));
            RadarItem {
                document_id: c.document_id,
                label: c.label,
                reasons,
                last_visit_at: c.last_visit_at,
                days_without_visit: (now - last) / DAY_MS,
                returned_visits: c.returned_visits,
                handover_to: c.handover_to,
                new_signal_from: c.new_signal_from,
            }
        })
        .collect();
    let awaiting_direction = state
        .store
        .undirected_cases(p.organisation_id)
        .await?
        .into_iter()
        .map(|c| {
            audit.push(case_audit_entry(
                &p,
                "case.radar",
                c.case_id,
                &format!("document {} awaiting direction", c.document_id),
            ));
            AwaitingDirection {
                document_id: c.document_id,
                label: c.label,
                registered_by: c.registered_by_org,
                created_at: c.created_at,
            }
        })
        .collect();
    let incoming_handovers = state.store.open_handovers_to(p.organisation_id).await?;
    state.store.audit(&audit, now).await?;
    Ok(Json(Radar {
        no_visit_days,
        items,
        awaiting_direction,
        incoming_handovers,
    }))
}

async fn settings(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
) -> Result<Json<RadarSettings>, ApiError> {
    director(&p)?;
    Ok(Json(RadarSettings {
        no_visit_days: days(&state, &p).await?,
    }))
}

async fn set_settings(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Now(now): Now,
    ApiJson(body): ApiJson<RadarSettings>,
) -> Result<Json<RadarSettings>, ApiError> {
    director(&p)?;
    if !(1..=730).contains(&body.no_visit_days) {
        return Err(ApiError::BadRequest("noVisitDays must be 1 to 730".into()));
    }
    state
        .store
        .set_radar_days(p.organisation_id, body.no_visit_days, now)
        .await?;
    let entry = audit_entry(
        &p,
        "radar.settings",
        &format!("no visit days {}", body.no_visit_days),
    );
    state.store.audit(&[entry], now).await?;
    Ok(Json(body))
}
