-- 0013_journal_blocks: a journal entry holds every block of one insert group (the events for events_ingest,
-- the counts for ingest_quality, 0008), and entries that cannot be replayed are set aside in quarantine.
-- Single-server variant; the cluster variant is ../cluster/0013_journal_blocks.sql. The embedded engine keeps
-- the same in files (ingest/journal.py); these tables serve a ClickHouse server.
--
-- Rows written before this migration are one events block each: their `target` is events_ingest.
ALTER TABLE ingest_journal
    ADD COLUMN IF NOT EXISTS block  UInt16 DEFAULT 0 AFTER token,
    ADD COLUMN IF NOT EXISTS target String DEFAULT 'events_ingest' AFTER block;

-- Entries whose replay ClickHouse refused as data: kept (no TTL) with the error, for `vnmeter doctor`; start-up
-- does not depend on them. Pseudonymised rows only.
CREATE TABLE IF NOT EXISTS ingest_journal_quarantine
(
    token          String,
    block          UInt16,
    target         String,
    columns        Array(String),
    format         String,
    data           String CODEC(ZSTD(1)),
    error          String,
    quarantined_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
-- ORDER BY (token, block): `vnmeter doctor` lists the entries, an operator re-inserts one by its token.
ORDER BY (token, block);
