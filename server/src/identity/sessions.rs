//! Browser sessions: the cookie a passkey ceremony ends with, and signing
//! out of one session or all of a person's, which closes their sync
//! connections too.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router, routing::post};
use veldwerk_core::api::identity::{LoggedOut, Logout};

use super::me_of;
use crate::auth::{
    authenticate_at, clear_session_cookie, new_secret, secret_hash, session_cookie,
    session_cookie_header,
};
use crate::http::{ApiError, ApiJsonOrEmpty, Now, audit_entry};
use crate::store::Principal;
use crate::{AppState, SessionEnd};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/auth/logout", post(logout))
}

async fn logout(
    State(state): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    ApiJsonOrEmpty(body): ApiJsonOrEmpty<Logout>,
) -> Result<Response, ApiError> {
    let principal = authenticate_at(&state, &headers, now).await?;
    let ended = if body.everywhere {
        let ended = state.store.end_all_sessions(principal.user_id, now).await?;
        let _ = state.session_ends.send(SessionEnd::User(principal.user_id));
        ended
    } else if let Some(session) = session_cookie(&headers) {
        let hash = secret_hash(session);
        state.store.end_session(&hash, now).await?;
        let _ = state.session_ends.send(SessionEnd::Session(hash));
        1
    } else {
        0
    };
    let action = if body.everywhere {
        "auth.logout_everywhere"
    } else {
        "auth.logout"
    };
    state
        .store
        .audit(
            &[audit_entry(
                &principal,
                action,
                &format!("{ended} sessions ended"),
            )],
            now,
        )
        .await?;
    let cookie = clear_session_cookie(state.config.secure_cookies());
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(LoggedOut {
            sessions_ended: ended,
        }),
    )
        .into_response())
}

/// Opens a browser session for a device and answers with who signed in.
pub(super) async fn start_session(
    state: &AppState,
    principal: Principal,
    now: i64,
) -> Result<Response, ApiError> {
    let token = new_secret("");
    let max = state.config.session_max.as_millis() as i64;
    state
        .store
        .create_session(&secret_hash(&token), principal.device_id, now, now + max)
        .await?;
    let cookie = session_cookie_header(&token, max / 1000, state.config.secure_cookies());
    Ok(([(header::SET_COOKIE, cookie)], Json(me_of(principal))).into_response())
}
