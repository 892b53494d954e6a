//! Who is calling. Three ways in: a browser's session cookie, a native
//! client's bearer API token, and a single-use sync ticket for clients that
//! cannot set headers. Secrets are random, shown once, stored only as hashes.

use axum::http::{HeaderMap, HeaderValue, header};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::http::ApiError;
use crate::store::{Authn, Principal};

/// How long a sync ticket may wait before it is used.
pub const TICKET_LIFETIME_MS: i64 = 60_000;

/// The name of the browser session cookie.
pub const SESSION_COOKIE: &str = "veldwerk_session";

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
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The session cookie of a request, if it has one.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
}

/// The `Set-Cookie` value that starts a session.
pub fn session_cookie_header(token: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let value = format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age_secs}{secure}"
    );
    HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The `Set-Cookie` value that ends a session in the browser.
pub fn clear_session_cookie(secure: bool) -> HeaderValue {
    session_cookie_header("", 0, secure)
}

/// What was presented, for the message that says why it was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    TokenOrSession,
    Ticket,
    Passkey,
}

/// Authenticates a request by bearer token or session cookie, at the time
/// the server's clock reads now.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    authenticate_at(state, headers, state.now()).await
}

/// Authenticates a request by bearer token or session cookie (the bearer
/// token wins when both are present) at `now`, the time of the request.
pub async fn authenticate_at(
    state: &AppState,
    headers: &HeaderMap,
    now: i64,
) -> Result<Principal, ApiError> {
    let outcome = if let Some(token) = bearer_token(headers) {
        state
            .store
            .principal_by_token(&secret_hash(token), now)
            .await?
    } else if let Some(session) = session_cookie(headers) {
        let idle = state.config.session_idle.as_millis() as i64;
        state
            .store
            .principal_by_session(&secret_hash(session), now, idle)
            .await?
    } else {
        return Err(ApiError::Unauthenticated);
    };
    accept(outcome, Credential::TokenOrSession)
}

/// Turns an authentication outcome into a principal or the error that says why not.
pub fn accept(outcome: Authn, presented: Credential) -> Result<Principal, ApiError> {
    let ticket = presented == Credential::Ticket;
    match outcome {
        Authn::Valid(principal) => Ok(principal),
        Authn::DeviceRevoked { .. } => Err(ApiError::DeviceRevoked),
        Authn::Expired => Err(ApiError::InvalidCredentials(if ticket {
            "the sync ticket has expired"
        } else {
            "the session has expired; sign in again"
        })),
        Authn::AlreadyUsed => Err(ApiError::InvalidCredentials(
            "the sync ticket was already used",
        )),
        Authn::Unknown => Err(ApiError::InvalidCredentials(match presented {
            Credential::Ticket => "the sync ticket is unknown",
            Credential::TokenOrSession => "the token or session is unknown or revoked",
            Credential::Passkey => "the passkey was not accepted",
        })),
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

    #[test]
    fn finds_the_session_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("theme=dark; veldwerk_session=abc; x=y"),
        );
        assert_eq!(session_cookie(&headers), Some("abc"));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("veldwerk_sessionx=abc"),
        );
        assert_eq!(session_cookie(&headers), None);
    }

    #[test]
    fn session_cookies_are_http_only_and_strict() {
        let value = session_cookie_header("t", 60, true);
        let value = value.to_str().unwrap();
        assert!(
            value.contains("HttpOnly")
                && value.contains("SameSite=Strict")
                && value.ends_with("Secure")
        );
        assert!(
            !session_cookie_header("t", 60, false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }
}
