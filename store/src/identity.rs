//! Storage of passkeys, invites, ceremonies, sessions and devices.

use super::BeginWrite;
use super::{Backend, Result, Store, StoreError};
use veldwerk_core::identity::{OrganisationKind, Role};

/// Inserts a device and binds its actor id to it, inside an open transaction.
macro_rules! insert_device {
    ($tx:ident, $user_id:expr, $name:expr, $actor_id:expr, $now:expr) => {{
        let (id,): (i64,) = sqlx::query_as(
            "INSERT INTO devices (user_id, name, actor_id, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind($user_id).bind($name).bind($actor_id).bind($now)
            .fetch_one(&mut *$tx).await?;
        sqlx::query("INSERT INTO actors (actor_id, device_id, bound_at) VALUES ($1, $2, $3)")
            .bind($actor_id).bind(id).bind($now).execute(&mut *$tx).await?;
        id
    }};
}

/// The person and device behind an authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: i64,
    pub handle: String,
    pub organisation_id: i64,
    pub organisation: String,
    pub organisation_kind: OrganisationKind,
    pub role: Role,
    pub device_id: i64,
    pub device_name: String,
    /// The automerge actor id (hex) this device writes with in our own app.
    pub actor_id: String,
}

/// What a presented credential (token, session, ticket) turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authn {
    Valid(Principal),
    /// The credential belongs to a device that was revoked: it must wipe its data.
    DeviceRevoked {
        device_id: i64,
    },
    /// A session past its idle timeout or absolute lifetime, or a used-up ticket.
    Expired,
    AlreadyUsed,
    Unknown,
}

type PrincipalRow = (
    i64,
    String,
    i64,
    String,
    String,
    String,
    i64,
    String,
    String,
    Option<i64>,
);

/// `SELECT` of a principal's columns, followed by the rest of the query.
macro_rules! select_principal {
    ($rest:literal) => {
        concat!(
            "SELECT u.id, u.handle, o.id, o.name, o.kind, u.role, d.id, d.name, d.actor_id, d.revoked_at \
             FROM devices d JOIN users u ON u.id = d.user_id \
             JOIN organisations o ON o.id = u.organisation_id ",
            $rest
        )
    };
}

/// A principal row as an authentication outcome: valid, or its device revoked.
fn authn(row: Option<PrincipalRow>) -> Result<Authn> {
    match row {
        None => Ok(Authn::Unknown),
        Some(row) if row.9.is_some() => Ok(Authn::DeviceRevoked { device_id: row.6 }),
        Some(row) => principal(row).map(Authn::Valid),
    }
}

fn principal(row: PrincipalRow) -> Result<Principal> {
    let (
        user_id,
        handle,
        organisation_id,
        organisation,
        kind,
        role,
        device_id,
        device_name,
        actor_id,
        _revoked_at,
    ) = row;
    Ok(Principal {
        user_id,
        handle,
        organisation_id,
        organisation,
        organisation_kind: kind
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
        role: role
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
        device_id,
        device_name,
        actor_id,
    })
}

/// What a presented invite turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteState {
    Valid(Invite),
    Used,
    Expired,
    /// A first-admin invite, now that someone has an account.
    Superseded,
    Unknown,
}

/// A live invite: who the enrolled person will be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub id: i64,
    pub organisation_id: i64,
    pub organisation: String,
    pub role: Role,
}

/// WebAuthn ceremony state kept between start and finish.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub kind: String,
    pub state: String,
    pub invite_id: Option<i64>,
    /// Ceremony-specific JSON (the handle and device name chosen at enrollment).
    pub detail: Option<String>,
}

/// A stored passkey and whose device it is.
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    pub id: i64,
    pub device_id: i64,
    pub passkey: String,
}

/// Everything that makes a newly enrolled person and their first device.
#[derive(Debug, Clone)]
pub struct Enrollment {
    pub invite_id: i64,
    pub handle: String,
    pub webauthn_id: String,
    pub device_name: String,
    pub actor_id: String,
    pub credential_id: String,
    pub passkey: String,
}

/// A device as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DeviceInfo {
    pub id: i64,
    pub user_id: i64,
    pub handle: String,
    pub organisation_id: i64,
    pub name: String,
    pub actor_id: String,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

type ChallengeRow = (String, String, Option<i64>, Option<String>, i64);

macro_rules! select_device {
    ($rest:literal) => {
        concat!(
            "SELECT d.id, u.id AS user_id, u.handle, u.organisation_id, d.name, d.actor_id, d.created_at, d.last_seen_at, d.revoked_at \
             FROM devices d JOIN users u ON u.id = d.user_id ",
            $rest
        )
    };
}

impl Store {
    pub async fn user_count(&self) -> Result<i64> {
        let (n,): (i64,) = with_pool!(self, pool => sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(pool).await)?;
        Ok(n)
    }

    /// The id of an organisation, creating it with `kind` if it does not exist.
    pub async fn ensure_organisation(
        &self,
        name: &str,
        kind: veldwerk_core::identity::OrganisationKind,
        now: i64,
    ) -> Result<i64> {
        let found: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id FROM organisations WHERE name = $1").bind(name).fetch_optional(pool).await)?;
        match found {
            Some((id,)) => Ok(id),
            None => self.add_organisation(name, kind, now).await,
        }
    }

    pub async fn organisation_id(&self, name: &str) -> Result<i64> {
        let found: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id FROM organisations WHERE name = $1").bind(name).fetch_optional(pool).await)?;
        found
            .map(|r| r.0)
            .ok_or(StoreError::NotFound("organisation"))
    }

    pub async fn create_invite(
        &self,
        token_hash: &str,
        organisation_id: i64,
        role: Role,
        created_by: Option<i64>,
        now: i64,
        expires_at: i64,
    ) -> Result<i64> {
        let (id,): (i64,) = with_pool!(self, pool => sqlx::query_as(
            "INSERT INTO invites (token_hash, organisation_id, role, created_by_user_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(token_hash).bind(organisation_id).bind(role.as_str()).bind(created_by).bind(now).bind(expires_at)
            .fetch_one(pool).await)?;
        Ok(id)
    }

    /// Marks an invite as the first admin's: valid only while nobody has an account.
    pub async fn mark_first_admin_invite(&self, token_hash: &str) -> Result<()> {
        with_pool!(self, pool => sqlx::query("UPDATE invites SET first_admin = TRUE WHERE token_hash = $1")
            .bind(token_hash).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    pub async fn invite(&self, token_hash: &str, now: i64) -> Result<InviteState> {
        // id, organisation id and name, role, expiry, when used, superseded.
        type Row = (i64, i64, String, String, i64, Option<i64>, bool);
        let row: Option<Row> = with_pool!(self, pool => sqlx::query_as(
            "SELECT i.id, o.id, o.name, i.role, i.expires_at, i.used_at, \
             i.first_admin AND EXISTS (SELECT 1 FROM users) \
             FROM invites i JOIN organisations o ON o.id = i.organisation_id WHERE i.token_hash = $1")
            .bind(token_hash).fetch_optional(pool).await)?;
        Ok(match row {
            None => InviteState::Unknown,
            Some((.., Some(_), _)) => InviteState::Used,
            Some((.., true)) => InviteState::Superseded,
            Some((_, _, _, _, expires_at, None, _)) if expires_at <= now => InviteState::Expired,
            Some((id, organisation_id, organisation, role, _, None, false)) => {
                InviteState::Valid(Invite {
                    id,
                    organisation_id,
                    organisation,
                    role: role
                        .parse()
                        .map_err(|e| StoreError::Corrupt(format!("{e}")))?,
                })
            }
        })
    }

    pub async fn save_challenge(
        &self,
        id: &str,
        challenge: &Challenge,
        expires_at: i64,
    ) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO auth_challenges (id, kind, state, invite_id, detail, expires_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id).bind(&challenge.kind).bind(&challenge.state).bind(challenge.invite_id)
            .bind(&challenge.detail).bind(expires_at).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Takes a ceremony's state out of the store: it can be finished once,
    /// and only as one of the kinds of ceremony it may have been started as.
    pub async fn take_challenge(
        &self,
        id: &str,
        kinds: &[&str],
        now: i64,
    ) -> Result<Option<Challenge>> {
        // DELETE … RETURNING: of two concurrent finishes, only one gets the row.
        let row: Option<ChallengeRow> = with_pool!(self, pool => sqlx::query_as(
            "DELETE FROM auth_challenges WHERE id = $1 RETURNING kind, state, invite_id, detail, expires_at")
            .bind(id).fetch_optional(pool).await)?;
        with_pool!(self, pool => sqlx::query("DELETE FROM auth_challenges WHERE expires_at <= $1")
            .bind(now).execute(pool).await.map(|_| ()))?;
        Ok(match row {
            Some((k, state, invite_id, detail, expires_at))
                if kinds.contains(&k.as_str()) && expires_at > now =>
            {
                Some(Challenge {
                    kind: k,
                    state,
                    invite_id,
                    detail,
                })
            }
            _ => None,
        })
    }

    /// Uses an invite up and creates the person, their device (bound to its
    /// actor id) and its passkey, all or nothing.
    pub async fn enroll(&self, e: &Enrollment, now: i64) -> Result<super::Principal> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let invite: Option<(i64, String)> = sqlx::query_as(
                "SELECT organisation_id, role FROM invites WHERE id = $1 AND used_at IS NULL AND expires_at > $2")
                .bind(e.invite_id).bind(now).fetch_optional(&mut *tx).await?;
            let (organisation_id, role) = invite.ok_or_else(|| StoreError::Conflict("the invite is used or expired".into()))?;
            let (user_id,): (i64,) = sqlx::query_as(
                "INSERT INTO users (handle, organisation_id, role, created_at, webauthn_id) VALUES ($1, $2, $3, $4, $5) RETURNING id")
                .bind(&e.handle).bind(organisation_id).bind(&role).bind(now).bind(&e.webauthn_id)
                .fetch_one(&mut *tx).await?;
            let used = sqlx::query("UPDATE invites SET used_at = $1, used_by_user_id = $2 WHERE id = $3 AND used_at IS NULL")
                .bind(now).bind(user_id).bind(e.invite_id).execute(&mut *tx).await?.rows_affected();
            if used != 1 {
                return Err(StoreError::Conflict("the invite is used or expired".into()));
            }
            let device_id = insert_device!(tx, user_id, &e.device_name, &e.actor_id, now);
            sqlx::query("INSERT INTO passkeys (device_id, credential_id, passkey, created_at) VALUES ($1, $2, $3, $4)")
                .bind(device_id).bind(&e.credential_id).bind(&e.passkey).bind(now).execute(&mut *tx).await?;
            let row: PrincipalRow = sqlx::query_as(select_principal!("WHERE d.id = $1"))
                .bind(device_id).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            principal(row)
        })
    }

    /// Adds a passkey as a new device of an existing person.
    pub async fn add_passkey_device(
        &self,
        user_id: i64,
        device_name: &str,
        actor_id: &str,
        credential_id: &str,
        passkey: &str,
        now: i64,
    ) -> Result<super::Principal> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let device_id = insert_device!(tx, user_id, device_name, actor_id, now);
            sqlx::query("INSERT INTO passkeys (device_id, credential_id, passkey, created_at) VALUES ($1, $2, $3, $4)")
                .bind(device_id).bind(credential_id).bind(passkey).bind(now).execute(&mut *tx).await?;
            let row: PrincipalRow = sqlx::query_as(select_principal!("WHERE d.id = $1"))
                .bind(device_id).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            principal(row)
        })
    }

    pub async fn webauthn_id(&self, user_id: i64) -> Result<Option<String>> {
        let row: Option<(Option<String>,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT webauthn_id FROM users WHERE id = $1").bind(user_id).fetch_optional(pool).await)?;
        Ok(row.and_then(|r| r.0))
    }

    pub async fn set_webauthn_id(&self, user_id: i64, webauthn_id: &str) -> Result<()> {
        with_pool!(self, pool => sqlx::query("UPDATE users SET webauthn_id = $1 WHERE id = $2 AND webauthn_id IS NULL")
            .bind(webauthn_id).bind(user_id).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// The passkey with a credential id, if its person has the given WebAuthn user handle.
    pub async fn passkey_by_credential(
        &self,
        credential_id: &str,
    ) -> Result<Option<(StoredPasskey, String)>> {
        let row: Option<(i64, i64, String, Option<String>)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT p.id, p.device_id, p.passkey, u.webauthn_id FROM passkeys p \
             JOIN devices d ON d.id = p.device_id JOIN users u ON u.id = d.user_id WHERE p.credential_id = $1")
            .bind(credential_id).fetch_optional(pool).await)?;
        Ok(row.map(|(id, device_id, passkey, webauthn_id)| {
            (
                StoredPasskey {
                    id,
                    device_id,
                    passkey,
                },
                webauthn_id.unwrap_or_default(),
            )
        }))
    }

    /// The passkeys of a person's live devices.
    pub async fn passkeys_of(&self, handle: &str) -> Result<Vec<StoredPasskey>> {
        let rows: Vec<(i64, i64, String)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT p.id, p.device_id, p.passkey FROM passkeys p JOIN devices d ON d.id = p.device_id \
             JOIN users u ON u.id = d.user_id WHERE u.handle = $1 AND d.revoked_at IS NULL")
            .bind(handle).fetch_all(pool).await)?;
        Ok(rows
            .into_iter()
            .map(|(id, device_id, passkey)| StoredPasskey {
                id,
                device_id,
                passkey,
            })
            .collect())
    }

    pub async fn update_passkey(&self, id: i64, passkey: &str, now: i64) -> Result<()> {
        with_pool!(self, pool => sqlx::query("UPDATE passkeys SET passkey = $1, last_used_at = $2 WHERE id = $3")
            .bind(passkey).bind(now).bind(id).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// The principal of a device, live or revoked.
    pub async fn device_principal(&self, device_id: i64) -> Result<Authn> {
        let row: Option<PrincipalRow> = with_pool!(self, pool => sqlx::query_as(select_principal!("WHERE d.id = $1"))
            .bind(device_id).fetch_optional(pool).await)?;
        authn(row)
    }

    pub async fn create_session(
        &self,
        token_hash: &str,
        device_id: i64,
        now: i64,
        expires_at: i64,
    ) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO sessions (token_hash, device_id, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $3, $4)")
            .bind(token_hash).bind(device_id).bind(now).bind(expires_at).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// The principal of a live session, which this use keeps alive.
    pub async fn principal_by_session(
        &self,
        token_hash: &str,
        now: i64,
        idle_ms: i64,
    ) -> Result<Authn> {
        let session: Option<(i64, i64, i64, Option<i64>)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT device_id, last_seen_at, expires_at, revoked_at FROM sessions WHERE token_hash = $1")
            .bind(token_hash).fetch_optional(pool).await)?;
        let Some((device_id, last_seen_at, expires_at, revoked_at)) = session else {
            return Ok(Authn::Unknown);
        };
        if revoked_at.is_some() {
            return Ok(Authn::Unknown);
        }
        if expires_at <= now || last_seen_at + idle_ms <= now {
            return Ok(Authn::Expired);
        }
        let outcome = self.device_principal(device_id).await?;
        if matches!(outcome, Authn::Valid(_)) {
            let kept: Result<()> = with_pool!(self, pool => sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
                .bind(now).bind(token_hash).execute(pool).await.map(|_| ()))
            .map_err(StoreError::from);
            // On a full database the session is not kept alive by this use
            // (it ends sooner, never later), and the use is still allowed.
            if !matches!(kept, Err(StoreError::Full(_))) {
                kept?;
            }
            self.touch_device(device_id, now).await?;
        }
        Ok(outcome)
    }

    /// Whether a session is neither ended nor past its maximum age, without
    /// counting this as a use of it.
    pub async fn session_is_live(&self, token_hash: &str, now: i64) -> Result<bool> {
        let live: Option<i64> = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT 1 FROM sessions WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2")
            .bind(token_hash).bind(now).fetch_optional(pool).await)?;
        Ok(live.is_some())
    }

    /// When a session that has not been ended reaches its maximum age.
    pub async fn session_expires_at(&self, token_hash: &str) -> Result<Option<i64>> {
        let expires_at: Option<i64> = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT expires_at FROM sessions WHERE token_hash = $1 AND revoked_at IS NULL")
            .bind(token_hash).fetch_optional(pool).await)?;
        Ok(expires_at)
    }

    pub async fn end_session(&self, token_hash: &str, now: i64) -> Result<()> {
        with_pool!(self, pool => sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
            .bind(now).bind(token_hash).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Ends every session of a person, on every device; returns how many.
    pub async fn end_all_sessions(&self, user_id: i64, now: i64) -> Result<u64> {
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE sessions SET revoked_at = $1 WHERE revoked_at IS NULL \
             AND device_id IN (SELECT id FROM devices WHERE user_id = $2)")
            .bind(now).bind(user_id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n)
    }

    pub async fn devices_of(&self, user_id: i64) -> Result<Vec<DeviceInfo>> {
        let rows: Vec<DeviceInfo> = with_pool!(self, pool => sqlx::query_as(select_device!("WHERE u.id = $1 ORDER BY d.id"))
            .bind(user_id).fetch_all(pool).await)?;
        Ok(rows)
    }

    pub async fn device(&self, device_id: i64) -> Result<Option<DeviceInfo>> {
        let row: Option<DeviceInfo> = with_pool!(self, pool => sqlx::query_as(select_device!("WHERE d.id = $1"))
            .bind(device_id).fetch_optional(pool).await)?;
        Ok(row)
    }

    /// Revokes a device: its tokens, sessions and passkey stop working.
    pub async fn revoke_device(&self, device_id: i64, now: i64) -> Result<bool> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query("UPDATE devices SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now).bind(device_id).execute(&mut *tx).await?.rows_affected();
            sqlx::query("UPDATE sessions SET revoked_at = $1 WHERE device_id = $2 AND revoked_at IS NULL")
                .bind(now).bind(device_id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(n == 1)
        })
    }
}

impl Store {
    pub async fn add_organisation(
        &self,
        name: &str,
        kind: OrganisationKind,
        now: i64,
    ) -> Result<i64> {
        let id: (i64,) = with_pool!(self, pool => sqlx::query_as(
            "INSERT INTO organisations (name, kind, created_at) VALUES ($1, $2, $3) RETURNING id")
            .bind(name).bind(kind.as_str()).bind(now)
            .fetch_one(pool).await)?;
        Ok(id.0)
    }

    pub async fn add_user(
        &self,
        organisation: &str,
        handle: &str,
        role: Role,
        now: i64,
    ) -> Result<i64> {
        let org: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id FROM organisations WHERE name = $1").bind(organisation).fetch_optional(pool).await)?;
        let (org_id,) = org.ok_or(StoreError::NotFound("organisation"))?;
        let id: (i64,) = with_pool!(self, pool => sqlx::query_as(
            "INSERT INTO users (handle, organisation_id, role, created_at) VALUES ($1, $2, $3, $4) RETURNING id")
            .bind(handle).bind(org_id).bind(role.as_str()).bind(now)
            .fetch_one(pool).await)?;
        Ok(id.0)
    }

    /// Stores the hash of a new API token for a user's named device, creating
    /// the device (with `actor_id`, bound to it) the first time it is named.
    pub async fn add_api_token(
        &self,
        handle: &str,
        device_name: &str,
        new_actor_id: &str,
        token_hash: &str,
        now: i64,
    ) -> Result<Principal> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let user: Option<(i64,)> = sqlx::query_as("SELECT id FROM users WHERE handle = $1")
                .bind(handle).fetch_optional(&mut *tx).await?;
            let (user_id,) = user.ok_or(StoreError::NotFound("user"))?;
            let existing: Option<(i64, Option<i64>)> = sqlx::query_as(
                "SELECT id, revoked_at FROM devices WHERE user_id = $1 AND name = $2")
                .bind(user_id).bind(device_name).fetch_optional(&mut *tx).await?;
            let device_id = match existing {
                Some((_, Some(_))) => return Err(StoreError::Conflict("device is revoked".into())),
                Some((id, None)) => id,
                None => insert_device!(tx, user_id, device_name, new_actor_id, now),
            };
            sqlx::query("INSERT INTO api_tokens (device_id, token_hash, created_at) VALUES ($1, $2, $3)")
                .bind(device_id).bind(token_hash).bind(now).execute(&mut *tx).await?;
            let row: PrincipalRow = sqlx::query_as(select_principal!("WHERE d.id = $1"))
                .bind(device_id).fetch_one(&mut *tx).await?;
            tx.commit().await?;
            principal(row)
        })
    }

    /// Who holds an API token (not revoked itself), and whether their device is live.
    pub async fn principal_by_token(&self, token_hash: &str, now: i64) -> Result<Authn> {
        let row: Option<PrincipalRow> = with_pool!(self, pool => sqlx::query_as(select_principal!(
            "JOIN api_tokens t ON t.device_id = d.id \
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL"))
            .bind(token_hash).fetch_optional(pool).await)?;
        let outcome = authn(row)?;
        if let Authn::Valid(principal) = &outcome {
            self.touch_device(principal.device_id, now).await?;
        }
        Ok(outcome)
    }

    /// Notes when a device was last seen. On a full database that is left
    /// out, so people can still sign in and read.
    pub(crate) async fn touch_device(&self, device_id: i64, now: i64) -> Result<()> {
        let touched: Result<()> = with_pool!(self, pool => sqlx::query("UPDATE devices SET last_seen_at = $1 WHERE id = $2")
            .bind(now).bind(device_id).execute(pool).await.map(|_| ()))
        .map_err(StoreError::from);
        match touched {
            Err(StoreError::Full(_)) => Ok(()),
            other => other,
        }
    }

    pub async fn add_sync_ticket(
        &self,
        device_id: i64,
        ticket_hash: &str,
        expires_at: i64,
    ) -> Result<()> {
        with_pool!(self, pool => sqlx::query(
            "INSERT INTO sync_tickets (ticket_hash, device_id, expires_at) VALUES ($1, $2, $3)")
            .bind(ticket_hash).bind(device_id).bind(expires_at).execute(pool).await.map(|_| ()))?;
        Ok(())
    }

    /// Uses a ticket up: succeeds once, within its lifetime, for a live device.
    pub async fn redeem_sync_ticket(&self, ticket_hash: &str, now: i64) -> Result<Authn> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let ticket: Option<(i64, i64, Option<i64>)> = sqlx::query_as(
                "SELECT device_id, expires_at, used_at FROM sync_tickets WHERE ticket_hash = $1")
                .bind(ticket_hash).fetch_optional(&mut *tx).await?;
            let outcome = match ticket {
                None => Authn::Unknown,
                Some((_, _, Some(_))) => Authn::AlreadyUsed,
                Some((_, expires_at, None)) if expires_at <= now => Authn::Expired,
                Some((device_id, _, None)) => {
                    let used = sqlx::query(
                        "UPDATE sync_tickets SET used_at = $1 WHERE ticket_hash = $2 AND used_at IS NULL")
                        .bind(now).bind(ticket_hash).execute(&mut *tx).await?.rows_affected();
                    let row: Option<PrincipalRow> = sqlx::query_as(select_principal!("WHERE d.id = $1"))
                        .bind(device_id).fetch_optional(&mut *tx).await?;
                    if used == 1 { authn(row)? } else { Authn::AlreadyUsed }
                }
            };
            tx.commit().await?;
            Ok(outcome)
        })
    }

    /// The device an actor id is bound to, if any.
    pub async fn actor_device(&self, actor_id: &str) -> Result<Option<i64>> {
        let row: Option<(i64,)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT device_id FROM actors WHERE actor_id = $1").bind(actor_id).fetch_optional(pool).await)?;
        Ok(row.map(|r| r.0))
    }

    /// The person (handle, organisation) behind an actor id: the device it is
    /// bound to, or whose own actor id it is.
    pub async fn actor_person(&self, actor_id: &str) -> Result<Option<(String, String)>> {
        let row: Option<(String, String)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT u.handle, o.name FROM devices d JOIN users u ON u.id = d.user_id \
             JOIN organisations o ON o.id = u.organisation_id \
             WHERE d.id = (SELECT device_id FROM actors WHERE actor_id = $1) OR d.actor_id = $1 LIMIT 1")
            .bind(actor_id).fetch_optional(pool).await)?;
        Ok(row)
    }
}
