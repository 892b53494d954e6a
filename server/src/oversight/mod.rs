//! Oversight, for the case directors of a municipality: the radar of
//! families slipping out of sight (`radar`) and the monitor's quarterly
//! figures with small counts suppressed (`monitor`).

mod monitor;
mod radar;

use axum::Router;
use veldwerk_core::identity::may_oversee;

use crate::AppState;
use crate::http::ApiError;
use crate::store::Principal;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(radar::routes())
        .merge(monitor::routes())
}

/// Lets through those who oversee their municipality's cases; anyone else
/// is refused with `refusal`, which names what they asked for.
fn overseer(p: &Principal, refusal: &'static str) -> Result<(), ApiError> {
    if may_oversee(p.role, p.organisation_kind) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(refusal))
    }
}
