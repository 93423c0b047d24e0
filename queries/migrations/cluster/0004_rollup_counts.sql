-- 0004_rollup_counts: one platform_monthly row holds everything the metrics read for a platform and month,
-- and the exact user counts of its states are stored once computed (see ../single/0004_rollup_counts.sql
-- for the columns, the versions and how the counts are used).
-- Cluster variant: the new columns go on platform_monthly_local and on the Distributed platform_monthly;
-- the view is re-created on events_local. platform_monthly_counts holds cluster-wide counts and is small
-- (one row per platform and month), so it is replicated to EVERY node like the registry tables.
--
-- Versions on the cluster: a count's version is the cluster-wide number of events of its platform and
-- month (the sum over shards of sessions + installs), read in the same query as the states. Each shard's
-- number only grows as long as reads of a shard always go to the same replica; the vnmeter settings
-- profile makes them (load_balancing = in_order, prefer_localhost_replica = 0), so equal versions mean
-- equal sets of events and a count whose version matches the rollup's is exact.
--
-- Unlike the single variant, this file does not back-fill the new columns from events stored before it
-- (an INSERT cannot run ON CLUSTER). On a cluster that already holds events, stop ingestion and run on
-- one replica of every shard:
--   INSERT INTO platform_monthly_local (platform, month, user_days, sessions, installs, duration_s, bytes)
--   SELECT platform, toStartOfMonth(day) AS month, uniqExactStateIf(day, user_pseudo, type = 'session'),
--          toUInt64(countIf(type = 'session')), toUInt64(countIf(type = 'install')),
--          toUInt64(sumIf(duration_s, type = 'session')), toUInt64(sumIf(bytes, type = 'session'))
--   FROM events_local GROUP BY platform, month

ALTER TABLE platform_monthly_local ON CLUSTER '{cluster}'
    ADD COLUMN IF NOT EXISTS user_days  AggregateFunction(uniqExact, Date, FixedString(16)),
    ADD COLUMN IF NOT EXISTS sessions   SimpleAggregateFunction(sum, UInt64),
    ADD COLUMN IF NOT EXISTS installs   SimpleAggregateFunction(sum, UInt64),
    ADD COLUMN IF NOT EXISTS duration_s SimpleAggregateFunction(sum, UInt64),
    ADD COLUMN IF NOT EXISTS bytes      SimpleAggregateFunction(sum, UInt64);

ALTER TABLE platform_monthly ON CLUSTER '{cluster}'
    ADD COLUMN IF NOT EXISTS user_days  AggregateFunction(uniqExact, Date, FixedString(16)),
    ADD COLUMN IF NOT EXISTS sessions   SimpleAggregateFunction(sum, UInt64),
    ADD COLUMN IF NOT EXISTS installs   SimpleAggregateFunction(sum, UInt64),
    ADD COLUMN IF NOT EXISTS duration_s SimpleAggregateFunction(sum, UInt64),
    ADD COLUMN IF NOT EXISTS bytes      SimpleAggregateFunction(sum, UInt64);

DROP VIEW IF EXISTS platform_monthly_mv ON CLUSTER '{cluster}' SYNC;

CREATE MATERIALIZED VIEW IF NOT EXISTS platform_monthly_mv ON CLUSTER '{cluster}' TO platform_monthly_local AS
SELECT
    platform,
    toStartOfMonth(day)                                  AS month,
    uniqExactStateIf(user_pseudo, type = 'session')      AS users,
    uniqExactStateIf(day, user_pseudo, type = 'session') AS user_days,
    toUInt64(countIf(type = 'session'))                  AS sessions,
    toUInt64(countIf(type = 'install'))                  AS installs,
    toUInt64(sumIf(duration_s, type = 'session'))        AS duration_s,
    toUInt64(sumIf(bytes, type = 'session'))             AS bytes
FROM events_local
GROUP BY platform, month;

-- mau(m) and the sum of dau(d) over the month, as of `event_rows` (= sessions + installs) events.
CREATE TABLE IF NOT EXISTS platform_monthly_counts ON CLUSTER '{cluster}'
(
    platform   LowCardinality(String),
    month      Date,
    event_rows UInt64,
    mau        UInt64,
    dau_sum    UInt64
)
-- On every node: monthly.sql joins it with the Distributed platform_monthly on the querying node.
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}', event_rows)
-- ORDER BY (platform, month): one count per key survives merges (the highest version).
ORDER BY (platform, month);
