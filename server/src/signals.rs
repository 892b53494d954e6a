//! The signal index: a hit/no-hit index across organisations and
//! municipalities, like the Dutch Verwijsindex. A professional registers that
//! their organisation is involved with a person; when another organisation has
//! registered the same person, both are told of the match — each only the
//! other's organisation and contact details and the date, never case content.
//!
//! - `POST /api/signals` registers (or refreshes) and answers with the signal
//!   and its matches; `GET /api/signals` lists the organisation's signals.
//! - The person is known only by an HMAC-SHA-256 of their canonical identifier
//!   (`core::signal`: a BSN that passes the eleven test, or a normalised name
//!   with birth date) under a key kept outside the database: a BSN has only
//!   10⁹ values, so a hash anyone with the database could recompute would
//!   give the numbers away.
//! - A registration matches for [`ACTIVE_YEARS`] (two) years and stays
//!   visible to its organisation, with its matches, for [`VISIBLE_YEARS`]
//!   (five); then [`retain`] deletes it.

use std::path::{Path, PathBuf};

use axum::extract::{self, State};
use axum::http::StatusCode;
use axum::{
    Json, Router,
    routing::{delete, get},
};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use veldwerk_core::api::signals::{
    Contact, ContactInput, Match, RegisterSignal, Registered, Signal, Signals,
};
use veldwerk_core::calendar::Date;
use veldwerk_core::signal::Subject;
use veldwerk_core::text::TextRule;

use crate::AppState;
use crate::http::{ApiError, ApiJson, Authenticated, Now, audit_entry};
use crate::store::{
    AuditEntry, AuditKey, Location, NewRegistration, Principal, SignalContact, SignalMatch,
    SignalRecord, Store,
};

/// Years a registration produces matches.
pub const ACTIVE_YEARS: i64 = 2;
/// Years a registration is visible to its organisation before it is deleted.
pub const VISIBLE_YEARS: i64 = 5;
/// A Gregorian year (365.2425 days) in milliseconds.
pub const YEAR_MS: i64 = 31_556_952_000;
/// Longest contact detail or reference, in characters.
const MAX_TEXT: usize = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/signals", get(list).post(register))
        .route("/api/signals/{id}", delete(withdraw))
}

/// The secret key of the person hashes. Never in the database, never logged.
pub struct SignalKey(Vec<u8>);

impl std::fmt::Debug for SignalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignalKey(…)")
    }
}

/// Bytes of a key this server makes.
const KEY_BYTES: usize = 32;

impl SignalKey {
    /// The server's secret key, from `key_file` (`--signal-key-file`) or,
    /// without it, from `signal.key` next to the SQLite database, or in
    /// `data/` under the working directory with PostgreSQL. Where the file
    /// does not exist yet it is made (mode 0600). Several PostgreSQL nodes
    /// must share one file; [`Self::check_value`] stops a node with another
    /// key from starting.
    pub fn load(database_url: &str, key_file: Option<&Path>) -> Result<SignalKey, String> {
        let path = match key_file {
            Some(path) => path.to_owned(),
            None => match Location::of(database_url).map_err(|e| e.to_string())? {
                Location::File(database) => database.with_file_name("signal.key"),
                Location::Memory => {
                    // The data dies with the process; so may the key.
                    tracing::warn!("in-memory database: the server uses a key for this run only");
                    return Ok(SignalKey(random_key().to_vec()));
                }
                Location::Server => PathBuf::from("data/signal.key"),
            },
        };
        match Self::create(&path) {
            Ok(()) => {
                tracing::info!(path = %path.display(), "made a new server key; keep it with the database's backups, apart from them");
                Self::read(&path)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Self::read(&path),
            Err(e) => Err(format!(
                "cannot make the server key {}: {e}; make its folder writable, or give \
                 --signal-key-file (VELDWERK_SIGNAL_KEY_FILE) a file of 64 hex digits, \
                 e.g. from `openssl rand -hex 32`",
                path.display()
            )),
        }
    }

    /// The key of the audit chain's hashes, derived from this one.
    pub fn audit_key(&self) -> AuditKey {
        AuditKey::derive(&self.0)
    }

    /// What the database keeps to recognise the key: its HMAC of a fixed
    /// text, from which the key cannot be found.
    pub fn check_value(&self) -> Result<String, String> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0)
            .map_err(|_| "signal key of invalid length".to_owned())?;
        mac.update(b"veldwerk signal key check v1");
        Ok(hex::encode(mac.finalize().into_bytes()))
    }

    fn create(path: &Path) -> std::io::Result<()> {
        use std::io::Write;
        if let Some(parent) = path.parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path)?;
        file.write_all(format!("{}\n", hex::encode(random_key())).as_bytes())?;
        file.sync_all()
    }

    fn read(path: &Path) -> Result<SignalKey, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the signal key {}: {e}", path.display()))?;
        let key = hex::decode(text.trim())
            .map_err(|_| format!("the signal key {} must be hex digits only", path.display()))?;
        if key.len() < KEY_BYTES {
            return Err(format!(
                "the signal key {} must be at least {} hex digits",
                path.display(),
                KEY_BYTES * 2
            ));
        }
        #[cfg(unix)]
        if let Ok(meta) = std::fs::metadata(path) {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(path = %path.display(), "the signal key file can be read by others than its owner; chmod 600 it");
            }
        }
        Ok(SignalKey(key))
    }

    /// The id the API shows for a signal: keyed, so it tells nothing about
    /// how many registrations the index holds or in which order they came.
    fn public_id(&self, id: i64) -> Result<String, ApiError> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0)
            .map_err(|_| ApiError::Internal("signal key of invalid length".into()))?;
        mac.update(b"veldwerk signal id v1\0");
        mac.update(&id.to_be_bytes());
        Ok(hex::encode(&mac.finalize().into_bytes()[..16]))
    }

    /// The keyed hash of a person, hex: what the index stores and matches on.
    fn hash(&self, subject: &Subject) -> Result<String, ApiError> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0)
            .map_err(|_| ApiError::Internal("signal key of invalid length".into()))?;
        mac.update(b"veldwerk signal index v1\0");
        mac.update(subject.canonical().as_bytes());
        Ok(hex::encode(mac.finalize().into_bytes()))
    }
}

fn random_key() -> [u8; KEY_BYTES] {
    use rand::RngCore;
    let mut key = [0u8; KEY_BYTES];
    rand::rng().fill_bytes(&mut key);
    key
}

fn professional(p: &Principal) -> Result<(), ApiError> {
    if p.role.may_use_signal_index() {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "the signal index is for field workers, supervisors and case directors",
        ))
    }
}

fn text(value: Option<String>, field: &str) -> Result<String, ApiError> {
    TextRule::line(MAX_TEXT)
        .optional()
        .check(value.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::BadRequest(e.about(field)))
}

fn contact(input: ContactInput, p: &Principal) -> Result<SignalContact, ApiError> {
    let name = text(input.name, "contact.name")?;
    let phone = text(input.phone, "contact.phone")?;
    let email = text(input.email, "contact.email")?;
    if phone.is_empty() && email.is_empty() {
        return Err(ApiError::BadRequest(
            "give a phone number or an e-mail address, so the other organisation can reach you"
                .into(),
        ));
    }
    if !email.is_empty() && !email.contains('@') {
        return Err(ApiError::BadRequest(
            "contact.email is not an e-mail address".into(),
        ));
    }
    Ok(SignalContact {
        name: if name.is_empty() {
            p.handle.clone()
        } else {
            name
        },
        phone,
        email,
    })
}

fn view(
    key: &SignalKey,
    record: SignalRecord,
    matches: &[SignalMatch],
    now: i64,
) -> Result<Signal, ApiError> {
    Ok(Signal {
        active: record.active_until > now,
        matches: matches
            .iter()
            .filter(|m| m.signal_id == record.id)
            .map(|m| Match {
                organisation: m.organisation.clone(),
                contact: Contact {
                    name: m.contact_name.clone(),
                    phone: m.contact_phone.clone(),
                    email: m.contact_email.clone(),
                },
                matched_at: m.matched_at,
            })
            .collect(),
        id: key.public_id(record.id)?,
        kind: record.subject_kind,
        reference: record.reference,
        registered_by: record.registered_by,
        contact: Contact {
            name: record.contact_name,
            phone: record.contact_phone,
            email: record.contact_email,
        },
        created_at: record.created_at,
        registered_at: record.registered_at,
        active_until: record.active_until,
        visible_until: record.visible_until,
    })
}

async fn register(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Now(now): Now,
    ApiJson(body): ApiJson<RegisterSignal>,
) -> Result<Json<Registered>, ApiError> {
    professional(&p)?;
    let subject = Subject::from_input(
        body.bsn.as_deref(),
        body.name.as_deref(),
        body.birth_date.as_deref(),
    )
    .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if let Subject::NameAndBirthDate(_, date) = &subject
        && *date > Date::in_amsterdam(now)
    {
        return Err(ApiError::BadRequest(
            "the birth date lies in the future".into(),
        ));
    }
    let reference = text(body.reference, "reference")?;
    let contact = contact(body.contact, &p)?;
    let signal = NewRegistration {
        subject_hash: state.signal_key.hash(&subject)?,
        subject_kind: subject.kind(),
        organisation_id: p.organisation_id,
        user_id: p.user_id,
        reference,
        contact,
        active_until: now + ACTIVE_YEARS * YEAR_MS,
        visible_until: now + VISIBLE_YEARS * YEAR_MS,
    };
    let by = audit_entry(&p, "signal.register", "");
    let registration = state.store.register_signal(&signal, &by, now).await?;
    let record = state
        .store
        .organisation_signals(p.organisation_id, now)
        .await?
        .into_iter()
        .find(|s| s.id == registration.signal_id)
        .ok_or(ApiError::NotFound("signal"))?;
    let matches = state
        .store
        .organisation_signal_matches(p.organisation_id, now)
        .await?;
    let signal = view(&state.signal_key, record, &matches, now)?;
    Ok(Json(Registered {
        matched: !signal.matches.is_empty(),
        new_matches: registration.new_matches,
        refreshed: registration.refreshed,
        signal,
    }))
}

async fn list(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Now(now): Now,
) -> Result<Json<Signals>, ApiError> {
    professional(&p)?;
    let records = state
        .store
        .organisation_signals(p.organisation_id, now)
        .await?;
    let matches = state
        .store
        .organisation_signal_matches(p.organisation_id, now)
        .await?;
    let entry = audit_entry(
        &p,
        "signal.read",
        &format!("{} signals, {} matches", records.len(), matches.len()),
    );
    state.store.audit(&[entry], now).await?;
    Ok(Json(Signals {
        signals: records
            .into_iter()
            .map(|r| view(&state.signal_key, r, &matches, now))
            .collect::<Result<_, _>>()?,
    }))
}

/// `DELETE /api/signals/{id}`: the organisation that registered a signal
/// withdraws it (a mistake, or the involvement ended). It and its matches are
/// gone for both sides at once; the audit log keeps that it happened.
async fn withdraw(
    State(state): State<AppState>,
    Authenticated(p): Authenticated,
    Now(now): Now,
    extract::Path(public_id): extract::Path<String>,
) -> Result<StatusCode, ApiError> {
    professional(&p)?;
    // An organisation has few signals: find the one by its public id.
    let mut found = None;
    for record in state
        .store
        .organisation_signals(p.organisation_id, now)
        .await?
    {
        if state.signal_key.public_id(record.id)? == public_id {
            found = Some(record.id);
            break;
        }
    }
    // Another organisation's signal is answered exactly as one that does not exist.
    let id = found.ok_or(ApiError::NotFound("signal"))?;
    let entry = audit_entry(&p, "signal.withdraw", "");
    state
        .store
        .withdraw_signal(id, p.organisation_id, &entry, now)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes the signals past their visible period, and their matches, as of
/// `now`; audited. Returns how many signals went.
pub async fn purge(store: &Store, now: i64) -> Result<u64, crate::store::StoreError> {
    store
        .purge_signals(now, |signals, matches| AuditEntry {
            user_id: None,
            device_id: None,
            organisation_id: None,
            action: "signal.retention",
            case_id: None,
            compartment: None,
            via: "server",
            detail: format!(
                "deleted {signals} signals and {matches} matches past {VISIBLE_YEARS} years"
            ),
        })
        .await
}

/// The retention job: [`purge`] at the server's clock, every
/// `signal_retention_interval`, for as long as the server runs.
pub async fn retain(state: AppState) {
    let mut tick = tokio::time::interval(state.config.signal_retention_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match purge(&state.store, state.now()).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "signal index retention"),
            Err(e) => tracing::warn!(error = %e, "signal index retention failed; retrying later"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_depends_on_the_key_and_hides_the_identifier() {
        let subject = Subject::from_input(Some("123456782"), None, None).unwrap();
        let a = SignalKey(vec![1; 32]).hash(&subject).unwrap();
        let b = SignalKey(vec![2; 32]).hash(&subject).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(!a.contains("123456782"));
        assert_eq!(a, SignalKey(vec![1; 32]).hash(&subject).unwrap());
        assert_eq!(format!("{:?}", SignalKey(vec![1; 32])), "SignalKey(…)");
    }
}
