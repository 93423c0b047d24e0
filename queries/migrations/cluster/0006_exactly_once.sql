-- 0006_exactly_once: make one ingestion insert all-or-nothing across the chain of materialized views.
-- Cluster variant of ../single/0006_exactly_once.sql (read it for the protocol). Replicated tables keep
-- insert-deduplication tokens in Keeper; the window is raised to 10,000 blocks on every *_local table of
-- the chain. The journal is replicated to every node, so any API process's start-up recovery (or any
-- other process's) can finish an insert that a killed process left incomplete. Not run on a real
-- cluster here: Distributed inserts are synchronous (distributed_foreground_insert = 1 in the vnmeter
-- profile), which is what carries the token to each shard's block.

ALTER TABLE events_local ON CLUSTER '{cluster}' MODIFY SETTING replicated_deduplication_window = 10000;
ALTER TABLE event_ids_local ON CLUSTER '{cluster}' MODIFY SETTING replicated_deduplication_window = 10000;
ALTER TABLE platform_daily_local ON CLUSTER '{cluster}' MODIFY SETTING replicated_deduplication_window = 10000;
ALTER TABLE platform_monthly_local ON CLUSTER '{cluster}' MODIFY SETTING replicated_deduplication_window = 10000;
ALTER TABLE platform_monthly_dims_local ON CLUSTER '{cluster}'
    MODIFY SETTING replicated_deduplication_window = 10000;

-- The insert blocks, kept until their insert is known to be complete (pseudonymised rows only).
CREATE TABLE IF NOT EXISTS ingest_journal ON CLUSTER '{cluster}'
(
    token      String,
    columns    Array(String),
    format     String,
    data       String CODEC(ZSTD(1)),
    created_at DateTime64(3, 'UTC')
)
-- On every node: recovery may run on any node.
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}')
-- ORDER BY token: start-up recovery reads the tokens not yet done.
ORDER BY token
TTL toDateTime(created_at) + INTERVAL 7 DAY;

CREATE TABLE IF NOT EXISTS ingest_journal_done ON CLUSTER '{cluster}'
(
    token   String,
    done_at DateTime64(3, 'UTC')
)
-- On every node, as ingest_journal.
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}')
-- ORDER BY token: recovery anti-joins the journal with it.
ORDER BY token
TTL toDateTime(done_at) + INTERVAL 7 DAY;
