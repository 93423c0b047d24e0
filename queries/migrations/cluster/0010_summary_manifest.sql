-- 0010_summary_manifest: the reproducibility manifest of every summary version, as JSON (read
-- ../single/0010_summary_manifest.sql). Cluster variant: `summaries` is one replicated table on every node.
ALTER TABLE summaries ON CLUSTER '{cluster}'
    ADD COLUMN IF NOT EXISTS manifest String DEFAULT '' CODEC(ZSTD(3));
