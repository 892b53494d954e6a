//! The extractors handlers take their input through: JSON bodies whose
//! rejections answer in the API's error shape, the time of the request, and
//! who is calling.

use std::convert::Infallible;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};

use super::ApiError;
use crate::AppState;
use crate::auth::authenticate_at;
use crate::store::Principal;

/// `Json` whose rejections answer in our error shape.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge)
            }
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// Like [`ApiJson`], but an empty body stands for the type's default: for
/// requests whose every field is optional, such as signing out.
pub struct ApiJsonOrEmpty<T>(pub T);

impl<T, S> FromRequest<S> for ApiJsonOrEmpty<T>
where
    T: Default,
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let empty = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_some_and(|length| length == "0")
            || (req.headers().get(header::CONTENT_TYPE).is_none()
                && axum::body::HttpBody::is_end_stream(req.body()));
        if empty {
            return Ok(Self(T::default()));
        }
        let ApiJson(value) = ApiJson::from_request(req, state).await?;
        Ok(Self(value))
    }
}

/// The time of a request, in milliseconds since 1970: the state's clock,
/// read when the request first asks and kept with it, so authentication and
/// the handler go by the same instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now(pub i64);

impl FromRequestParts<AppState> for Now {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(now) = parts.extensions.get::<Now>() {
            return Ok(*now);
        }
        let now = Now(state.now());
        parts.extensions.insert(now);
        Ok(now)
    }
}

/// The principal of a request authenticated by bearer token or session cookie.
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(Now(now)) = Now::from_request_parts(parts, state).await;
        authenticate_at(state, &parts.headers, now)
            .await
            .map(Authenticated)
    }
}
