-- 0001_core: API keys, platform registry, provinces, service state, the pseudonym key store.
-- Single-server variant (embedded chDB or one ClickHouse server). The cluster variant with the
-- same columns is ../cluster/0001_core.sql.

-- API keys. A key is stored only as its SHA-256; revoking writes a newer version of the row.
CREATE TABLE IF NOT EXISTS api_keys
(
    id         String,
    key_hash   FixedString(64),
    role       Enum8('admin' = 1, 'vendor' = 2, 'analyst' = 3),
    vendor     String,
    created_at DateTime64(3, 'UTC'),
    revoked    UInt8,
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
-- ORDER BY id: one logical row per key id (latest version wins); the key cache reads it with FINAL.
ORDER BY id;

-- Platform registry (PUT /v1/platforms/{id}); the latest write of an id wins.
CREATE TABLE IF NOT EXISTS platforms
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
ENGINE = ReplacingMergeTree(updated_at)
-- ORDER BY platform_id: registry lookups and listings are by id.
ORDER BY platform_id;

-- Provinces (ISO 3166-2:VN) with reference smartphone users for penetration figures.
CREATE TABLE IF NOT EXISTS provinces
(
    code             String,
    name             String,
    smartphone_users Nullable(UInt64),
    updated_at       DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
-- ORDER BY code: lookups by province code.
ORDER BY code;

-- Small service state such as the sealing watermark ('sealed_before' = first month still open).
CREATE TABLE IF NOT EXISTS service_state
(
    name       String,
    value      String,
    updated_at DateTime64(6, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
-- ORDER BY name: read by name with FINAL.
ORDER BY name;

-- Pseudonym keys: one random 32-byte key per platform and calendar month (service time zone).
-- Sealing a month drops its partition; old_parts_lifetime makes the dropped parts leave the disk
-- within seconds instead of the default eight minutes.
CREATE TABLE IF NOT EXISTS pseudonym_keys
(
    platform   String,
    month      Date,
    key        FixedString(32),
    created_at DateTime64(6, 'UTC')
)
ENGINE = MergeTree
-- PARTITION BY month: `vnmeter seal` destroys a month's keys by dropping its partition.
PARTITION BY toYYYYMM(month)
-- ORDER BY (platform, month): the key cache loads keys by platform and month.
ORDER BY (platform, month)
SETTINGS old_parts_lifetime = 1;
