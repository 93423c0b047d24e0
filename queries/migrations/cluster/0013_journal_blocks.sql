-- 0013_journal_blocks: a journal entry holds every block of one insert group (the events for events_ingest,
-- the counts for ingest_quality, 0008), and entries that cannot be replayed are set aside in quarantine.
-- Cluster variant of ../single/0013_journal_blocks.sql: like the journal, the quarantine is replicated to
-- EVERY node, so `vnmeter doctor` on any node lists what any API process set aside.
ALTER TABLE ingest_journal ON CLUSTER '{cluster}'
    ADD COLUMN IF NOT EXISTS block  UInt16 DEFAULT 0 AFTER token,
    ADD COLUMN IF NOT EXISTS target String DEFAULT 'events_ingest' AFTER block;

CREATE TABLE IF NOT EXISTS ingest_journal_quarantine ON CLUSTER '{cluster}'
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
-- On every node, as ingest_journal.
ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/{table}', '{replica}')
-- ORDER BY (token, block): `vnmeter doctor` lists the entries, an operator re-inserts one by its token.
ORDER BY (token, block);
