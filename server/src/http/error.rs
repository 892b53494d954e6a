//! `ApiError`: one error type for the HTTP API, with stable codes the client
//! can match. Internal details are logged once here and never sent to the client.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::store::StoreError;

/// What `Retry-After` says while the database is unavailable.
const RETRY_AFTER_SECS: &str = "5";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("sign in first (a session cookie, or `Authorization: Bearer <token>`)")]
    Unauthenticated,
    #[error("{0}")]
    InvalidCredentials(&'static str),
    #[error("this device was revoked; wipe its local data")]
    DeviceRevoked,
    #[error("too many attempts; wait a minute and try again")]
    RateLimited,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the request body is larger than the server accepts")]
    PayloadTooLarge,
    #[error("the database is unavailable; nothing was changed, try again later")]
    Unavailable(String),
    #[error("the server's storage is full; nothing was changed, try again once there is room")]
    StorageFull(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::InvalidCredentials(_) => "invalid_credentials",
            ApiError::DeviceRevoked => "device_revoked",
            ApiError::RateLimited => "rate_limited",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::Unavailable(_) => "database_unavailable",
            ApiError::StorageFull(_) => "storage_full",
            ApiError::Internal(_) => "internal",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated
            | ApiError::InvalidCredentials(_)
            | ApiError::DeviceRevoked => StatusCode::UNAUTHORIZED,
            ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound(what) => ApiError::NotFound(what),
            StoreError::Conflict(what) => ApiError::Conflict(what),
            StoreError::Taken(unique) => ApiError::Conflict(unique.to_string()),
            StoreError::Unavailable(detail) => ApiError::Unavailable(detail),
            StoreError::Full(detail) => ApiError::StorageFull(detail),
            StoreError::Config(detail) | StoreError::Corrupt(detail) => ApiError::Internal(detail),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            ApiError::Unavailable(detail)
            | ApiError::StorageFull(detail)
            | ApiError::Internal(detail) => {
                tracing::error!(code = self.code(), %detail, "request failed");
            }
            _ => {}
        }
        let body = veldwerk_core::api::ErrorBody {
            code: self.code().to_owned(),
            message: self.to_string(),
        };
        let mut response = (self.status(), Json(body)).into_response();
        if matches!(self, ApiError::Unavailable(_)) {
            // An outage of the database usually passes: say when to look again.
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static(RETRY_AFTER_SECS),
            );
        }
        response
    }
}
