-- 0008_ingest_quality: what became of every row vendors sent, counted by the ingestion path itself.
-- Cluster variant of ../single/0008_ingest_quality.sql (read it for the columns). The table is small (a
-- few rows per vendor, platform and day) and replicated to EVERY node ('/clickhouse/tables/all/...'): an
-- API process writes its counts through whichever node it uses, and every node answers GET /v1/quality.
-- The writer's insert carries its own deduplication token, kept in Keeper for the last 10,000 blocks.
CREATE TABLE IF NOT EXISTS ingest_quality ON CLUSTER '{cluster}'
(
    vendor      LowCardinality(String),
    platform    LowCardinality(String),
    day         Date,
    event_month Date,
    outcome     Enum8('accepted' = 1, 'duplicate' = 2, 'rejected' = 3),
    reason      LowCardinality(String),
    lateness    Enum8('' = 0, 'lt_1h' = 1, 'lt_1d' = 2, 'lt_7d' = 3, 'older' = 4),
    events      UInt64
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}', events)
-- PARTITION BY arrival month: GET /v1/quality reads the arrival days of one period.
PARTITION BY toYYYYMM(day)
-- ORDER BY (vendor, platform, day, ...): a vendor's quality view reads its own rows per platform and day;
-- reconciliation groups the same rows by event_month.
ORDER BY (vendor, platform, day, event_month, outcome, reason, lateness)
SETTINGS replicated_deduplication_window = 10000;
