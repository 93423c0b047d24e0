-- 0002_events: the raw events and the dedup index fed from them.
-- Single-server variant; the cluster variant is ../cluster/0002_events.sql.

-- One row per accepted event. `user_pseudo` is the keyed hash of the vendor's user id; the raw id is
-- never stored. `day` is the calendar day of `ts` in the service time zone (VNMETER_TIMEZONE),
-- computed once at ingestion so that every query agrees on it.
CREATE TABLE IF NOT EXISTS events
(
    platform    LowCardinality(String),
    event_id    UUID,
    user_pseudo FixedString(16),
    type        Enum8('session' = 1, 'install' = 2),
    ts          DateTime64(3, 'UTC'),
    day         Date,
    duration_s  UInt32,
    bytes       UInt64,
    country     LowCardinality(String),
    province    LowCardinality(String),
    os          LowCardinality(String),
    received_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
-- PARTITION BY month of `day`: period queries prune whole months; a month's data ages out as one partition.
PARTITION BY toYYYYMM(day)
-- ORDER BY (platform, day, user_pseudo): raw-event queries are per platform over a date range and
-- count distinct users; keeping a user's rows adjacent also compresses the pseudonym column well.
ORDER BY (platform, day, user_pseudo);

-- Dedup index: every stored (platform, event_id). The ingestion `dedupe` step looks a batch's ids up here.
CREATE TABLE IF NOT EXISTS event_ids
(
    platform LowCardinality(String),
    event_id UUID
)
ENGINE = MergeTree
-- ORDER BY (platform, event_id): point lookups of a batch's ids; small granules keep a lookup of
-- 1,000 random ids to ~1,000 granules of 256 rows instead of 8,192.
ORDER BY (platform, event_id)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS event_ids_mv TO event_ids AS
SELECT platform, event_id
FROM events;
