-- Ledger of applied migrations; created before any numbered migration runs.
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version    UInt32,
    name       String,
    checksum   String,
    applied_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
-- ORDER BY version: the runner reads the whole ledger in version order.
ORDER BY version;
