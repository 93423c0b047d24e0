"""The writer's two threads: a group looked up while the one before it is still being inserted, and how
groups form.

Group k+1's lookup cannot see group k's events in ClickHouse until k's insert returns; these tests hold
k's insert open and check that k+1 still counts k's events as duplicates, that a failed insert fails the
groups that relied on it (so their retry stores the events), and that batched done marks leave nothing
for start-up recovery to do.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from ingest.journal import Block, FileJournal, TableJournal, journal_for
from ingest.rows import StoredRow
from ingest.seen import SeenFilter
from ingest.write import LINGER_FROM_ROWS, WriteFailed, Writer, WriteResult, _Group, _Prepared
from queries.store import Store
from tests.factories import accepted, stored_row

DAY_2022_04_01 = 19083  # days since 1970-01-01


def stored(n: int, duration_s: int = 10, base: int = 0xABC) -> list[StoredRow]:
    """`n` events of 2022-04-01 (Vietnam), ids numbered from `base`."""
    out = []
    for i in range(n):
        event_id = uuid.UUID(int=(base << 64) + i, version=4)
        out.append(stored_row("zalo", event_id, f"{base + i:032x}", 1_648_785_600_000 + i, DAY_2022_04_01,
                              duration_s))
    return out


class GatedWriter(Writer):
    """A writer whose first insert waits until the test opens the gate; its first `failures` inserts then
    fail (a replay of a failed group is an insert too)."""

    def __init__(self, store: Store, failures: int = 0):
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.failures = failures
        self.inserts = 0
        super().__init__(store)

    def _insert_once(self, token: str, block: Block) -> None:
        self.inserts += 1
        if self.inserts == 1:
            self.entered.set()
            assert self.gate.wait(timeout=30)
        if self.inserts <= self.failures:
            raise ConnectionError("ClickHouse went away (simulated)")
        super()._insert_once(token, block)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


def figures(store: Store) -> tuple:
    return store.rows("SELECT count(), sum(duration_s), uniqExact(event_id) FROM events")[0]


def submit_while_first_insert_is_open(writer: GatedWriter, pool: ThreadPoolExecutor, first: list[StoredRow],
                                      second: list[StoredRow]) -> tuple[Future[WriteResult], Future[WriteResult]]:
    a = pool.submit(writer.write, accepted(first))
    assert writer.entered.wait(timeout=30)  # group k is in its insert, not yet in ClickHouse
    b = pool.submit(writer.write, accepted(second))
    # group k+1 is looked up and journalled while k's insert is held open
    for _ in range(300):
        if writer._committing.qsize() == 1:
            break
        threading.Event().wait(0.01)
    assert writer._committing.qsize() == 1
    assert not a.done() and not b.done()
    return a, b


@pytest.mark.parametrize("stored_id_filter", [False, True], ids=["every-id-looked-up", "stored-id-filter"])
def test_next_group_counts_the_running_groups_events_as_duplicates(store: Store, pool: ThreadPoolExecutor,
                                                                   stored_id_filter: bool) -> None:
    """A group takes in the keys of the groups still being inserted as its batches arrive; with the stored-id
    filter, the running group's ids are in the filter before its insert, so the repeats are looked up too."""
    events = stored(5)
    writer = GatedWriter(store)
    if stored_id_filter:
        writer.use_filter(SeenFilter(1_000))
    try:
        a, b = submit_while_first_insert_is_open(writer, pool, events, events[2:])
        writer.gate.set()
        assert a.result(timeout=30) == WriteResult(5, 0)
        assert b.result(timeout=30) == WriteResult(0, 3)
    finally:
        writer.close()
    assert figures(store) == (5, 50, 5)


def test_a_failed_insert_fails_the_groups_that_relied_on_it(store: Store, pool: ThreadPoolExecutor) -> None:
    events = stored(4)
    others = stored(2, duration_s=7, base=0xDEF)
    writer = GatedWriter(store, failures=2)  # a's insert and its first replay (before b) fail
    try:
        a, b = submit_while_first_insert_is_open(writer, pool, events, events[:2] + others)
        writer.gate.set()
        with pytest.raises(WriteFailed):
            a.result(timeout=30)
        # b counted two of a's events as stored; a is still not stored, so b must not answer "duplicate"
        with pytest.raises(WriteFailed):
            b.result(timeout=30)
        assert figures(store) == (0, 0, 0)
        # the clients retry: a's block is inserted again (same token) before the retry's group, so a's events
        # are stored once, by it, and come back as duplicates
        assert writer.write(accepted(events[:2] + others)) == WriteResult(2, 2)
        assert writer.write(accepted(events)) == WriteResult(0, 4)
    finally:
        writer.close()
    assert figures(store) == (6, 4 * 10 + 2 * 7, 6)


def test_a_failed_insert_is_stored_by_its_replay_before_the_next_group(store: Store, pool: ThreadPoolExecutor
                                                                       ) -> None:
    """503 for a's requests, then a's same block (same token) goes in before b: b's claim on a's events holds."""
    events = stored(4)
    others = stored(2, duration_s=7, base=0xDEF)
    writer = GatedWriter(store, failures=1)
    try:
        a, b = submit_while_first_insert_is_open(writer, pool, events, events[:2] + others)
        writer.gate.set()
        with pytest.raises(WriteFailed):
            a.result(timeout=30)
        assert b.result(timeout=30) == WriteResult(2, 2)
        assert writer.write(accepted(events)) == WriteResult(0, 4)  # a's clients retry
    finally:
        writer.close()
    assert figures(store) == (6, 4 * 10 + 2 * 7, 6)


def test_groups_that_did_not_rely_on_a_failed_insert_are_stored(store: Store, pool: ThreadPoolExecutor) -> None:
    writer = GatedWriter(store, failures=1)
    try:
        a, b = submit_while_first_insert_is_open(writer, pool, stored(3), stored(2, duration_s=5, base=0x123))
        writer.gate.set()
        with pytest.raises(WriteFailed):
            a.result(timeout=30)
        assert b.result(timeout=30) == WriteResult(2, 0)
    finally:
        writer.close()
    assert figures(store) == (5, 3 * 10 + 2 * 5, 5)  # a's events too: stored by the replay before b


@pytest.mark.parametrize("kind", ["file", "table"])
def test_done_marks_are_batched_and_complete_after_close(store: Store, kind: str) -> None:
    """With the embedded engine's file journal and with a server's tables."""
    journal = journal_for(store) if kind == "file" else TableJournal(store)
    writer = Writer(store, done_flush_s=3600, journal=journal)  # no timed flush during the test
    try:
        for i in range(3):
            assert writer.write(accepted(stored(2, duration_s=i + 1, base=0x100 + i))) == WriteResult(2, 0)
        assert len(journal.pending()) == 3
    finally:
        writer.close()  # flushes the pending marks
    assert journal.pending() == []
    assert isinstance(journal, FileJournal) == (kind == "file")
    if kind == "table":
        assert store.rows("SELECT count() FROM ingest_journal")[0][0] == 3
    again = Writer(store)
    try:
        assert again.recover() == []
    finally:
        again.close()
    assert figures(store) == (6, 2 * (1 + 2 + 3), 6)


def test_unmarked_complete_groups_replay_as_no_ops(store: Store) -> None:
    """A process killed after answering but before its batched done marks: recovery replays the
    complete inserts, and their tokens make every replay a no-op."""
    writer = Writer(store, done_flush_s=3600)
    writer._flush_done = lambda force=False: None  # type: ignore[method-assign]  # the marks are never written
    try:
        assert writer.write(accepted(stored(3))) == WriteResult(3, 0)
    finally:
        writer.close()
    assert figures(store) == (3, 30, 3)
    again = Writer(store)
    try:
        assert len(again.recover()) == 1
    finally:
        again.close()
    assert figures(store) == (3, 30, 3)
    assert store.rows("SELECT sum(sessions), sum(duration_s) FROM platform_daily")[0] == (3, 30)


class CountingWriter(Writer):
    """A writer that records the number of events of every group it prepares."""

    def __init__(self, store: Store, **options: Any):
        self.groups: list[int] = []
        super().__init__(store, **options)

    def _prepare(self, group: _Group) -> _Prepared:
        self.groups.append(group.rows)
        return super()._prepare(group)


def test_under_load_a_group_waits_for_more_events_and_a_quiet_writer_does_not(store: Store,
                                                                              pool: ThreadPoolExecutor) -> None:
    writer = CountingWriter(store, linger_s=60, linger_gap_s=30, min_rows=20)
    try:
        began = time.monotonic()
        assert writer.write(accepted(stored(LINGER_FROM_ROWS, base=0x200))) == WriteResult(LINGER_FROM_ROWS, 0)
        assert time.monotonic() - began < 20  # the first group, at a quiet writer: inserted at once
        first = pool.submit(writer.write, accepted(stored(10, base=0x300)))
        time.sleep(1.0)  # a group of 10 events alone would be inserted by now; under load it waits for more
        assert not first.done()
        second = pool.submit(writer.write, accepted(stored(10, base=0x400)))
        # the group holds min_rows: inserted at once, long before the gap (30 s) or the linger (60 s) end
        assert first.result(timeout=20) == WriteResult(10, 0)
        assert second.result(timeout=20) == WriteResult(10, 0)
    finally:
        writer.close()
    assert writer.groups == [LINGER_FROM_ROWS, 20]
    assert figures(store) == (LINGER_FROM_ROWS + 20, 10 * (LINGER_FROM_ROWS + 20), LINGER_FROM_ROWS + 20)


def test_under_load_a_group_stops_waiting_when_no_request_arrives_for_the_gap(store: Store) -> None:
    writer = CountingWriter(store, linger_s=60, linger_gap_s=1.0, min_rows=1_000)
    try:
        assert writer.write(accepted(stored(LINGER_FROM_ROWS, base=0x200))) == WriteResult(LINGER_FROM_ROWS, 0)
        began = time.monotonic()
        assert writer.write(accepted(stored(10, base=0x300))) == WriteResult(10, 0)
        waited = time.monotonic() - began
    finally:
        writer.close()
    assert 1.0 <= waited < 30  # it waited for the gap, not for the whole linger
    assert writer.groups == [LINGER_FROM_ROWS, 10]
