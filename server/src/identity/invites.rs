//! Invites: a one-time link an admin makes for a new person, with the role
//! and organisation they will have.

use axum::extract::State;
use axum::{Json, Router, routing::post};
use veldwerk_core::api::identity::{InviteLink, NewInvite};
use veldwerk_core::identity::Role;

use crate::http::{ApiError, ApiJson, Authenticated, Now, audit_entry};
use crate::{AppState, admin};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/admin/invites", post(invite))
}

async fn invite(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Now(now): Now,
    ApiJson(body): ApiJson<NewInvite>,
) -> Result<Json<InviteLink>, ApiError> {
    if !p.role.may_invite() {
        return Err(ApiError::Forbidden("only admins invite people"));
    }
    let role: Role = body
        .role
        .parse()
        .map_err(|e: veldwerk_core::identity::UnknownName| ApiError::BadRequest(e.to_string()))?;
    let hours = body.expires_in_hours.unwrap_or(admin::INVITE_HOURS);
    if !(1..=24 * 30).contains(&hours) {
        return Err(ApiError::BadRequest(
            "expiresInHours must be between 1 and 720".into(),
        ));
    }
    let organisation_id = state.store.organisation_id(&body.organisation).await?;
    let (url, expires_at) = admin::create_invite_at(
        &state.store,
        &state.config.origin,
        organisation_id,
        role,
        Some(p.user_id),
        hours,
        now,
    )
    .await?;
    let detail = format!("invite for role {role} in organisation {organisation_id}");
    state
        .store
        .audit(&[audit_entry(&p, "invite.create", &detail)], now)
        .await?;
    Ok(Json(InviteLink { url, expires_at }))
}
