-- 0009_declared_totals: control totals a vendor declares for its platforms, per calendar month.
-- Cluster variant of ../single/0009_declared_totals.sql (read it for the columns). The table is small (a row
-- per platform and month) and replicated to EVERY node ('/clickhouse/tables/all/...'), so whichever node an
-- API process uses stores and reads every declaration.
CREATE TABLE IF NOT EXISTS declared_totals ON CLUSTER '{cluster}'
(
    platform    LowCardinality(String),
    month       Date,
    events      Nullable(UInt64),
    users       Nullable(UInt64),
    declared_by String,
    declared_at DateTime64(3, 'UTC'),
    version     UInt64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}', version)
-- ORDER BY (platform, month): GET /v1/reconciliation reads the latest declaration of each platform and month
-- of a period.
ORDER BY (platform, month);
