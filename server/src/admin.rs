//! Admin commands that work on the database directly, for setting up the
//! first organisations, people and devices.

use veldwerk_core::identity::{OrganisationKind, Role};
use veldwerk_core::text::TextRule;

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

/// Says which municipality a partner organisation works for: that
/// municipality's case directors take direction of the households its people
/// register.
pub async fn set_municipality(
    store: &Store,
    organisation: &str,
    municipality: &str,
) -> Result<(), StoreError> {
    let organisation = store.organisation_id(organisation.trim()).await?;
    let municipality = store
        .organisations(Some(OrganisationKind::Municipality))
        .await?
        .into_iter()
        .find(|o| o.name == municipality.trim())
        .ok_or(StoreError::NotFound("municipality"))?;
    if municipality.id == organisation {
        return Err(StoreError::Conflict(
            "a municipality directs its own households".into(),
        ));
    }
    store
        .set_organisation_municipality(organisation, Some(municipality.id))
        .await
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
    TextRule::line(200)
        .check(name)
        .map(drop)
        .map_err(|e| StoreError::Conflict(e.about(what)))
}

/// How long an invite stays valid unless told otherwise.
pub const INVITE_HOURS: u32 = 7 * 24;

/// Creates a one-time invite and returns the URL to hand to the person (its
/// secret is in the fragment, which browsers never send to a server) and
/// when it expires.
pub async fn create_invite(
    store: &Store,
    origin: &str,
    organisation_id: i64,
    role: Role,
    created_by: Option<i64>,
    hours: u32,
) -> Result<(String, i64), StoreError> {
    create_invite_at(
        store,
        origin,
        organisation_id,
        role,
        created_by,
        hours,
        now_ms(),
    )
    .await
}

/// [`create_invite`] at `now`, for a request that goes by its own time.
pub async fn create_invite_at(
    store: &Store,
    origin: &str,
    organisation_id: i64,
    role: Role,
    created_by: Option<i64>,
    hours: u32,
    now: i64,
) -> Result<(String, i64), StoreError> {
    let (secret, expires_at) =
        new_invite(store, organisation_id, role, created_by, hours, now).await?;
    Ok((invite_url(origin, &secret), expires_at))
}

fn invite_url(origin: &str, secret: &str) -> String {
    format!("{origin}/enroll#invite={secret}")
}

/// Stores a new invite; returns its secret and when it expires.
async fn new_invite(
    store: &Store,
    organisation_id: i64,
    role: Role,
    created_by: Option<i64>,
    hours: u32,
    now: i64,
) -> Result<(String, i64), StoreError> {
    let secret = new_secret("vwi_");
    let expires_at = now + i64::from(hours) * 3_600_000;
    store
        .create_invite(
            &secret_hash(&secret),
            organisation_id,
            role,
            created_by,
            now,
            expires_at,
        )
        .await?;
    Ok((secret, expires_at))
}

/// The organisation the first admin belongs to.
pub const BOOTSTRAP_ORGANISATION: &str = "Beheer";

/// On a database with nobody in it, an invite for the first admin. Nothing
/// else grants the admin role without an existing admin, and the invite
/// opens nothing once anyone has an account.
pub async fn bootstrap_invite(store: &Store, origin: &str) -> Result<Option<String>, StoreError> {
    if store.user_count().await? > 0 {
        return Ok(None);
    }
    let now = now_ms();
    let organisation = store
        .ensure_organisation(BOOTSTRAP_ORGANISATION, OrganisationKind::Other, now)
        .await?;
    let (secret, _) = new_invite(store, organisation, Role::Admin, None, 24, now).await?;
    store.mark_first_admin_invite(&secret_hash(&secret)).await?;
    Ok(Some(invite_url(origin, &secret)))
}
