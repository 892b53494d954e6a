-- Organisations, people, devices and their credentials; cases and their
-- documents as change logs plus snapshots; SQL projections; quarantine.
-- Times are milliseconds since 1970 (UTC).

CREATE TABLE organisations (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id               BIGSERIAL PRIMARY KEY,
    handle           TEXT NOT NULL UNIQUE,
    organisation_id  BIGINT NOT NULL REFERENCES organisations(id),
    role             TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);

CREATE TABLE devices (
    id            BIGSERIAL PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users(id),
    name          TEXT NOT NULL,
    actor_id      TEXT NOT NULL UNIQUE,
    created_at    BIGINT NOT NULL,
    last_seen_at  BIGINT,
    revoked_at    BIGINT,
    UNIQUE (user_id, name)
);

-- Every automerge actor id belongs to exactly one device.
CREATE TABLE actors (
    actor_id   TEXT PRIMARY KEY,
    device_id  BIGINT NOT NULL REFERENCES devices(id),
    bound_at   BIGINT NOT NULL
);

CREATE TABLE api_tokens (
    id          BIGSERIAL PRIMARY KEY,
    device_id   BIGINT NOT NULL REFERENCES devices(id),
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE sync_tickets (
    ticket_hash  TEXT PRIMARY KEY,
    device_id    BIGINT NOT NULL REFERENCES devices(id),
    expires_at   BIGINT NOT NULL,
    used_at      BIGINT
);

CREATE TABLE cases (
    id                  BIGSERIAL PRIMARY KEY,
    document_id         TEXT NOT NULL UNIQUE,
    directing_org_id    BIGINT REFERENCES organisations(id),
    created_by_user_id  BIGINT NOT NULL REFERENCES users(id),
    created_at          BIGINT NOT NULL,
    label               TEXT NOT NULL,
    address_status      TEXT NOT NULL,
    last_visit_at       BIGINT,
    updated_at          BIGINT NOT NULL
);

CREATE TABLE case_team (
    case_id          BIGINT NOT NULL REFERENCES cases(id),
    organisation_id  BIGINT NOT NULL REFERENCES organisations(id),
    PRIMARY KEY (case_id, organisation_id)
);
CREATE INDEX case_team_by_organisation ON case_team (organisation_id);

CREATE TABLE documents (
    document_id      TEXT PRIMARY KEY,
    case_id          BIGINT NOT NULL REFERENCES cases(id),
    compartment      TEXT NOT NULL,
    snapshot         BYTEA,
    snapshot_at      BIGINT,
    changes_since_snapshot BIGINT NOT NULL DEFAULT 0
);

-- The append-only change log of each document since its last snapshot.
CREATE TABLE doc_changes (
    seq          BIGSERIAL PRIMARY KEY,
    document_id  TEXT NOT NULL REFERENCES documents(document_id),
    hash         TEXT NOT NULL,
    bytes        BYTEA NOT NULL,
    device_id    BIGINT NOT NULL REFERENCES devices(id),
    stored_at    BIGINT NOT NULL,
    UNIQUE (document_id, hash)
);

CREATE TABLE visits (
    document_id    TEXT NOT NULL REFERENCES documents(document_id),
    visit_id       TEXT NOT NULL,
    at             BIGINT NOT NULL,
    author         TEXT NOT NULL,
    organisation   TEXT NOT NULL,
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL,
    review_status  TEXT,
    themes         TEXT NOT NULL,
    PRIMARY KEY (document_id, visit_id)
);

-- Changes refused by the rules: stored, never merged, reported to admins.
CREATE TABLE quarantine (
    id           BIGSERIAL PRIMARY KEY,
    document_id  TEXT NOT NULL,
    hash         TEXT NOT NULL,
    bytes        BYTEA NOT NULL,
    device_id    BIGINT NOT NULL REFERENCES devices(id),
    reason       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    UNIQUE (document_id, hash)
);
