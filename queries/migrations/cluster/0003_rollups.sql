-- 0003_rollups: exact pre-aggregates maintained on insert, so metric queries read rollups, not events.
-- Cluster variant of ../single/0003_rollups.sql. Each rollup is a `<name>_local` table on every shard fed
-- by a view on events_local of the same node, plus a Distributed `<name>` with the single variant's
-- columns for the application's queries. Only `session` events make a user active.
--
-- Because events are sharded by cityHash64(user_pseudo) (see 0002_events.sql), the uniqExact states of
-- one (platform, day) or (platform, month) on different shards hold DISJOINT sets of pseudonyms. So:
--   exact total = uniqExactMerge over all shards (what the single-server SQL computes through the
--                 Distributed table; states travel to the querying node), or
--               = sum over shards of each shard's uniqExactMerge (distributed_group_by_no_merge = 1 on the
--                 inner query, sum in an outer query; only counts travel).
-- The Distributed rollup tables have no sharding key: the views on the local tables are their only
-- writers, and a direct INSERT into them fails instead of placing a state on the wrong shard (which would
-- break the sum-of-shards identity).

-- Per platform and day: active users (exact set), sessions, installs, session seconds and bytes.
CREATE TABLE IF NOT EXISTS platform_daily_local ON CLUSTER '{cluster}'
(
    platform   LowCardinality(String),
    day        Date,
    users      AggregateFunction(uniqExact, FixedString(16)),
    sessions   SimpleAggregateFunction(sum, UInt64),
    installs   SimpleAggregateFunction(sum, UInt64),
    duration_s SimpleAggregateFunction(sum, UInt64),
    bytes      SimpleAggregateFunction(sum, UInt64)
)
-- Sharded: holds this shard's users of each platform-day.
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
-- PARTITION BY month: a period query reads only its months.
PARTITION BY toYYYYMM(day)
-- ORDER BY (platform, day): dau(d) and daily sums per platform over a date range.
ORDER BY (platform, day);

-- dau(d) and daily sums: SELECT ... FROM platform_daily WHERE platform = ? AND day BETWEEN ? AND ?.
CREATE TABLE IF NOT EXISTS platform_daily ON CLUSTER '{cluster}'
(
    platform   LowCardinality(String),
    day        Date,
    users      AggregateFunction(uniqExact, FixedString(16)),
    sessions   SimpleAggregateFunction(sum, UInt64),
    installs   SimpleAggregateFunction(sum, UInt64),
    duration_s SimpleAggregateFunction(sum, UInt64),
    bytes      SimpleAggregateFunction(sum, UInt64)
)
ENGINE = Distributed('{cluster}', currentDatabase(), platform_daily_local);

CREATE MATERIALIZED VIEW IF NOT EXISTS platform_daily_mv ON CLUSTER '{cluster}' TO platform_daily_local AS
SELECT
    platform,
    day,
    uniqExactStateIf(user_pseudo, type = 'session') AS users,
    toUInt64(countIf(type = 'session'))             AS sessions,
    toUInt64(countIf(type = 'install'))             AS installs,
    toUInt64(sumIf(duration_s, type = 'session'))   AS duration_s,
    toUInt64(sumIf(bytes, type = 'session'))        AS bytes
FROM events_local
GROUP BY platform, day;

-- Per platform and month: active users of the month (exact set), for mau(m).
CREATE TABLE IF NOT EXISTS platform_monthly_local ON CLUSTER '{cluster}'
(
    platform LowCardinality(String),
    month    Date,
    users    AggregateFunction(uniqExact, FixedString(16))
)
-- Sharded: holds this shard's users of each platform-month.
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
-- PARTITION BY year: monthly rows are few; yearly partitions keep the part count low.
PARTITION BY toYear(month)
-- ORDER BY (platform, month): mau(m) per platform over a range of months.
ORDER BY (platform, month);

-- mau(m): SELECT ... FROM platform_monthly WHERE platform = ? AND month IN (...).
CREATE TABLE IF NOT EXISTS platform_monthly ON CLUSTER '{cluster}'
(
    platform LowCardinality(String),
    month    Date,
    users    AggregateFunction(uniqExact, FixedString(16))
)
ENGINE = Distributed('{cluster}', currentDatabase(), platform_monthly_local);

CREATE MATERIALIZED VIEW IF NOT EXISTS platform_monthly_mv ON CLUSTER '{cluster}' TO platform_monthly_local AS
SELECT
    platform,
    toStartOfMonth(day)                              AS month,
    uniqExactStateIf(user_pseudo, type = 'session') AS users
FROM events_local
GROUP BY platform, month;

-- Per platform, month and breakdown value (province, country, os): active users with that value.
CREATE TABLE IF NOT EXISTS platform_monthly_dims_local ON CLUSTER '{cluster}'
(
    platform LowCardinality(String),
    month    Date,
    dim      Enum8('province' = 1, 'country' = 2, 'os' = 3),
    key      LowCardinality(String),
    users    AggregateFunction(uniqExact, FixedString(16))
)
-- Sharded: holds this shard's users of each platform-month-breakdown cell.
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
-- PARTITION BY year: as platform_monthly.
PARTITION BY toYear(month)
-- ORDER BY (platform, dim, month, key): a breakdown reads one platform and one dimension over T's months.
ORDER BY (platform, dim, month, key);

-- Breakdowns: SELECT ... FROM platform_monthly_dims WHERE platform = ? AND dim = ? AND month IN (...).
CREATE TABLE IF NOT EXISTS platform_monthly_dims ON CLUSTER '{cluster}'
(
    platform LowCardinality(String),
    month    Date,
    dim      Enum8('province' = 1, 'country' = 2, 'os' = 3),
    key      LowCardinality(String),
    users    AggregateFunction(uniqExact, FixedString(16))
)
ENGINE = Distributed('{cluster}', currentDatabase(), platform_monthly_dims_local);

CREATE MATERIALIZED VIEW IF NOT EXISTS platform_monthly_dims_mv ON CLUSTER '{cluster}' TO platform_monthly_dims_local AS
SELECT
    platform,
    toStartOfMonth(day)                                    AS month,
    dim_key.1                                              AS dim,
    dim_key.2                                              AS key,
    uniqExactState(user_pseudo)                            AS users
FROM events_local
ARRAY JOIN [('province', province), ('country', country), ('os', os)] AS dim_key
WHERE type = 'session'
GROUP BY platform, month, dim, key;
