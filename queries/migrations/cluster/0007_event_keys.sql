-- 0007_event_keys: the dedup index keyed by the event id alone, in small uncompressed granules; it
-- replaces event_ids_local / event_ids.
-- Cluster variant of ../single/0007_event_keys.sql (read it for why and for the figures).
--
-- The backfill is the CREATE ... AS SELECT: every statement here runs ON CLUSTER, so each node copies
-- its own event_ids_local (a shard's ids stay on the shard of their events, as 0002 explains). Both
-- replicas of a shard copy the same rows; replicated deduplication drops a block the other replica
-- already inserted, and any row left twice changes no lookup (the writer reads a set). Run it, like
-- every migration, before the API processes start (deploy/ does: `migrate` completes first); an
-- insert between the backfill and the view below would miss the new index.
CREATE TABLE IF NOT EXISTS event_keys_local ON CLUSTER '{cluster}'
(
    platform LowCardinality(String),
    id128    UInt128 CODEC(NONE)
)
-- Sharded like events_local: it is fed by the view on events_local of the same node.
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
-- ORDER BY id128: the dedupe lookup `WHERE id128 IN {ids:Array(UInt128)}`, one granule per id.
-- No PARTITION BY: the lookup must see every id ever stored.
ORDER BY id128
SETTINGS index_granularity = 128, min_compress_block_size = 2048, max_compress_block_size = 4096,
         replicated_deduplication_window = 10000
AS SELECT platform, id128 FROM event_ids_local;

-- Read-only Distributed view of all shards' ids, for the dedupe lookup (no sharding key: see 0002).
CREATE TABLE IF NOT EXISTS event_keys ON CLUSTER '{cluster}'
(
    platform LowCardinality(String),
    id128    UInt128 CODEC(NONE)
)
ENGINE = Distributed('{cluster}', currentDatabase(), event_keys_local);

-- On the local table: fires on the node that receives the shard's rows, writes the same shard's index.
CREATE MATERIALIZED VIEW IF NOT EXISTS event_keys_mv ON CLUSTER '{cluster}' TO event_keys_local AS
SELECT platform, toUInt128(event_id) AS id128
FROM events_local;

DROP VIEW IF EXISTS event_ids_mv ON CLUSTER '{cluster}' SYNC;
DROP TABLE IF EXISTS event_ids ON CLUSTER '{cluster}' SYNC;
DROP TABLE IF EXISTS event_ids_local ON CLUSTER '{cluster}' SYNC;
