-- 0001_core: API keys, platform registry, provinces, service state, the pseudonym key store.
-- Cluster variant of ../single/0001_core.sql: the same tables with the same columns, ORDER BY and settings,
-- each replicated to EVERY node (replication path without {shard}; see schema_migrations.sql). These
-- tables are small (keys, ~60-1,000 platforms, 63 provinces, a few state rows, one key per platform and
-- month), so a full copy on every node costs nothing and lets every API process, whichever node it talks
-- to, read the same keys, registry and pseudonym keys locally. Writes go to one node, are acknowledged
-- once two nodes have them (insert_quorum = 2) and reach the other nodes within seconds, well inside the
-- service's cache TTL (VNMETER_CACHE_TTL_S).

-- API keys. A key is stored only as its SHA-256; revoking writes a newer version of the row.
CREATE TABLE IF NOT EXISTS api_keys ON CLUSTER '{cluster}'
(
    id         String,
    key_hash   FixedString(64),
    role       Enum8('admin' = 1, 'vendor' = 2, 'analyst' = 3),
    vendor     String,
    created_at DateTime64(3, 'UTC'),
    revoked    UInt8,
    version    UInt64
)
-- On every node: authentication must not depend on which node an API process uses.
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}', version)
-- ORDER BY id: one logical row per key id (latest version wins); the key cache reads it with FINAL.
ORDER BY id;

-- Platform registry (PUT /v1/platforms/{id}); the latest write of an id wins.
CREATE TABLE IF NOT EXISTS platforms ON CLUSTER '{cluster}'
(
    platform_id String,
    name        String,
    vendor      String,
    origin      Enum8('vn' = 1, 'foreign' = 2),
    category    LowCardinality(String),
    kind        Enum8('app' = 1, 'web' = 2),
    province    Nullable(String),
    updated_at  DateTime64(6, 'UTC')
)
-- On every node: ingestion validates each event's platform against the local copy.
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}', updated_at)
-- ORDER BY platform_id: registry lookups and listings are by id.
ORDER BY platform_id;

-- Provinces (ISO 3166-2:VN) with reference smartphone users for penetration figures.
CREATE TABLE IF NOT EXISTS provinces ON CLUSTER '{cluster}'
(
    code             String,
    name             String,
    smartphone_users Nullable(UInt64),
    updated_at       DateTime64(6, 'UTC')
)
-- On every node: reference data read by validation and by penetration figures.
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}', updated_at)
-- ORDER BY code: lookups by province code.
ORDER BY code;

-- Small service state such as the sealing watermark ('sealed_before' = first month still open).
CREATE TABLE IF NOT EXISTS service_state ON CLUSTER '{cluster}'
(
    name       String,
    value      String,
    updated_at DateTime64(6, 'UTC')
)
-- On every node: every API process must see the same sealing watermark.
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}', updated_at)
-- ORDER BY name: read by name with FINAL.
ORDER BY name;

-- Pseudonym keys: one random 32-byte key per platform and calendar month (service time zone).
-- Sealing a month drops its partition; old_parts_lifetime makes the dropped parts leave the disk
-- within seconds instead of the default eight minutes.
CREATE TABLE IF NOT EXISTS pseudonym_keys ON CLUSTER '{cluster}'
(
    platform   String,
    month      Date,
    key        FixedString(32),
    created_at DateTime64(6, 'UTC')
)
-- On every node: all API processes must pseudonymise a platform-month's users with the same key, or one
-- person would count as two users. `ALTER TABLE pseudonym_keys DROP PARTITION` (vnmeter seal) is a
-- replicated operation: run on any node, it removes the month's keys from all four.
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}')
-- PARTITION BY month: `vnmeter seal` destroys a month's keys by dropping its partition.
PARTITION BY toYYYYMM(month)
-- ORDER BY (platform, month): the key cache loads keys by platform and month.
ORDER BY (platform, month)
SETTINGS old_parts_lifetime = 1;
