-- Passkeys, invites, browser sessions, the second compartment of a case, and
-- the hash-chained audit log. Times are milliseconds since 1970 (UTC).

-- The WebAuthn user handle: random, never shown, stable for the person.
ALTER TABLE users ADD COLUMN webauthn_id TEXT;
CREATE UNIQUE INDEX users_by_webauthn_id ON users (webauthn_id);

CREATE TABLE invites (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash          TEXT NOT NULL UNIQUE,
    organisation_id     BIGINT NOT NULL REFERENCES organisations(id),
    role                TEXT NOT NULL,
    created_by_user_id  BIGINT REFERENCES users(id),
    created_at          BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    used_at             BIGINT,
    used_by_user_id     BIGINT REFERENCES users(id)
);

-- One passkey is one device: its own actor id, name and revocation.
CREATE TABLE passkeys (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id      BIGINT NOT NULL UNIQUE REFERENCES devices(id),
    credential_id  TEXT NOT NULL UNIQUE,
    passkey        TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT
);

-- WebAuthn ceremony state between start and finish: single use, short-lived.
CREATE TABLE auth_challenges (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    state       TEXT NOT NULL,
    invite_id   BIGINT REFERENCES invites(id),
    detail      TEXT,
    expires_at  BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash    TEXT PRIMARY KEY,
    device_id     BIGINT NOT NULL REFERENCES devices(id),
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT
);
CREATE INDEX sessions_by_device ON sessions (device_id);

-- The restricted record of a case (police and justice signals).
ALTER TABLE cases ADD COLUMN restricted_document_id TEXT;

-- Append-only and hash-chained: each entry's hash covers its fields and the
-- previous entry's hash. audit_head serialises appends across server nodes.
CREATE TABLE audit_log (
    seq              BIGINT PRIMARY KEY,
    at               BIGINT NOT NULL,
    user_id          BIGINT,
    device_id        BIGINT,
    organisation_id  BIGINT,
    action           TEXT NOT NULL,
    case_id          BIGINT,
    compartment      TEXT,
    via              TEXT NOT NULL,
    detail           TEXT NOT NULL,
    prev_hash        TEXT NOT NULL,
    hash             TEXT NOT NULL
);

CREATE TABLE audit_head (
    id         BIGINT PRIMARY KEY,
    last_seq   BIGINT NOT NULL,
    last_hash  TEXT NOT NULL
);
INSERT INTO audit_head (id, last_seq, last_hash) VALUES (1, 0, '');
