//! Admin commands that work on the database directly, for setting up the
//! first organisations, people and devices.

use veldwerk_core::identity::{OrganisationKind, Role};

use crate::auth::{new_actor_id, new_secret, secret_hash};
use crate::now_ms;
use crate::store::{Principal, Store, StoreError};

/// Registers an organisation; returns its id.
pub async fn add_organisation(
    store: &Store,
    name: &str,
    kind: OrganisationKind,
) -> Result<i64, StoreError> {
    check_name(name, "organisation name")?;
    store.add_organisation(name.trim(), kind, now_ms()).await
}

/// Registers a person in an organisation; returns their id.
pub async fn add_user(
    store: &Store,
    organisation: &str,
    handle: &str,
    role: Role,
) -> Result<i64, StoreError> {
    check_name(handle, "handle")?;
    store
        .add_user(organisation, handle.trim(), role, now_ms())
        .await
}

/// Issues a bearer token for a user's device (created on first use). The
/// token is returned once; only its hash is stored.
pub async fn issue_token(
    store: &Store,
    handle: &str,
    device: &str,
) -> Result<(String, Principal), StoreError> {
    check_name(device, "device name")?;
    let token = new_secret("vwt_");
    let principal = store
        .add_api_token(
            handle,
            device.trim(),
            &new_actor_id(),
            &secret_hash(&token),
            now_ms(),
        )
        .await?;
    Ok((token, principal))
}

fn check_name(name: &str, what: &str) -> Result<(), StoreError> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 200 || trimmed.chars().any(char::is_control)
    {
        return Err(StoreError::Conflict(format!(
            "{what} must be 1-200 printable characters"
        )));
    }
    Ok(())
}
