//! `GET /sync`: the WebSocket endpoint of the automerge-repo protocol. The
//! upgrade is authenticated (session cookie, bearer token or single-use
//! ticket) before any frame is read.

mod batch;
mod connection;
pub mod docs;
pub mod fanout;
mod live;
pub mod outbox;
mod peer;
mod rate;
#[cfg(test)]
mod registry_tests;

use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use crate::AppState;
use crate::auth::{Credential, accept, authenticate, secret_hash};
use crate::http::ApiError;

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
    // A page of another origin (a sibling subdomain, another port) must not
    // ride on the browser's cookie. Native clients send no Origin.
    if let Some(origin) = headers.get(axum::http::header::ORIGIN)
        && origin.as_bytes() != state.config.origin.as_bytes()
    {
        return Err(ApiError::Forbidden("cross-origin WebSocket refused"));
    }
    // The session a cookie-authenticated connection lives by: signing out ends it.
    let session = match (&query.ticket, crate::auth::bearer_token(&headers)) {
        (None, None) => crate::auth::session_cookie(&headers).map(secret_hash),
        _ => None,
    };
    let outcome = match query.ticket {
        Some(ticket) => {
            let outcome = state
                .store
                .redeem_sync_ticket(&secret_hash(&ticket), state.now())
                .await?;
            accept(outcome, Credential::Ticket)
        }
        None => authenticate(&state, &headers).await,
    };
    // Leave room above the limit so an oversized frame reaches our own check
    // and its sender learns why it was refused.
    let limit = state.config.max_frame_bytes.saturating_mul(2);
    // A small read buffer: tungstenite's default (128 KiB) is zero-filled per
    // connection and dominated the memory of an idle connection (BENCHMARKS.md).
    // Every connection keeps it while idle; most frames are smaller, and a
    // larger one gets room for its whole length, read 1 KiB per read call.
    let ws = ws
        .max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(1024);
    match outcome {
        Ok(principal) => {
            let session = match session {
                Some(hash) => state
                    .store
                    .session_expires_at(&hash)
                    .await?
                    .map(|expires_at| connection::LiveSession { hash, expires_at }),
                None => None,
            };
            Ok(ws.on_upgrade(move |socket| connection::run(socket, state, principal, session)))
        }
        // A browser cannot read why an upgrade was refused, so a revoked
        // device is let in only to be told, in a close frame, to wipe.
        Err(ApiError::DeviceRevoked) => Ok(ws.on_upgrade(connection::refuse_revoked)),
        Err(e) => Err(e),
    }
}
