//! Who is calling: bearer API tokens for native clients and single-use sync
//! tickets for clients that cannot set headers. Secrets are random, shown
//! once, and stored only as SHA-256 hashes.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::store::Principal;
use crate::{AppState, now_ms};

/// How long a sync ticket may wait before it is used.
pub const TICKET_LIFETIME_MS: i64 = 60_000;

/// A new random secret, hex-encoded, with a prefix that says what it is.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// A new automerge actor id for a device (16 random bytes, hex).
pub fn new_actor_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What is stored of a secret. Secrets are 256 random bits, so a plain hash suffices.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// The bearer token of a request, if it has one.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The principal of a request authenticated by bearer token.
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        let principal = state
            .store
            .principal_by_token(&secret_hash(token), now_ms())
            .await?
            .ok_or(ApiError::InvalidCredentials(
                "the token is unknown or revoked",
            ))?;
        Ok(Authenticated(principal))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_unique_and_hashes_do_not_reveal_them() {
        let a = new_secret("vwt_");
        let b = new_secret("vwt_");
        assert_ne!(a, b);
        assert!(a.starts_with("vwt_") && a.len() == 4 + 64);
        assert_ne!(secret_hash(&a), a);
        assert_eq!(secret_hash(&a), secret_hash(&a.clone()));
        assert_eq!(new_actor_id().len(), 32);
    }
}
