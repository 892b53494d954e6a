//! Identity: who people are and how they get in. Passkey enrollment and
//! sign-in (`passkeys`), browser sessions and signing out (`sessions`), who
//! is signed in and the sync tickets of their device (here), devices and
//! their revocation (`devices`), invites for new people (`invites`).

mod devices;
mod invites;
mod passkeys;
mod sessions;

use axum::extract::State;
use axum::{Json, Router, routing::get, routing::post};
use veldwerk_core::api::identity::{Me, Ticket};

pub use passkeys::relying_party;

use crate::AppState;
use crate::auth::{TICKET_LIFETIME_MS, new_secret, secret_hash};
use crate::http::{ApiError, Authenticated, Now};
use crate::store::Principal;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/me", get(me))
        .route("/api/sync-ticket", post(sync_ticket))
        .merge(passkeys::routes())
        .merge(sessions::routes())
        .merge(devices::routes())
        .merge(invites::routes())
}

/// Who a principal is, as the API tells them.
fn me_of(p: Principal) -> Me {
    Me {
        handle: p.handle,
        organisation: p.organisation,
        organisation_kind: p.organisation_kind.as_str().to_owned(),
        role: p.role.as_str().to_owned(),
        device_id: p.device_id,
        device: p.device_name,
        actor_id: p.actor_id,
    }
}

/// Who is signed in, on which device.
async fn me(Authenticated(p): Authenticated) -> Json<Me> {
    Json(me_of(p))
}

/// A single-use ticket for opening a sync connection, for clients that
/// cannot set headers on a WebSocket.
async fn sync_ticket(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Now(now): Now,
) -> Result<Json<Ticket>, ApiError> {
    let ticket = new_secret("vws_");
    let expires_at = now + TICKET_LIFETIME_MS;
    state
        .store
        .add_sync_ticket(p.device_id, &secret_hash(&ticket), expires_at)
        .await?;
    Ok(Json(Ticket { ticket, expires_at }))
}
