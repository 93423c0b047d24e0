-- 0002_events: the raw events and the dedup index fed from them.
-- Cluster variant of ../single/0002_events.sql. Storage is `events_local` / `event_ids_local` on every
-- shard (ReplicatedMergeTree, two replicas per shard); `events` / `event_ids` are Distributed tables with
-- the single variant's columns, which the application reads and writes exactly as on one server, and
-- `events_ingest` is the same Null-engine entry point on every node.

-- One row per accepted event (this shard's share). `user_pseudo` is the keyed hash of the vendor's user
-- id; the raw id is never stored. `day` is the calendar day of `ts` in the service time zone.
CREATE TABLE IF NOT EXISTS events_local ON CLUSTER '{cluster}'
(
    platform    LowCardinality(String),
    event_id    UUID,
    user_pseudo FixedString(16),
    type        Enum8('session' = 1, 'install' = 2),
    ts          DateTime64(3, 'UTC'),
    day         Date,
    duration_s  UInt32,
    bytes       UInt64,
    country     LowCardinality(String),
    province    LowCardinality(String),
    os          LowCardinality(String),
    received_at DateTime64(3, 'UTC')
)
-- Sharded: each shard's two replicas share the path of their {shard}.
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
-- PARTITION BY month of `day`: period queries prune whole months; a month's data ages out as one partition
-- (on the cluster: ALTER TABLE events_local ON CLUSTER '<name>' DROP PARTITION ...).
PARTITION BY toYYYYMM(day)
-- ORDER BY (platform, day, user_pseudo): raw-event queries are per platform over a date range and
-- count distinct users; keeping a user's rows adjacent also compresses the pseudonym column well.
ORDER BY (platform, day, user_pseudo);

-- The table the application reads; the view on events_ingest (below) writes into it.
-- Sharding key cityHash64(user_pseudo): every row of one pseudonym goes to one shard. A pseudonym is
-- per platform and month (the key is per platform-month), so the users of a platform in a month, and of
-- any of its days, are split into disjoint sets, one per shard. Distinct-user counts (DAU, MAU,
-- breakdowns) are therefore exact as the SUM of per-shard counts, and no pseudonym has to leave its
-- shard: run the per-platform GROUP BY with distributed_group_by_no_merge = 1 and add the shard results
-- in an outer query. The plain single-server SQL (uniqExactMerge over the Distributed table) is also
-- exact; it only ships each shard's states to the querying node. The hash spreads a platform's users
-- evenly, so one big platform does not load one shard (sharding by platform would), and a retried batch
-- splits into the same per-shard blocks, which replicated insert deduplication recognises. The mapping
-- is hash modulo the number of shards: add shards at the start of a month (docs/SCALING.md).
CREATE TABLE IF NOT EXISTS events ON CLUSTER '{cluster}'
(
    platform    LowCardinality(String),
    event_id    UUID,
    user_pseudo FixedString(16),
    type        Enum8('session' = 1, 'install' = 2),
    ts          DateTime64(3, 'UTC'),
    day         Date,
    duration_s  UInt32,
    bytes       UInt64,
    country     LowCardinality(String),
    province    LowCardinality(String),
    os          LowCardinality(String),
    received_at DateTime64(3, 'UTC')
)
ENGINE = Distributed('{cluster}', currentDatabase(), events_local, cityHash64(user_pseudo));

-- Ingestion entry point, as in the single variant: the writer inserts batches here as
-- JSONCompactColumns; the Null engine stores nothing. It exists on every node (the service may reach any
-- node) and is not sharded: its view converts each block on the receiving node and writes it into the
-- Distributed `events`, which sends every row to the shard of its user_pseudo (synchronously, with
-- insert_quorum = 2, under the vnmeter settings profile), where the views on events_local take over.
-- Sharding the converted rows (rather than this table) keeps ONE sharding expression, the one of `events`.
CREATE TABLE IF NOT EXISTS events_ingest ON CLUSTER '{cluster}'
(
    platform        String,
    event_id        UUID,
    user_pseudo_hex FixedString(32),
    type            Enum8('session' = 1, 'install' = 2),
    ts_ms           Int64,
    day             Date,
    duration_s      UInt32,
    bytes           UInt64,
    country         String,
    province        String,
    os              String
)
ENGINE = Null;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_ingest_mv ON CLUSTER '{cluster}' TO events AS
SELECT
    platform,
    event_id,
    CAST(unhex(user_pseudo_hex) AS FixedString(16)) AS user_pseudo,
    type,
    fromUnixTimestamp64Milli(ts_ms, 'UTC')            AS ts,
    day,
    duration_s,
    bytes,
    country,
    province,
    os,
    now64(3, 'UTC')                                   AS received_at
FROM events_ingest;

-- Dedup index: every stored (platform, event_id) of this shard, the UUID as its UInt128 value (what
-- Python's uuid.UUID.int gives). The ingestion `dedupe` step looks a batch's ids up through the
-- Distributed `event_ids` below.
CREATE TABLE IF NOT EXISTS event_ids_local ON CLUSTER '{cluster}'
(
    platform LowCardinality(String),
    id128    UInt128
)
-- Sharded like events_local: it is fed by the view on events_local of the same node.
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
-- ORDER BY (platform, id128): point lookups of a batch's ids; small granules keep a lookup of
-- 1,000 random ids to ~1,000 granules of 256 rows instead of 8,192.
ORDER BY (platform, id128)
SETTINGS index_granularity = 256;

-- Read-only Distributed view of all shards' ids, for the dedupe lookup
-- `SELECT ... FROM event_ids WHERE platform = ? AND id128 IN (...)`, which fans out to one replica of
-- every shard; each shard answers from its primary key, so a lookup costs one point-lookup per shard.
-- Why no sharding key of its own (e.g. cityHash64(platform, id128)): an event's id is stored where its
-- event is, i.e. on the shard of its user_pseudo, by the local view below. Re-sharding the ids by
-- (platform, id) would need the view to write through a Distributed table (a second network hop and a
-- second failure point inside every insert) for little gain at 2-8 shards. A re-sent event has the same
-- user and month, hence the same pseudonym and shard, so duplicates meet their original there.
-- Without a sharding key a direct INSERT into `event_ids` fails loudly (the view is the only writer).
CREATE TABLE IF NOT EXISTS event_ids ON CLUSTER '{cluster}'
(
    platform LowCardinality(String),
    id128    UInt128
)
ENGINE = Distributed('{cluster}', currentDatabase(), event_ids_local);

-- On the local table: fires on the node that receives the shard's rows, writes the same shard's index.
CREATE MATERIALIZED VIEW IF NOT EXISTS event_ids_mv ON CLUSTER '{cluster}' TO event_ids_local AS
SELECT platform, toUInt128(event_id) AS id128
FROM events_local;
