"""An insert left incomplete by a killed process is finished at the next start, exactly once."""

from __future__ import annotations

from datetime import date

import orjson
import pytest

from ingest.journal import Block, Entry, FileJournal, TableJournal, journal_for
from ingest.quality import QUALITY_COLUMNS, QUALITY_FORMAT, QUALITY_TABLE, Tally
from ingest.quality import block as quality_block
from ingest.rows import INGEST_COLUMNS, INGEST_FORMAT, INGEST_TABLE
from ingest.write import Writer
from queries.consistency import differences
from queries.store import Store
from service.context import recover

# "file": the embedded engine's journal; "table": a server's, which the embedded engine also replays (what
# versions before the file journal left there)
JOURNALS = ["file", "table"]


def block(rows: list[tuple]) -> bytes:
    return b"\n".join(orjson.dumps(list(row)) for row in rows)


# platform, event_id, pseudonym (hex), type, ts_ms, day (days since 1970), duration_s, bytes, country, province, os
ROWS = [
    ("zalo", "00000000-0000-4000-8000-000000000001", "11" * 16, "session", 1_648_747_800_000, 19083, 60, 1000,
     "VN", "", "ios"),
    ("zalo", "00000000-0000-4000-8000-000000000002", "22" * 16, "session", 1_648_747_900_000, 19083, 30, 500,
     "VN", "", "ios"),
    ("zalo", "00000000-0000-4000-8000-000000000003", "11" * 16, "session", 1_646_100_000_000, 19052, 15, 250,
     "VN", "", "ios"),  # another month (day 19052 = 2022-03-01): a second partition, a second block
]


def figures(store: Store) -> tuple:
    return (
        store.rows("SELECT count(), sum(duration_s), sum(bytes) FROM events")[0],
        store.rows("SELECT count() FROM event_keys")[0][0],
        store.rows("SELECT sum(sessions), sum(duration_s), sum(bytes) FROM platform_daily")[0],
        store.rows("SELECT uniqExactMerge(users) FROM platform_monthly")[0][0],
    )


# 3 events, 105 s, 1,750 bytes; 3 ids; the same sums in the rollup; 2 distinct pseudonyms in the months
COMPLETE = ((3, 105, 1750), 3, (3, 105, 1750), 2)


def journal(store: Store, kind: str, token: str, data: bytes, fmt: str = INGEST_FORMAT) -> None:
    block = Block(INGEST_TABLE, INGEST_COLUMNS, fmt, data)
    (journal_for(store) if kind == "file" else TableJournal(store)).add(Entry(token, (block,)))


@pytest.mark.parametrize("kind", JOURNALS)
@pytest.mark.parametrize("fmt", [INGEST_FORMAT, "JSONCompactColumns"])
def test_journalled_insert_that_never_ran_is_replayed_once(store: Store, fmt: str, kind: str) -> None:
    """Also for journals left by the version that wrote JSONCompactColumns blocks (finished after an upgrade)."""
    data = block(ROWS) if fmt == INGEST_FORMAT else orjson.dumps([list(c) for c in zip(*ROWS, strict=True)])
    journal(store, kind, "t-never-ran", data, fmt)  # the process died right after journalling
    writer = Writer(store)
    try:
        assert len(writer.recover()) == 1
        assert figures(store) == COMPLETE
        assert writer.recover() == []  # done now: nothing left to finish
        assert figures(store) == COMPLETE
    finally:
        writer.close()


@pytest.mark.parametrize("kind", JOURNALS)
def test_partial_insert_is_completed_without_double_counting(store: Store, kind: str) -> None:
    data = block(ROWS)
    journal(store, kind, "t-partial", data)
    # the first attempt reached events and event_keys but not the daily rollup
    store.command("DETACH TABLE platform_daily_mv")
    store.raw_insert("events_ingest", INGEST_COLUMNS, data, INGEST_FORMAT, settings={
        "insert_deduplication_token": "t-partial", "deduplicate_blocks_in_dependent_materialized_views": 1})
    store.command("ATTACH TABLE platform_daily_mv")
    assert figures(store)[2] == (0, 0, 0)
    writer = Writer(store)
    try:
        assert recover(store, writer, None) == ["platform_daily: rebuilt 2022-03, 2022-04"]  # both months missed
        assert figures(store) == COMPLETE
    finally:
        writer.close()


@pytest.mark.parametrize("kind", JOURNALS)
def test_rows_whose_token_was_recorded_but_not_stored_are_inserted_again(store: Store, kind: str) -> None:
    """ClickHouse records a block's token before it commits the block's part: a process killed in between
    leaves the token without the rows, and the replay skips them. Here the token was recorded for a block
    holding only the first row (the same partition as the second): the recovery inserts the two rows `events`
    lacks, then completes what the views missed."""
    journal(store, kind, "t-lost", block(ROWS))
    store.raw_insert("events_ingest", INGEST_COLUMNS, block(ROWS[:1]), INGEST_FORMAT, settings={
        "insert_deduplication_token": "t-lost", "deduplicate_blocks_in_dependent_materialized_views": 1})
    assert figures(store)[0] == (1, 60, 1000)
    writer = Writer(store)
    try:
        recover(store, writer, None)  # what start-up does
        assert figures(store) == COMPLETE
        assert differences(store, [date(2022, 3, 1), date(2022, 4, 1)]) == []
    finally:
        writer.close()


@pytest.mark.parametrize("kind", JOURNALS)
def test_a_block_that_cannot_be_replayed_is_quarantined_and_start_up_goes_on(store: Store, kind: str) -> None:
    """An event_id ClickHouse cannot read (a UUID and a newline, which validation once let through)."""
    poisoned = [list(row) for row in ROWS]
    poisoned[1][1] = poisoned[1][1] + "\n"
    journal(store, kind, "t-poison", block([tuple(row) for row in poisoned]))
    journal(store, kind, "t-good", block(ROWS[2:]))
    writer = Writer(store, journal=journal_for(store) if kind == "file" else TableJournal(store))
    try:
        assert [entry.token for entry in writer.recover()] == ["t-good"]
        assert [q.token for q in writer.journal.quarantined()] == ["t-poison"]
        assert "UUID" in writer.journal.quarantined()[0].error
        assert writer.journal.pending() == []
        assert writer.recover() == []  # a second start does not try it again
    finally:
        writer.close()
    assert figures(store)[0] == (1, 15, 250)


def test_an_unreadable_journal_file_is_quarantined(store: Store) -> None:
    files = journal_for(store)
    assert isinstance(files, FileJournal)
    (files.directory / "t-broken.block").write_bytes(b'{"blocks": [{"table": "events_ingest", "size": 99}]}\nxx')
    writer = Writer(store)
    try:
        assert writer.recover() == []
        assert [q.token for q in files.quarantined()] == ["t-broken"]
        assert files.quarantined()[0].error.startswith("unreadable journal file")
    finally:
        writer.close()


def counts_entry(token: str) -> Entry:
    """An entry of the events above and their counts (3 accepted), as the writer journals it."""
    tally = Tally("vng", date(2022, 4, 1))
    tally.accepted[("zalo", date(2022, 3, 1), "older")] = 1
    tally.accepted[("zalo", date(2022, 4, 1), "older")] = 2
    return Entry(token, (Block(INGEST_TABLE, INGEST_COLUMNS, INGEST_FORMAT, block(ROWS)),
                         Block(QUALITY_TABLE, QUALITY_COLUMNS, QUALITY_FORMAT, quality_block([tally], token))))


def accepted(store: Store) -> list[tuple]:
    return store.rows("SELECT event_month, sum(events) FROM ingest_quality WHERE outcome = 'accepted' "
                      "GROUP BY event_month ORDER BY event_month")


def recovered_counts(store: Store) -> tuple[list[tuple], tuple]:
    """What start-up leaves: the accepted counts per event month, and the events' figures."""
    writer = Writer(store)
    try:
        recover(store, writer, None)
    finally:
        writer.close()
    return accepted(store), figures(store)


@pytest.mark.parametrize("kind", JOURNALS)
def test_counts_whose_token_was_recorded_but_not_stored_are_inserted_again(store: Store, kind: str) -> None:
    """The crash loop's one failure (seed 12 of 20): a group's events were stored, but its counts' token was
    recorded in ingest_quality without their rows, so the replay under that token was skipped and the counts
    stayed 200 short. Here the token is recorded by a block of other counts; start-up finds no counts of the
    entry and inserts them under a fresh token."""
    entry = counts_entry("t-counts")
    (journal_for(store) if kind == "file" else TableJournal(store)).add(entry)
    store.raw_insert("events_ingest", INGEST_COLUMNS, block(ROWS), INGEST_FORMAT, settings={
        "insert_deduplication_token": "t-counts", "deduplicate_blocks_in_dependent_materialized_views": 1})
    other = Tally("vng", date(2022, 4, 1))
    other.rejected[("", date(2022, 4, 1), "malformed")] = 1
    store.raw_insert(QUALITY_TABLE, QUALITY_COLUMNS, quality_block([other], "t-other"), QUALITY_FORMAT,
                     settings={"insert_deduplication_token": "t-counts"})
    assert recovered_counts(store) == ([(date(2022, 3, 1), 1), (date(2022, 4, 1), 2)], COMPLETE)


@pytest.mark.parametrize("kind", JOURNALS)
def test_counts_already_stored_are_not_counted_again(store: Store, kind: str) -> None:
    """Killed after the insert, before its done mark: the counts are there under the entry's token."""
    entry = counts_entry("t-done")
    (journal_for(store) if kind == "file" else TableJournal(store)).add(entry)
    for stored in entry.blocks:
        store.raw_insert(stored.table, stored.columns, stored.data, stored.format, settings={
            "insert_deduplication_token": "t-done", "deduplicate_blocks_in_dependent_materialized_views": 1})
    assert recovered_counts(store) == ([(date(2022, 3, 1), 1), (date(2022, 4, 1), 2)], COMPLETE)
