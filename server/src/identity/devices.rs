//! A person's devices: listing them, and revoking one, which tells its open
//! connections to wipe and closes them.

use axum::extract::{Path, State};
use axum::{Json, Router, routing::get, routing::post};
use veldwerk_core::api::identity::{Device, Revoked};
use veldwerk_core::identity::may_revoke_device;

use crate::AppState;
use crate::http::{ApiError, Authenticated, Now, audit_entry};
use crate::store::DeviceInfo;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/devices", get(devices))
        .route("/api/devices/{id}/revoke", post(revoke))
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

async fn revoke(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Now(now): Now,
    Path(id): Path<i64>,
) -> Result<Json<Revoked>, ApiError> {
    let device = state
        .store
        .device(id)
        .await?
        .ok_or(ApiError::NotFound("device"))?;
    let own_device = p.user_id == device.user_id;
    let same_organisation = p.organisation_id == device.organisation_id;
    if !may_revoke_device(p.role, own_device, same_organisation) {
        return Err(ApiError::NotFound("device"));
    }
    let revoked = state.store.revoke_device(id, now).await?;
    if revoked {
        // Open connections of the device are told to wipe and are closed.
        let _ = state.revocations.send(id);
        let detail = format!("device {id} of user {} revoked", device.user_id);
        state
            .store
            .audit(&[audit_entry(&p, "device.revoke", &detail)], now)
            .await?;
    }
    Ok(Json(Revoked { revoked }))
}
