-- A new signal in a case's restricted record puts the family on the radar of
-- the directing municipality's case directors until each has opened it:
-- when the restricted record last took a change from another organisation
-- (and which), and when each director last opened it.
ALTER TABLE cases ADD COLUMN signal_at BIGINT;
ALTER TABLE cases ADD COLUMN signal_org_id BIGINT REFERENCES organisations(id);

CREATE TABLE restricted_seen (
    case_id  BIGINT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
    user_id  BIGINT NOT NULL REFERENCES users(id),
    seen_at  BIGINT NOT NULL,
    PRIMARY KEY (case_id, user_id)
);
