//! `GET /sync`: the WebSocket endpoint of the automerge-repo protocol. The
//! upgrade is authenticated (bearer token or single-use ticket) before any
//! frame is read.

mod connection;
pub mod docs;

use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use crate::auth::{bearer_token, secret_hash};
use crate::error::ApiError;
use crate::store::TicketOutcome;
use crate::{AppState, now_ms};

#[derive(Debug, Deserialize)]
pub struct SyncQuery {
    ticket: Option<String>,
}

/// Upgrades an authenticated request to a sync connection.
pub async fn upgrade(
    State(state): State<AppState>,
    Query(query): Query<SyncQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let now = now_ms();
    let principal = if let Some(token) = bearer_token(&headers) {
        state
            .store
            .principal_by_token(&secret_hash(token), now)
            .await?
            .ok_or(ApiError::InvalidCredentials(
                "the token is unknown or revoked",
            ))?
    } else if let Some(ticket) = query.ticket {
        match state
            .store
            .redeem_sync_ticket(&secret_hash(&ticket), now)
            .await?
        {
            TicketOutcome::Valid(principal) => principal,
            TicketOutcome::AlreadyUsed => {
                return Err(ApiError::InvalidCredentials(
                    "the sync ticket was already used",
                ));
            }
            TicketOutcome::Expired => {
                return Err(ApiError::InvalidCredentials("the sync ticket has expired"));
            }
            TicketOutcome::Unknown => {
                return Err(ApiError::InvalidCredentials("the sync ticket is unknown"));
            }
        }
    } else {
        return Err(ApiError::Unauthenticated);
    };
    // Leave room above the limit so an oversized frame reaches our own check
    // and its sender learns why it was refused.
    let limit = state.config.max_frame_bytes.saturating_mul(2);
    Ok(ws
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| connection::run(socket, state, principal)))
}
