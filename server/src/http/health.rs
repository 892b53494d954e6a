//! `GET /healthz` (the process answers), `GET /readyz` (and its database
//! does) and `GET /metrics` (Prometheus text).

use std::time::Duration;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::{Router, routing::get};

use super::ApiError;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

async fn healthz() -> &'static str {
    "ok"
}

/// How long `/readyz` waits for the database. A load balancer's check gives
/// up after a few seconds, and while PostgreSQL refuses connections the pool
/// keeps trying for up to its acquire timeout (10 s): past this, not ready.
const READY_WITHIN: Duration = Duration::from_secs(2);

async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    match tokio::time::timeout(READY_WITHIN, state.store.ping()).await {
        Ok(answer) => answer?,
        Err(_) => {
            return Err(ApiError::Unavailable(format!(
                "the database did not answer within {READY_WITHIN:?}"
            )));
        }
    }
    Ok("ready")
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(state.docs.loaded()),
    )
}
