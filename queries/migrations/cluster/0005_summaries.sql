-- 0005_summaries: generated period summaries (immutable versions) and the summary scheduler's ledger.
-- Cluster variant of ../single/0005_summaries.sql: both tables are small (a few rows per quarter) and are
-- replicated to EVERY node ('/clickhouse/tables/all/...'), so the API on any node serves every summary
-- and the scheduler, wherever it runs, sees every 'done' period.

-- One row per generated version of a period's summary. A row is never changed: generating again
-- inserts version = max(version) + 1 of the period, with the figures it used (JSON) and what changed
-- against the version before it (JSON). `created_by` is the API key id, 'cli' or 'scheduler'.
CREATE TABLE IF NOT EXISTS summaries ON CLUSTER '{cluster}'
(
    period     String,
    version    UInt32,
    created_at DateTime64(3, 'UTC'),
    trigger    Enum8('cli' = 1, 'api' = 2, 'schedule' = 3),
    created_by String,
    figures    String CODEC(ZSTD(3)),
    changes    String CODEC(ZSTD(3))
)
-- On every node: GET /v1/summaries/... is answered by whichever node the API process uses.
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}')
-- ORDER BY (period, version): GET /v1/summaries/{period}, /versions and /versions/{n} read one period's
-- rows (the latest is max(version)), and a new generation reads max(version) of its period.
ORDER BY (period, version);

-- The summary scheduler's ledger, one row per event of a scheduled run: 'enabled' (period '') when
-- the scheduler first ran on this store; per period 'started' (a claim, detail = run id), then 'done',
-- 'failed' or 'yielded' (another process claimed it first), detail beginning with the run id. A period
-- with a 'done' row is never run again; a period due after the 'enabled' date without one is run
-- (catch-up). `at` is the server's clock (now64), so claims of several processes share one clock.
CREATE TABLE IF NOT EXISTS summary_runs ON CLUSTER '{cluster}'
(
    period  String,
    status  Enum8('enabled' = 1, 'started' = 2, 'done' = 3, 'failed' = 4, 'yielded' = 5),
    trigger Enum8('cli' = 1, 'schedule' = 3),
    version UInt32,
    at      DateTime64(3, 'UTC'),
    detail  String
)
-- On every node: the daily summary job may run against any node and must see every 'done' period.
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}')
-- ORDER BY (status, period, at): the scheduler reads the 'enabled' row and the set of 'done' periods.
ORDER BY (status, period, at);
