-- 0010_manifests_and_count_sums: the manifest of every summary version and the sums of each stored user count (read
-- ../single/0010_manifests_and_count_sums.sql). Cluster variant: `summaries` and `platform_monthly_counts` are each one
-- replicated table on every node.
ALTER TABLE summaries ON CLUSTER '{cluster}'
    ADD COLUMN IF NOT EXISTS manifest String DEFAULT '' CODEC(ZSTD(3));

ALTER TABLE platform_monthly_counts ON CLUSTER '{cluster}'
    ADD COLUMN IF NOT EXISTS sessions   UInt64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS installs   UInt64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS duration_s UInt64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS bytes      UInt64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS counted_at DateTime64(3, 'UTC') DEFAULT 0;
