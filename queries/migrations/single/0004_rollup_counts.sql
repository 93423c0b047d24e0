-- 0004_rollup_counts: one platform_monthly row holds everything the metrics read for a platform and
-- month, and the exact user counts of its states are stored once computed, so that a period query reads
-- a few hundred small rows instead of merging millions of stored pseudonyms.
-- Single-server variant; the cluster variant is ../cluster/0004_rollup_counts.sql.
--
-- New columns of platform_monthly (session events only, except installs):
--   user_days  uniqExact state of (day, user): its count is the sum over the month's days of dau(d),
--              since a user active on d is one distinct (d, user) pair
--   sessions, installs, duration_s, bytes: as in platform_daily, summed over the month
-- platform_monthly_counts keeps mau(m) = count of `users` and the sum of dau(d) = count of `user_days`,
-- each row tagged with the version of the states it was counted from: `event_rows`, the month's
-- sessions + installs at that moment. Events are only appended, so any insert that can change the states
-- also changes the version; a count is used only when its version equals the row's current one, and is
-- recomputed otherwise (queries/sql/monthly.sql, queries/sql/monthly_stale.sql).
--
-- Apply with ingestion stopped (the service migrates at start-up, before it accepts events): rows
-- written before this migration get the new columns' values from `events` between the removal of the
-- old view and the creation of the new one.

ALTER TABLE platform_monthly
    ADD COLUMN IF NOT EXISTS user_days  AggregateFunction(uniqExact, Date, FixedString(16)),
    ADD COLUMN IF NOT EXISTS sessions   SimpleAggregateFunction(sum, UInt64),
    ADD COLUMN IF NOT EXISTS installs   SimpleAggregateFunction(sum, UInt64),
    ADD COLUMN IF NOT EXISTS duration_s SimpleAggregateFunction(sum, UInt64),
    ADD COLUMN IF NOT EXISTS bytes      SimpleAggregateFunction(sum, UInt64);

DROP VIEW IF EXISTS platform_monthly_mv;

-- Completes the rows of events stored before this migration (nothing on a new database); `users`
-- already holds them and is left out (an empty state).
INSERT INTO platform_monthly (platform, month, user_days, sessions, installs, duration_s, bytes)
SELECT
    platform,
    toStartOfMonth(day)                                  AS month,
    uniqExactStateIf(day, user_pseudo, type = 'session') AS user_days,
    toUInt64(countIf(type = 'session'))                  AS sessions,
    toUInt64(countIf(type = 'install'))                  AS installs,
    toUInt64(sumIf(duration_s, type = 'session'))        AS duration_s,
    toUInt64(sumIf(bytes, type = 'session'))             AS bytes
FROM events
GROUP BY platform, month;

CREATE MATERIALIZED VIEW IF NOT EXISTS platform_monthly_mv TO platform_monthly AS
SELECT
    platform,
    toStartOfMonth(day)                                  AS month,
    uniqExactStateIf(user_pseudo, type = 'session')      AS users,
    uniqExactStateIf(day, user_pseudo, type = 'session') AS user_days,
    toUInt64(countIf(type = 'session'))                  AS sessions,
    toUInt64(countIf(type = 'install'))                  AS installs,
    toUInt64(sumIf(duration_s, type = 'session'))        AS duration_s,
    toUInt64(sumIf(bytes, type = 'session'))             AS bytes
FROM events
GROUP BY platform, month;

-- mau(m) and the sum of dau(d) over the month, as of `event_rows` (= sessions + installs) events.
CREATE TABLE IF NOT EXISTS platform_monthly_counts
(
    platform   LowCardinality(String),
    month      Date,
    event_rows UInt64,
    mau        UInt64,
    dau_sum    UInt64
)
ENGINE = ReplacingMergeTree(event_rows)
-- ORDER BY (platform, month): one count per key survives merges (the highest version).
ORDER BY (platform, month);
