//! People and their devices: listing and revoking devices, invites for new
//! people, and the audit log for auditors.

use axum::extract::{Path, Query, State};
use axum::{Json, Router, routing::get, routing::post};
use serde::Deserialize;
use veldwerk_core::api::identity::{AuditItem, Device, InviteLink, NewInvite, Revoked};
use veldwerk_core::identity::Role;

use crate::api::ApiJson;
use crate::auth::Authenticated;
use crate::error::ApiError;
use crate::passkeys::entry;
use crate::store::{AuditRecord, DeviceInfo, Principal};
use crate::{AppState, admin, now_ms};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/devices", get(devices))
        .route("/api/devices/{id}/revoke", post(revoke))
        .route("/api/admin/invites", post(invite))
        .route("/api/audit", get(audit))
}

async fn devices(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
) -> Result<Json<Vec<Device>>, ApiError> {
    let devices = state.store.devices_of(p.user_id).await?;
    Ok(Json(
        devices
            .into_iter()
            .map(|d: DeviceInfo| Device {
                this_device: d.id == p.device_id,
                id: d.id,
                name: d.name,
                actor_id: d.actor_id,
                created_at: d.created_at,
                last_seen_at: d.last_seen_at,
                revoked_at: d.revoked_at,
            })
            .collect(),
    ))
}

/// Whether `who` may revoke a device of `owner_user`/`owner_org`: their own,
/// any as an admin, or a colleague's as a supervisor of the same organisation.
fn may_revoke(who: &Principal, owner_user: i64, owner_org: i64) -> bool {
    who.user_id == owner_user
        || who.role == Role::Admin
        || (who.role == Role::Supervisor && who.organisation_id == owner_org)
}

async fn revoke(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<Revoked>, ApiError> {
    let device = state
        .store
        .device(id)
        .await?
        .ok_or(ApiError::NotFound("device"))?;
    if !may_revoke(&p, device.user_id, device.organisation_id) {
        return Err(ApiError::NotFound("device"));
    }
    let now = now_ms();
    let revoked = state.store.revoke_device(id, now).await?;
    if revoked {
        // Open connections of the device are told to wipe and are closed.
        let _ = state.revocations.send(id);
        let detail = format!("device {id} of user {} revoked", device.user_id);
        state
            .store
            .audit(&[entry(&p, "device.revoke", &detail)], now)
            .await?;
    }
    Ok(Json(Revoked { revoked }))
}

async fn invite(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    ApiJson(body): ApiJson<NewInvite>,
) -> Result<Json<InviteLink>, ApiError> {
    if p.role != Role::Admin {
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
    let (url, expires_at) = admin::create_invite(
        &state.store,
        &state.config.origin,
        organisation_id,
        role,
        Some(p.user_id),
        hours,
    )
    .await?;
    let detail = format!("invite for role {role} in organisation {organisation_id}");
    state
        .store
        .audit(&[entry(&p, "invite.create", &detail)], now_ms())
        .await?;
    Ok(Json(InviteLink { url, expires_at }))
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
    if p.role != Role::Auditor {
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
