-- 0008_ingest_quality: what became of every row vendors sent, counted by the ingestion path itself.
-- Single-server variant; the cluster variant is ../cluster/0008_ingest_quality.sql.
--
-- The writer inserts one block per insert group beside the events block, under the same journal entry and
-- a token of its own, so a replay after a crash adds exactly the counts that are missing (never sampled,
-- never twice). Columns:
--   vendor       the vendor of the key that posted the row
--   platform     the row's platform when it is registered to that vendor; '' otherwise (unknown platform,
--                another vendor's platform, or no platform could be read)
--   day          the arrival day in the service time zone (VNMETER_TIMEZONE)
--   event_month  the month of the row's `ts` in the service time zone; 1970-01-01 when no valid `ts` was read
--   outcome      accepted (stored), duplicate (already stored: a retry), rejected (with `reason`)
--   reason       the rejection reason (ingest.reasons.Reason); '' for accepted and duplicate rows
--   lateness     accepted rows only: arrival time minus `ts`, in buckets (under 1 hour, 1 day, 7 days, or
--                older); '' for the other outcomes
--   events       the number of rows
CREATE TABLE IF NOT EXISTS ingest_quality
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
ENGINE = SummingMergeTree(events)
-- PARTITION BY arrival month: GET /v1/quality reads the arrival days of one period.
PARTITION BY toYYYYMM(day)
-- ORDER BY (vendor, platform, day, ...): a vendor's quality view reads its own rows per platform and day;
-- reconciliation groups the same rows by event_month.
ORDER BY (vendor, platform, day, event_month, outcome, reason, lateness)
SETTINGS non_replicated_deduplication_window = 10000;
