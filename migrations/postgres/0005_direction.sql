-- Case direction between municipalities: the municipality a partner
-- organisation works for (whose case directors take direction of the
-- households it registers), handovers when a family moves, and links between
-- households with the behaviour they rest on.

ALTER TABLE organisations ADD COLUMN municipality_id BIGINT REFERENCES organisations(id);

-- One row per request to hand a case over. The label is the one the sending
-- municipality knew when it asked: after an accepted handover this row is all
-- the sending side keeps of the case.
CREATE TABLE handovers (
    id              BIGSERIAL PRIMARY KEY,
    case_id         BIGINT NOT NULL REFERENCES cases(id),
    from_org_id     BIGINT NOT NULL REFERENCES organisations(id),
    to_org_id       BIGINT NOT NULL REFERENCES organisations(id),
    label           TEXT NOT NULL,
    reason          TEXT NOT NULL,
    requested_by    BIGINT NOT NULL REFERENCES users(id),
    requested_at    BIGINT NOT NULL,
    -- requested, accepted, refused or withdrawn
    status          TEXT NOT NULL,
    decided_by      BIGINT REFERENCES users(id),
    decided_at      BIGINT,
    decision_note   TEXT
);
CREATE INDEX handovers_by_case ON handovers (case_id);
CREATE INDEX handovers_by_to ON handovers (to_org_id, status);
CREATE INDEX handovers_by_from ON handovers (from_org_id);
-- At most one open request per case.
CREATE UNIQUE INDEX handovers_one_open ON handovers (case_id) WHERE status = 'requested';

-- A link between two households, recorded by a case director with its basis:
-- a behaviour (same address, a family member moved in, ...), never origin.
CREATE TABLE household_links (
    id            BIGSERIAL PRIMARY KEY,
    case_a        BIGINT NOT NULL REFERENCES cases(id),
    case_b        BIGINT NOT NULL REFERENCES cases(id),
    basis         TEXT NOT NULL,
    note          TEXT NOT NULL,
    recorded_by   BIGINT NOT NULL REFERENCES users(id),
    recorded_at   BIGINT NOT NULL,
    removed_by    BIGINT REFERENCES users(id),
    removed_at    BIGINT,
    CHECK (case_a < case_b)
);
CREATE UNIQUE INDEX household_links_one_live ON household_links (case_a, case_b) WHERE removed_at IS NULL;
CREATE INDEX household_links_by_b ON household_links (case_b);
