-- Ledger of applied migrations; created before any numbered migration runs.
-- Cluster variant of ../single/schema_migrations.sql: same columns, ORDER BY and settings.
--
-- How the cluster variant is laid out (read this once; the numbered files refer to it):
--
-- * Every statement runs ON CLUSTER '{cluster}' (the runner substitutes `vnmeter migrate --cluster NAME`),
--   so it is executed on all four nodes (2 shards x 2 replicas) through the Keeper DDL queue.
-- * Names the application uses (events, event_ids, platform_daily, ...) are the tables it talks to.
--   Sharded data lives in `<name>_local` ReplicatedMergeTree-family tables on every node; `<name>` is a
--   Distributed table over them. Materialized views sit on the local tables, so an INSERT into the
--   Distributed `events` lands in `events_local` on one replica of a shard and that node's views feed
--   `event_ids_local` and the `*_local` rollups of the same shard; replication copies all of them.
-- * Small tables (this ledger, api_keys, platforms, provinces, service_state, pseudonym_keys, the rollup
--   count tables platform_daily_dau / platform_monthly_mau, summaries, summary_runs) are not sharded: their
--   replication path has no {shard}, so all four nodes are replicas of ONE table. Every node holds all
--   keys, the registry, the pseudonym keys, the counts and the summaries, and any API process on any node
--   reads them locally; no Distributed table is needed (nor a second cluster definition).
-- * `events_ingest` (Null engine, the service's insert target) exists on every node; its view writes into
--   the Distributed `events`, which routes each row to its shard.
-- * Replication paths are explicit and follow one pattern:
--     sharded:        '/clickhouse/tables/{shard}/{database}/{table}', '{replica}'
--     on every node:  '/clickhouse/tables/all/{database}/{table}', '{replica}'
--   {shard} and {replica} come from each node's macros (deploy/clickhouse/cluster/macros/*.xml; the replica
--   name is the host name, unique across the cluster, as the all-node tables require); {database} and
--   {table} are expanded by the server at CREATE time. Because the path does not contain {uuid}, drop a
--   table with `DROP TABLE ... ON CLUSTER '<name>' SYNC` before re-creating it.
-- * Unqualified names inside views (FROM events_local, TO platform_daily_local) are resolved on every
--   node in the server's default database, which the cluster config pins to `vnmeter`
--   (deploy/clickhouse/config.d/vnmeter.xml); the application's database must be that one.
-- * Durability: the vnmeter user's settings profile (deploy/clickhouse/cluster/users.d/quorum.xml) sets
--   insert_quorum = 2 with insert_quorum_parallel = 1, and distributed_foreground_insert = 1, so an INSERT
--   into a Distributed table returns only after every shard it touched has the rows on two replicas.
--   It also pins each shard's reads and writes to its first live replica (load_balancing = in_order,
--   prefer_localhost_replica = 0), which keeps the rollup count versions of 0004 exact.
CREATE TABLE IF NOT EXISTS schema_migrations ON CLUSTER '{cluster}'
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC')
)
-- On every node (path without {shard}): the runner may connect to any node and must see the whole ledger.
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}')
-- ORDER BY version: the runner reads the whole ledger in version order.
ORDER BY version;
