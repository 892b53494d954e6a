//! Passkey enrollment and sign-in (WebAuthn, through webauthn-rs); each
//! opens a session (`sessions`). Enrollment needs a one-time invite, or a signed-in
//! person adding a device. Ceremony state lives in the database between start
//! and finish, so any server node can finish what another started.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Json, Router, routing::post};
use serde::{Deserialize, Serialize};
use veldwerk_core::api::identity::{CeremonyFinish, CeremonyStart, LoginStart, RegisterStart};
use veldwerk_core::text::TextRule;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::sessions::start_session;
use crate::AppState;
use crate::auth::{Credential, accept, authenticate_at, new_actor_id, new_secret, secret_hash};
use crate::http::{ApiError, ApiJson, Now, audit_entry};
use crate::store::{Challenge, Enrollment, InviteState, StoreError, Unique};

/// How long a ceremony may take between start and finish.
const CEREMONY_MS: i64 = 5 * 60_000;

/// Builds the relying party from the configured origin.
pub fn relying_party(origin: &str, rp_id: &str) -> Result<Arc<Webauthn>, String> {
    let url = Url::parse(origin).map_err(|e| format!("VELDWERK_ORIGIN is not a URL: {e}"))?;
    WebauthnBuilder::new(rp_id, &url)
        .and_then(|b| b.rp_name("Veldwerk").build())
        .map(Arc::new)
        .map_err(|e| format!("cannot use {origin} as the WebAuthn origin: {e}"))
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/auth/register/start", post(register_start))
        .route("/api/auth/register/finish", post(register_finish))
        .route("/api/auth/login/start", post(login_start))
        .route("/api/auth/login/finish", post(login_finish))
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterDetail {
    handle: String,
    device_name: String,
    webauthn_id: String,
    /// Set when a signed-in person adds a device.
    user_id: Option<i64>,
}

async fn register_start(
    State(state): State<AppState>,
    Now(now): Now,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RegisterStart>,
) -> Result<Json<CeremonyStart<serde_json::Value>>, ApiError> {
    let device_name = checked_name(&body.device_name, "deviceName")?;
    let (invite_id, detail) = match body.invite {
        Some(invite) => {
            let invite = match state.store.invite(&secret_hash(&invite), now).await? {
                InviteState::Valid(invite) => invite,
                InviteState::Used => {
                    return Err(ApiError::InvalidCredentials("the invite was already used"));
                }
                InviteState::Expired => {
                    return Err(ApiError::InvalidCredentials("the invite has expired"));
                }
                InviteState::Superseded => {
                    return Err(ApiError::InvalidCredentials(
                        "this first-admin link is no longer valid: an account exists; ask an admin for an invite",
                    ));
                }
                InviteState::Unknown => {
                    return Err(ApiError::InvalidCredentials("the invite is unknown"));
                }
            };
            let handle = checked_name(body.handle.as_deref().unwrap_or_default(), "handle")?;
            let detail = RegisterDetail {
                handle,
                device_name,
                webauthn_id: Uuid::new_v4().to_string(),
                user_id: None,
            };
            (Some(invite.id), detail)
        }
        None => {
            let principal = authenticate_at(&state, &headers, now).await?;
            let webauthn_id = match state.store.webauthn_id(principal.user_id).await? {
                Some(id) => id,
                None => {
                    let id = Uuid::new_v4().to_string();
                    state.store.set_webauthn_id(principal.user_id, &id).await?;
                    id
                }
            };
            let detail = RegisterDetail {
                handle: principal.handle.clone(),
                device_name,
                webauthn_id,
                user_id: Some(principal.user_id),
            };
            (None, detail)
        }
    };
    let user_uuid =
        Uuid::parse_str(&detail.webauthn_id).map_err(|e| ApiError::Internal(e.to_string()))?;
    let (options, registration) = state
        .webauthn
        .start_passkey_registration(user_uuid, &detail.handle, &detail.handle, None)
        .map_err(|e| ApiError::Internal(format!("starting registration: {e}")))?;
    let mut options =
        serde_json::to_value(options).map_err(|e| ApiError::Internal(e.to_string()))?;
    // Ask for a discoverable credential, so people sign in without typing a
    // name; authenticators that cannot store one still enroll.
    if let Some(selection) = options.pointer_mut("/publicKey/authenticatorSelection") {
        selection["residentKey"] = "preferred".into();
    }
    let challenge = Challenge {
        kind: "register".into(),
        state: json_string(&registration)?,
        invite_id,
        detail: Some(json_string(&detail)?),
    };
    begin_ceremony(&state, challenge, options, now).await
}

async fn register_finish(
    State(state): State<AppState>,
    Now(now): Now,
    ApiJson(body): ApiJson<CeremonyFinish<RegisterPublicKeyCredential>>,
) -> Result<Response, ApiError> {
    let challenge = state
        .store
        .take_challenge(&body.challenge_id, &["register"], now)
        .await?
        .ok_or(ApiError::InvalidCredentials(
            "this enrollment was already finished, or took too long; start again",
        ))?;
    let registration: PasskeyRegistration =
        serde_json::from_str(&challenge.state).map_err(|e| ApiError::Internal(e.to_string()))?;
    let detail: RegisterDetail =
        serde_json::from_str(challenge.detail.as_deref().unwrap_or_default())
            .map_err(|e| ApiError::Internal(e.to_string()))?;
    let passkey = state
        .webauthn
        .finish_passkey_registration(&body.credential, &registration)
        .map_err(|e| ApiError::BadRequest(format!("the passkey was not accepted: {e}")))?;
    let credential_id = credential_key(passkey.cred_id());
    let stored = serde_json::to_string(&passkey).map_err(|e| ApiError::Internal(e.to_string()))?;
    let actor_id = new_actor_id();
    let principal = match (challenge.invite_id, detail.user_id) {
        (Some(invite_id), _) => state
            .store
            .enroll(
                &Enrollment {
                    invite_id,
                    handle: detail.handle,
                    webauthn_id: detail.webauthn_id,
                    device_name: detail.device_name,
                    actor_id,
                    credential_id,
                    passkey: stored,
                },
                now,
            )
            .await
            .map_err(ApiError::from)?,
        (None, Some(user_id)) => state
            .store
            .add_passkey_device(
                user_id,
                &detail.device_name,
                &actor_id,
                &credential_id,
                &stored,
                now,
            )
            .await
            .map_err(|e| match e {
                StoreError::Taken(Unique::DeviceName) => {
                    ApiError::Conflict("you already have a device with that name".into())
                }
                other => other.into(),
            })?,
        (None, None) => {
            return Err(ApiError::Internal(
                "enrollment without invite or person".into(),
            ));
        }
    };
    state
        .store
        .audit(
            &[audit_entry(
                &principal,
                "auth.enroll",
                "passkey enrolled as a new device",
            )],
            now,
        )
        .await?;
    start_session(&state, principal, now).await
}

async fn login_start(
    State(state): State<AppState>,
    Now(now): Now,
    ApiJson(body): ApiJson<LoginStart>,
) -> Result<Json<CeremonyStart<serde_json::Value>>, ApiError> {
    let passkeys = match &body.handle {
        Some(handle) => state.store.passkeys_of(handle).await?,
        None => Vec::new(),
    };
    let (kind, options, stored_state) = if passkeys.is_empty() {
        // Also for an unknown handle: the answer does not tell who exists.
        let (mut options, auth) = state
            .webauthn
            .start_discoverable_authentication()
            .map_err(|e| ApiError::Internal(format!("starting sign-in: {e}")))?;
        options.mediation = None;
        ("login-discoverable", json(&options)?, json_string(&auth)?)
    } else {
        let keys: Vec<Passkey> = passkeys
            .iter()
            .map(|p| serde_json::from_str(&p.passkey))
            .collect::<Result<_, _>>()
            .map_err(|e| ApiError::Internal(format!("stored passkey: {e}")))?;
        let (options, auth) = state
            .webauthn
            .start_passkey_authentication(&keys)
            .map_err(|e| ApiError::Internal(format!("starting sign-in: {e}")))?;
        ("login", json(&options)?, json_string(&auth)?)
    };
    let challenge = Challenge {
        kind: kind.into(),
        state: stored_state,
        invite_id: None,
        detail: None,
    };
    begin_ceremony(&state, challenge, options, now).await
}

/// Keeps a ceremony's state until its finish, and answers with the options
/// for the authenticator and the id to finish it by.
async fn begin_ceremony(
    state: &AppState,
    challenge: Challenge,
    options: serde_json::Value,
    now: i64,
) -> Result<Json<CeremonyStart<serde_json::Value>>, ApiError> {
    let challenge_id = new_secret("");
    state
        .store
        .save_challenge(&challenge_id, &challenge, now + CEREMONY_MS)
        .await?;
    Ok(Json(CeremonyStart {
        challenge_id,
        options,
    }))
}

async fn login_finish(
    State(state): State<AppState>,
    Now(now): Now,
    ApiJson(body): ApiJson<CeremonyFinish<PublicKeyCredential>>,
) -> Result<Response, ApiError> {
    let refused = || ApiError::InvalidCredentials("the passkey was not accepted");
    let credential_id = credential_key(body.credential.get_credential_id());
    let (stored, webauthn_id) = state
        .store
        .passkey_by_credential(&credential_id)
        .await?
        .ok_or_else(refused)?;
    let mut passkey: Passkey =
        serde_json::from_str(&stored.passkey).map_err(|e| ApiError::Internal(e.to_string()))?;
    let challenge = state
        .store
        .take_challenge(&body.challenge_id, &["login", "login-discoverable"], now)
        .await?
        .ok_or(ApiError::InvalidCredentials(
            "this sign-in was already used, or took too long; start again",
        ))?;
    let result = if challenge.kind == "login" {
        let auth: PasskeyAuthentication = serde_json::from_str(&challenge.state)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        state
            .webauthn
            .finish_passkey_authentication(&body.credential, &auth)
    } else {
        let auth: DiscoverableAuthentication = serde_json::from_str(&challenge.state)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        let (user, _) = state
            .webauthn
            .identify_discoverable_authentication(&body.credential)
            .map_err(|_| refused())?;
        if user.to_string() != webauthn_id {
            return Err(refused());
        }
        state
            .webauthn
            .finish_discoverable_authentication_v2(&body.credential, auth, &passkey)
    }
    .map_err(|e| {
        tracing::info!(reason = %e, "passkey sign-in refused");
        refused()
    })?;
    if passkey.update_credential(&result).is_some() {
        let updated =
            serde_json::to_string(&passkey).map_err(|e| ApiError::Internal(e.to_string()))?;
        state.store.update_passkey(stored.id, &updated, now).await?;
    }
    let principal = accept(
        state.store.device_principal(stored.device_id).await?,
        Credential::Passkey,
    )?;
    state
        .store
        .audit(&[audit_entry(&principal, "auth.sign_in", "passkey")], now)
        .await?;
    start_session(&state, principal, now).await
}

/// A credential id as stored: base64url without padding.
fn credential_key(id: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

fn checked_name(name: &str, field: &str) -> Result<String, ApiError> {
    TextRule::line(64)
        .check(name)
        .map_err(|e| ApiError::BadRequest(e.about(field)))
}

fn json<T: Serialize>(value: &T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::Internal(e.to_string()))
}

fn json_string<T: Serialize>(value: &T) -> Result<String, ApiError> {
    serde_json::to_string(value).map_err(|e| ApiError::Internal(e.to_string()))
}
