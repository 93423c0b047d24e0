-- 0010_summary_manifest: the reproducibility manifest of every summary version (queries/manifest.py),
-- stored with the version it describes, as JSON: ingestion counts and seal state of each platform-month,
-- schema level, software version and commit, SHA-256 of the metric SQL files and of the output files, and
-- the settings that affect figures. Versions made before this migration have '' (no manifest).
-- Single-server variant; the cluster variant is ../cluster/0010_summary_manifest.sql.
ALTER TABLE summaries
    ADD COLUMN IF NOT EXISTS manifest String DEFAULT '' CODEC(ZSTD(3));
