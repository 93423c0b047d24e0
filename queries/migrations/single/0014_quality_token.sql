-- 0014_quality_token: every ingest_quality row carries the journal token of the insert group that counted it
-- ('' for rows counted before this migration). ClickHouse records a block's deduplication token before it
-- commits the block's part, so a process killed in between leaves the token without the counts, and a replay
-- under that token is skipped (decision 0006). With the token in the rows, start-up looks for the group's
-- counts and inserts them again, under a fresh deduplication token, only when none are there.
-- Single-server variant; the cluster variant is ../cluster/0014_quality_token.sql.
ALTER TABLE ingest_quality
    ADD COLUMN IF NOT EXISTS token String AFTER lateness,
    -- ORDER BY gains the token at its end: a group's counts are summed with each other and never with another
    -- group's, so its rows stay findable by token (start-up's check); the reads group by the other columns.
    MODIFY ORDER BY (vendor, platform, day, event_month, outcome, reason, lateness, token);
