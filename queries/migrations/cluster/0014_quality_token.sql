-- 0014_quality_token: every ingest_quality row carries the journal token of the insert group that counted it.
-- Cluster variant of ../single/0014_quality_token.sql (read it for why).
ALTER TABLE ingest_quality ON CLUSTER '{cluster}'
    ADD COLUMN IF NOT EXISTS token String AFTER lateness,
    -- ORDER BY gains the token at its end: a group's counts stay findable by token (start-up's check).
    MODIFY ORDER BY (vendor, platform, day, event_month, outcome, reason, lateness, token);
