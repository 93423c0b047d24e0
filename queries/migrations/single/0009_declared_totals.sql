-- 0009_declared_totals: control totals a vendor declares for its platforms, per calendar month, so that
-- GET /v1/reconciliation can set them against what arrived. Single-server variant; the cluster variant is
-- ../cluster/0009_declared_totals.sql.
--
-- One row per declaration (PUT /v1/platforms/{id}/declared/{YYYY-MM}). Declaring the same platform and
-- month again writes a newer `version` (nanoseconds since the epoch), which wins: reads take argMax(...,
-- version) per (platform, month) and never rely on merges. Columns:
--   platform     the platform the totals are for (registered to the declaring vendor)
--   month        the first day of the calendar month (service time zone) the totals are for
--   events       events the vendor says it sent for that month (the month of their `ts`); NULL: not declared
--   users        distinct users the vendor says were active in that month; NULL: not declared
--   declared_by  the id of the API key that declared
--   declared_at  when the service received the declaration
--   version      orders the declarations of one (platform, month): the latest wins
CREATE TABLE IF NOT EXISTS declared_totals
(
    platform    LowCardinality(String),
    month       Date,
    events      Nullable(UInt64),
    users       Nullable(UInt64),
    declared_by String,
    declared_at DateTime64(3, 'UTC'),
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
-- ORDER BY (platform, month): GET /v1/reconciliation reads the latest declaration of each platform and month
-- of a period.
ORDER BY (platform, month);
