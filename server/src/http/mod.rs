//! The small HTTP kit every feature is built on: the error answer, the
//! extractors (JSON bodies, who is calling, the time of the request), the
//! guards around every request, health and metrics, and the audit entry of
//! something done through the API. Features own their routes; [`stack`] puts
//! the kit around them.

mod error;
mod extract;
pub mod guards;
pub mod health;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

pub use error::ApiError;
pub use extract::{ApiJson, ApiJsonOrEmpty, Authenticated, Now};

use crate::AppState;
use crate::store::{AuditEntry, Principal};

/// Largest JSON body the API accepts.
const API_BODY_LIMIT: usize = 256 * 1024;

async fn no_such_endpoint() -> ApiError {
    ApiError::NotFound("API endpoint")
}

/// The features' routes with the kit around them: an API path nobody serves
/// answers in JSON, bodies are limited, every request passes the guards, is
/// traced and carries a request id.
pub fn stack(routes: Router<AppState>, state: AppState) -> Router {
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    routes
        // An API path nobody serves is an error in JSON, not the app's page.
        .route("/api", axum::routing::any(no_such_endpoint))
        .route("/api/{*path}", axum::routing::any(no_such_endpoint))
        .layer(DefaultBodyLimit::max(API_BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), guards::rate_limit_auth))
        .layer(middleware::from_fn_with_state(state.clone(), guards::same_origin))
        .layer(middleware::from_fn_with_state(state.clone(), guards::security_headers))
        .with_state(state)
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request| {
                // The path only: a query string may carry a sync ticket.
                let id = request
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// An audit entry for something a principal did through the API.
pub fn audit_entry(principal: &Principal, action: &'static str, detail: &str) -> AuditEntry {
    AuditEntry {
        user_id: Some(principal.user_id),
        device_id: Some(principal.device_id),
        organisation_id: Some(principal.organisation_id),
        action,
        case_id: None,
        compartment: None,
        via: "api",
        detail: detail.to_owned(),
    }
}

/// An audit entry for something a principal did to one case through the API.
pub fn case_audit_entry(
    principal: &Principal,
    action: &'static str,
    case_id: i64,
    detail: &str,
) -> AuditEntry {
    AuditEntry {
        case_id: Some(case_id),
        ..audit_entry(principal, action, detail)
    }
}
