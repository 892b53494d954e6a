-- The radar: how many days without a visit a municipality calls "off the radar".
CREATE TABLE radar_settings (
    organisation_id  BIGINT PRIMARY KEY REFERENCES organisations(id),
    no_visit_days    BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
