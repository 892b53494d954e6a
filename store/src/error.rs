//! Storage errors in the domain's terms; sqlx errors are translated here and
//! nowhere else.

/// What went wrong in storage, as callers need to tell it apart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("conflict: {0}")]
    Conflict(String),
    /// A write broke one of the schema's uniqueness rules, named.
    #[error("conflict: {0}")]
    Taken(Unique),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database has no room for the write (a full disk, or SQLite's
    /// page limit): nothing of it was stored, and reads still work.
    #[error("database full: {0}")]
    Full(String),
    #[error("database configuration: {0}")]
    Config(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::RowNotFound => StoreError::NotFound("row"),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                match Unique::broken(db.constraint(), db.message()) {
                    Some(unique) => StoreError::Taken(unique),
                    None => StoreError::Conflict("already exists".into()),
                }
            }
            sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
                StoreError::Conflict("refers to something that does not exist".into())
            }
            sqlx::Error::Database(db) if is_full(db.code().as_deref()) => {
                StoreError::Full(error.to_string())
            }
            _ => StoreError::Unavailable(error.to_string()),
        }
    }
}

/// SQLite's `SQLITE_FULL` (13; sqlx reports SQLite's extended codes, at
/// most four digits, which keep the primary code in their low byte) and
/// PostgreSQL's `disk_full` (its SQLSTATEs are always five characters).
fn is_full(code: Option<&str>) -> bool {
    match code {
        Some("53100") => true,
        Some(code) if code.len() < 5 => code.parse::<i32>().is_ok_and(|c| c & 0xff == 13),
        _ => false,
    }
}

impl StoreError {
    /// The same failure for another write that shared its fate (one group
    /// commit, say): full stays full, anything else is unavailability.
    pub(crate) fn shared(&self) -> StoreError {
        match self {
            StoreError::Full(detail) => StoreError::Full(detail.clone()),
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        StoreError::Unavailable(format!("migration failed: {error}"))
    }
}

/// A uniqueness rule of the schema that callers tell apart: which one a
/// write broke, so none has to guess from the operation it tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unique {
    OrganisationName,
    UserHandle,
    /// One person's devices have different names.
    DeviceName,
    ActorId,
    PasskeyCredential,
    /// A case has at most one open handover request.
    OpenHandover,
    /// Two households are linked at most once at a time.
    LiveLink,
}

impl Unique {
    /// Each rule with PostgreSQL's name for it and the columns SQLite names.
    const RULES: [(Unique, &'static str, &'static str); 7] = [
        (
            Unique::OrganisationName,
            "organisations_name_key",
            "organisations.name",
        ),
        (Unique::UserHandle, "users_handle_key", "users.handle"),
        (
            Unique::DeviceName,
            "devices_user_id_name_key",
            "devices.user_id, devices.name",
        ),
        (Unique::ActorId, "devices_actor_id_key", "devices.actor_id"),
        (
            Unique::PasskeyCredential,
            "passkeys_credential_id_key",
            "passkeys.credential_id",
        ),
        (
            Unique::OpenHandover,
            "handovers_one_open",
            "handovers.case_id",
        ),
        (
            Unique::LiveLink,
            "household_links_one_live",
            "household_links.case_a, household_links.case_b",
        ),
    ];

    /// The rule a unique violation broke: PostgreSQL names the constraint,
    /// SQLite only says "UNIQUE constraint failed: table.column, …".
    fn broken(constraint: Option<&str>, message: &str) -> Option<Unique> {
        let columns = message.strip_prefix("UNIQUE constraint failed: ");
        Self::RULES
            .iter()
            .find(|(_, name, cols)| constraint == Some(*name) || columns == Some(*cols))
            .map(|(unique, _, _)| *unique)
    }
}

impl std::fmt::Display for Unique {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unique::OrganisationName => "an organisation with that name exists",
            Unique::UserHandle => "that handle is taken",
            Unique::DeviceName => "that person already has a device with that name",
            Unique::ActorId => "that actor id is bound to another device",
            Unique::PasskeyCredential => "that passkey is already enrolled",
            Unique::OpenHandover => "the case already has an open handover request",
            Unique::LiveLink => "these households are already linked",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_say_when_they_are_full() {
        assert!(is_full(Some("13")));
        assert!(is_full(Some("53100")));
        // SQLITE_CONSTRAINT_UNIQUE (2067), SQLITE_BUSY (5), a PostgreSQL unique violation.
        assert!(!is_full(Some("2067")));
        assert!(!is_full(Some("5")));
        assert!(!is_full(Some("23505")));
        assert!(!is_full(None));
    }

    #[test]
    fn both_backends_name_the_rule_a_write_broke() {
        assert_eq!(
            Unique::broken(Some("users_handle_key"), "duplicate key value"),
            Some(Unique::UserHandle)
        );
        assert_eq!(
            Unique::broken(
                None,
                "UNIQUE constraint failed: devices.user_id, devices.name"
            ),
            Some(Unique::DeviceName)
        );
        assert_eq!(
            Unique::broken(None, "UNIQUE constraint failed: doc_changes.document_id"),
            None
        );
    }
}
