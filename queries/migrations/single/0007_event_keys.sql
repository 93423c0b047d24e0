-- 0007_event_keys: the dedup index keyed by the event id alone, in small uncompressed granules; it
-- replaces event_ids (ORDER BY (platform, id128), granules of 256 rows in 64 KB LZ4 blocks).
-- Single-server variant; the cluster variant is ../cluster/0007_event_keys.sql.
--
-- Why: the `dedupe` step looks a group's ids (random UUIDs, several platforms) up in one IN list. Under
-- ORDER BY (platform, id128) every id selected granules in each listed platform's range, and every
-- selected granule cost decompressing its whole 64 KB block (~4,000 ids), so the lookup grew with the
-- table: 32,000 new ids cost 842 ms CPU against 20,000,000 stored ids and 3,719 ms against 100,000,000.
-- Keyed by the id alone each id selects one granule of 128 rows, read from a 2-4 KB block stored without
-- compression (random ids do not compress): 263 and 371 ms (docs/PERFORMANCE.md,
-- `bench/writer_costs.py lookup-layouts --stored N`).
CREATE TABLE IF NOT EXISTS event_keys
(
    platform LowCardinality(String),
    id128    UInt128 CODEC(NONE)
)
ENGINE = MergeTree
-- ORDER BY id128: the dedupe lookup `WHERE id128 IN {ids:Array(UInt128)}`; the writer keeps the exact
-- (platform, id) pairs of the answer. No PARTITION BY: the lookup must see every id ever stored.
ORDER BY id128
SETTINGS index_granularity = 128, min_compress_block_size = 2048, max_compress_block_size = 4096,
         non_replicated_deduplication_window = 10000;

-- Every stored event's (platform, id), as event_ids_mv did; created before the backfill, so no insert
-- can fall between the two (a row copied twice changes no lookup: the writer reads a set).
CREATE MATERIALIZED VIEW IF NOT EXISTS event_keys_mv TO event_keys AS
SELECT platform, toUInt128(event_id) AS id128
FROM events;

INSERT INTO event_keys (platform, id128) SELECT platform, id128 FROM event_ids;

DROP VIEW IF EXISTS event_ids_mv;
DROP TABLE IF EXISTS event_ids;
