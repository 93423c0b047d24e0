-- 0010_manifests_and_count_sums: the reproducibility manifest of every summary version, and the sums of each stored
-- user count, so that a month still receiving events can be answered as it was at its last count.
-- Single-server variant; the cluster variant is ../cluster/0010_manifests_and_count_sums.sql.
--
-- summaries.manifest (queries/manifest.py), as JSON: ingestion counts and seal state of each platform-month,
-- schema level, software version and commit, SHA-256 of the metric SQL files and of the output files, and the
-- settings that affect figures. Versions made before this migration have '' (no manifest).
ALTER TABLE summaries
    ADD COLUMN IF NOT EXISTS manifest String DEFAULT '' CODEC(ZSTD(3));

-- platform_monthly_counts: the month's sums when its users were counted (sessions + installs = event_rows, the
-- count's version) and when. Counts stored before this migration have 0 sums (never served as of their time,
-- only when current). queries/sql/monthly.sql reads the latest count of each month with them.
ALTER TABLE platform_monthly_counts
    ADD COLUMN IF NOT EXISTS sessions   UInt64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS installs   UInt64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS duration_s UInt64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS bytes      UInt64 DEFAULT 0,
    ADD COLUMN IF NOT EXISTS counted_at DateTime64(3, 'UTC') DEFAULT 0;
