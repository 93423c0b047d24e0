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

-- Ingestion entry point: the writer inserts batches here as JSONCompactColumns (serialised in C by
-- orjson, no per-value Python work). The Null engine stores nothing; the materialized view below turns
-- each block into `events` rows, and the views on `events` then fill the dedup index and the rollups.
CREATE TABLE IF NOT EXISTS events_ingest
(
    platform        String,
    event_id        UUID,
    user_pseudo_hex FixedString(32),
    type            Enum8('session' = 1, 'install' = 2),
    ts_ms           Int64,
    day             Date,
    duration_s      UInt32,
    bytes           UInt64,
    country         String,
    province        String,
    os              String
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_ingest_mv TO events AS
SELECT
    platform,
    event_id,
    CAST(unhex(user_pseudo_hex) AS FixedString(16)) AS user_pseudo,
    type,
    fromUnixTimestamp64Milli(ts_ms, 'UTC')            AS ts,
    day,
    duration_s,
    bytes,
    country,
    province,
    os,
    now64(3, 'UTC')                                   AS received_at
FROM events_ingest;

-- Dedup index: every stored (platform, event_id), the UUID as its UInt128 value (what Python's
-- uuid.UUID.int gives), so that the `dedupe` step binds a batch's ids as integers.
CREATE TABLE IF NOT EXISTS event_ids
(
    platform LowCardinality(String),
    id128    UInt128
)
ENGINE = MergeTree
-- ORDER BY (platform, id128): point lookups of a batch's ids; small granules keep a lookup of
-- 1,000 random ids to ~1,000 granules of 256 rows instead of 8,192.
ORDER BY (platform, id128)
SETTINGS index_granularity = 256;

CREATE MATERIALIZED VIEW IF NOT EXISTS event_ids_mv TO event_ids AS
SELECT platform, toUInt128(event_id) AS id128
FROM events;
