-- The signal index: which organisations registered involvement with a person.
-- The person is only a keyed hash (HMAC-SHA-256 under a key the database does
-- not hold) of their BSN, or of their name and birth date; no identifier is
-- stored. One row per person and organisation: registering again refreshes it.
CREATE TABLE signals (
    id               BIGSERIAL PRIMARY KEY,
    subject_hash     TEXT NOT NULL,
    organisation_id  BIGINT NOT NULL REFERENCES organisations(id),
    -- The professional who last registered it.
    user_id          BIGINT NOT NULL REFERENCES users(id),
    -- bsn or name: which kind of identifier was hashed, for the registrant.
    subject_kind     TEXT NOT NULL,
    -- The registrant's own reference, shown only to their organisation.
    reference        TEXT NOT NULL,
    -- How the other organisation reaches the professional, as they gave it.
    contact_name     TEXT NOT NULL,
    contact_phone    TEXT NOT NULL,
    contact_email    TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    registered_at    BIGINT NOT NULL,
    -- Until then a registration of the same person by another organisation is a match.
    active_until     BIGINT NOT NULL,
    -- Until then the registrant sees it; after it, the retention job deletes it.
    visible_until    BIGINT NOT NULL,
    UNIQUE (subject_hash, organisation_id)
);
CREATE INDEX signals_by_organisation ON signals (organisation_id);
CREATE INDEX signals_by_visible_until ON signals (visible_until);

-- A match, once per side: signal_id's organisation is told of other_signal_id's.
CREATE TABLE signal_matches (
    signal_id        BIGINT NOT NULL REFERENCES signals(id) ON DELETE CASCADE,
    other_signal_id  BIGINT NOT NULL REFERENCES signals(id) ON DELETE CASCADE,
    matched_at       BIGINT NOT NULL,
    PRIMARY KEY (signal_id, other_signal_id)
);
CREATE INDEX signal_matches_by_other ON signal_matches (other_signal_id);

-- A check value of the key (its HMAC of a fixed text), never the key: a node
-- started with another key would hash everyone differently and silently
-- never match, so it refuses to start instead.
CREATE TABLE signal_key_check (
    id           BIGINT PRIMARY KEY CHECK (id = 1),
    check_value  TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);
