-- 0003_rollups: exact pre-aggregates maintained on insert, so metric queries read rollups, not events.
-- Single-server variant; the cluster variant is ../cluster/0003_rollups.sql.
-- Only `session` events make a user active; `install` events only count as installs.

-- Per platform and day: active users (exact set), sessions, installs, session seconds and bytes.
CREATE TABLE IF NOT EXISTS platform_daily
(
    platform   LowCardinality(String),
    day        Date,
    users      AggregateFunction(uniqExact, FixedString(16)),
    sessions   SimpleAggregateFunction(sum, UInt64),
    installs   SimpleAggregateFunction(sum, UInt64),
    duration_s SimpleAggregateFunction(sum, UInt64),
    bytes      SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
-- PARTITION BY month: a period query reads only its months.
PARTITION BY toYYYYMM(day)
-- ORDER BY (platform, day): dau(d) and daily sums per platform over a date range.
ORDER BY (platform, day);

CREATE MATERIALIZED VIEW IF NOT EXISTS platform_daily_mv TO platform_daily AS
SELECT
    platform,
    day,
    uniqExactStateIf(user_pseudo, type = 'session') AS users,
    toUInt64(countIf(type = 'session'))             AS sessions,
    toUInt64(countIf(type = 'install'))             AS installs,
    toUInt64(sumIf(duration_s, type = 'session'))   AS duration_s,
    toUInt64(sumIf(bytes, type = 'session'))        AS bytes
FROM events
GROUP BY platform, day;

-- Per platform and month: active users of the month (exact set), for mau(m).
CREATE TABLE IF NOT EXISTS platform_monthly
(
    platform LowCardinality(String),
    month    Date,
    users    AggregateFunction(uniqExact, FixedString(16))
)
ENGINE = AggregatingMergeTree
-- PARTITION BY year: monthly rows are few; yearly partitions keep the part count low.
PARTITION BY toYear(month)
-- ORDER BY (platform, month): mau(m) per platform over a range of months.
ORDER BY (platform, month);

CREATE MATERIALIZED VIEW IF NOT EXISTS platform_monthly_mv TO platform_monthly AS
SELECT
    platform,
    toStartOfMonth(day)                              AS month,
    uniqExactStateIf(user_pseudo, type = 'session') AS users
FROM events
GROUP BY platform, month;

-- Per platform, month and breakdown value (province, country, os): active users with that value.
CREATE TABLE IF NOT EXISTS platform_monthly_dims
(
    platform LowCardinality(String),
    month    Date,
    dim      Enum8('province' = 1, 'country' = 2, 'os' = 3),
    key      LowCardinality(String),
    users    AggregateFunction(uniqExact, FixedString(16))
)
ENGINE = AggregatingMergeTree
-- PARTITION BY year: as platform_monthly.
PARTITION BY toYear(month)
-- ORDER BY (platform, dim, month, key): a breakdown reads one platform and one dimension over T's months.
ORDER BY (platform, dim, month, key);

CREATE MATERIALIZED VIEW IF NOT EXISTS platform_monthly_dims_mv TO platform_monthly_dims AS
SELECT
    platform,
    toStartOfMonth(day)                                    AS month,
    dim_key.1                                              AS dim,
    dim_key.2                                              AS key,
    uniqExactState(user_pseudo)                            AS users
FROM events
ARRAY JOIN [('province', province), ('country', country), ('os', os)] AS dim_key
WHERE type = 'session'
GROUP BY platform, month, dim, key;
