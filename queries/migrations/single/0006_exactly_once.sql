-- 0006_exactly_once: make one ingestion insert all-or-nothing across the chain of materialized views.
-- Single-server variant; the cluster variant is ../cluster/0006_exactly_once.sql.
--
-- One insert into events_ingest fills events, event_ids and the rollups; each table (and each month
-- partition) commits on its own, so a process killed mid-insert can leave some of them without the rows.
-- The writer therefore (1) stores the exact insert block with a fresh token in ingest_journal (one
-- single-part insert: atomic), (2) inserts it with insert_deduplication_token = token and
-- deduplicate_blocks_in_dependent_materialized_views = 1, (3) records the token in ingest_journal_done.
-- At start-up every journalled token without a done row is inserted again with the same token: ClickHouse
-- skips the blocks each table already has and adds only the missing ones. The deduplication windows below
-- keep the tokens of the last 10,000 blocks per table, far more than can arrive between a crash and the
-- next start-up's replay.

ALTER TABLE events MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE event_ids MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE platform_daily MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE platform_monthly MODIFY SETTING non_replicated_deduplication_window = 10000;
ALTER TABLE platform_monthly_dims MODIFY SETTING non_replicated_deduplication_window = 10000;

-- The insert blocks, kept until their insert is known to be complete (pseudonymised rows only).
CREATE TABLE IF NOT EXISTS ingest_journal
(
    token      String,
    columns    Array(String),
    format     String,
    data       String CODEC(ZSTD(1)),
    created_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
-- ORDER BY token: start-up recovery reads the tokens not yet done.
ORDER BY token
TTL toDateTime(created_at) + INTERVAL 7 DAY;

CREATE TABLE IF NOT EXISTS ingest_journal_done
(
    token   String,
    done_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
-- ORDER BY token: recovery anti-joins the journal with it.
ORDER BY token
TTL toDateTime(done_at) + INTERVAL 7 DAY;
