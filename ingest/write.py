"""The `dedupe` and `write` steps: group commit in two threads, one group behind the other.

Requests hand their pseudonymised events to the writer and wait; what the writer needs of each request
(its keys, its piece of the lookup literal and of the insert block) is computed in the request's own
thread, so that the writer's serial work per group is a few joins and set unions. The writer takes every
batch that is waiting (up to GROUP_MAX_ROWS events), drops repeats inside the group (first arrival wins) and
events whose (platform, event_id) is already stored or in an insert still running, journals the rest
and inserts them in one INSERT, and only then answers each request with its own accepted and
duplicate counts. One writer per process makes check-then-insert atomic with respect to every other
request of the process. "Already stored" is asked of ClickHouse (`event_keys`); on the embedded engine only
for the pairs the stored-id filter may hold (ingest/seen.py), the others being certainly new.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass

import orjson

from ingest.fastpath import StoredRow
from ingest.journal import Entry, Journal, TableJournal, journal_for
from ingest.seen import SeenFilter
from queries.store import IntArray, Store

log = logging.getLogger("vnmeter")

# Larger groups mean fewer parts per event: the writer alone did 135,000-155,000 events/s with groups of at most
# 50,000 and 168,000-173,000 with at most 100,000 (bench/writer_costs.py writer --threads 256 --max-rows N).
GROUP_MAX_ROWS = 100_000
# One dedup lookup binds at most this many ids (a group takes several). chDB's ClickHouse (26.9) keeps an IN
# list of up to 65,000 UInt128 values as a hash set in the key condition (0.12 s against 1,000,000 stored
# ids); with 70,000 it drops it and the lookup ran past 20 s (bench/writer_costs.py lookup-sizes).
LOOKUP_MAX_IDS = 40_000
DONE_FLUSH_S = 0.5
FAILED_TOKENS_KEPT = 64
INGEST_TABLE = "events_ingest"
INGEST_FORMAT = "JSONCompactEachRow"
# The ids are bound as one Array(UInt128) literal (per chunk) against `event_keys`, ordered by the id alone in
# granules of 128 uncompressed rows (migration 0007). 32,000 new ids cost 84 ms of CPU against 1,000,000 stored
# ids, 263 ms against 20,000,000 and 371 ms against 100,000,000, where event_ids (ORDER BY (platform, id128),
# 64 KB LZ4 blocks) cost 86, 842 and 3,719 ms (bench/writer_costs.py lookup-layouts; docs/PERFORMANCE.md). A
# binary table of ids was slower at scale, an Array(Tuple(String, UInt128)) of exact pairs took 46 s: the
# writer keeps the exact pairs of the answer instead.
STORED_IDS_SQL = "SELECT platform, id128 FROM event_keys WHERE id128 IN {ids:Array(UInt128)}"
INGEST_COLUMNS = ("platform", "event_id", "user_pseudo_hex", "type", "ts_ms", "day", "duration_s", "bytes",
                  "country", "province", "os")


@dataclass(slots=True)
class StoredEvent:
    """An event in stored form: the user is a pseudonym (hex), `ts_ms` epoch milliseconds (UTC),
    `day` days since 1970-01-01 of the calendar day in the service time zone, `id128` the UUID's integer."""

    platform: str
    event_id: str
    id128: int
    user_pseudo_hex: str
    type: str
    ts_ms: int
    day: int
    duration_s: int
    bytes: int
    country: str
    province: str
    os: str

    def row(self) -> StoredRow:
        """The stored row the writer takes; the line is what the C fast path writes for the same event."""
        return self.platform, str(self.id128), orjson.dumps([
            self.platform, self.event_id, self.user_pseudo_hex, self.type, self.ts_ms, self.day, self.duration_s,
            self.bytes, self.country, self.province, self.os])


@dataclass(frozen=True)
class WriteResult:
    accepted: int
    duplicates: int


@dataclass(slots=True)
class _Batch:
    """One request's rows and what the writer needs of them, computed in the request's thread."""

    rows: list[StoredRow]
    keys: set[tuple[str, str]]  # (platform, id); fewer than rows when the request repeats an event
    ids: str  # the ids joined by commas: a piece of the lookup's Array(UInt128) literal
    block: bytes  # the lines joined: a piece of the insert block
    future: Future[WriteResult]

    @classmethod
    def of(cls, rows: list[StoredRow], future: Future[WriteResult]) -> _Batch:
        platforms, ids, lines = zip(*rows, strict=True)
        return cls(rows, set(zip(platforms, ids, strict=True)), ",".join(ids), b"\n".join(lines), future)


@dataclass(slots=True)
class _Prepared:
    """A group after `dedupe` and the journal: what the commit thread inserts and whom it answers."""

    token: str
    data: bytes | None  # the insert block, None when every event of the group was a duplicate
    relied_on: tuple[str, ...]  # in-flight groups whose events this group counted as already stored
    futures: list[Future[WriteResult]]
    results: list[WriteResult]


class Writer:
    """Two threads that dedupe and insert everything this process accepts, one group behind the other.

    The prepare thread takes the waiting requests as a group, looks their ids up, drops repeats and
    journals the block; the commit thread inserts it and answers the requests. While group k is being
    inserted, group k+1 is already looked up: its lookup cannot see k's ids in ClickHouse yet, so k's ids
    stay in `_inflight` until k's insert returns. If k's insert fails, every group that counted one of
    k's events as a duplicate fails too (its requests answer 503 and their retry stores the events).
    """

    def __init__(self, store: Store, max_rows: int = GROUP_MAX_ROWS, done_flush_s: float = DONE_FLUSH_S,
                 journal: Journal | None = None):
        self.store = store
        self.journal = journal or journal_for(store)
        self.max_rows = max_rows
        self.done_flush_s = done_flush_s
        self._queue: queue.Queue[_Batch | None] = queue.Queue()
        self._committing: queue.Queue[_Prepared | None] = queue.Queue()
        # One group is prepared while the one before it is inserted, never more: a group that waited for the
        # commit thread would leave the requests arriving meanwhile to a smaller group after it.
        self._slot = threading.Semaphore(1)
        self._inflight: dict[str, set[tuple[str, str]]] = {}  # never changed once added
        self._inflight_lock = threading.Lock()
        self._failed: dict[str, BaseException] = {}
        self.seen: SeenFilter | None = None
        self._submitted = False
        self._pending_done: list[str] = []
        self._last_done_flush = time.monotonic()
        self._threads = [threading.Thread(target=self._prepare_loop, name="vnmeter-writer", daemon=True),
                         threading.Thread(target=self._commit_loop, name="vnmeter-commit", daemon=True)]
        for thread in self._threads:
            thread.start()

    def submit(self, rows: list[StoredRow]) -> Future[WriteResult]:
        """Queue `rows` for storing exactly once; the future completes once they are in ClickHouse."""
        future: Future[WriteResult] = Future()
        self._submitted = True
        if rows:
            self._queue.put(_Batch.of(rows, future))
        else:
            future.set_result(WriteResult(0, 0))
        return future

    def use_filter(self, seen: SeenFilter | None) -> None:
        """Look up only the pairs `seen` may hold (ingest/seen.py). Only before the first request: `seen` was
        filled from what is stored, and a group stored meanwhile would be missing from it."""
        if self._submitted:
            raise RuntimeError("the stored-id filter must be set before the writer takes requests")
        self.seen = seen

    def write(self, rows: list[StoredRow]) -> WriteResult:
        """Store `rows` exactly once; returns after they are in ClickHouse."""
        return self.submit(rows).result()

    def close(self) -> None:
        self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=30)

    # -- prepare thread ------------------------------------------------------------------------
    def _prepare_loop(self) -> None:
        while True:
            self._slot.acquire()  # released when the commit thread takes the group prepared before
            item = self._queue.get()
            if item is None:
                self._committing.put(None)
                return
            group = [item]
            rows = len(item.rows)
            while rows < self.max_rows:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                group.append(nxt)
                rows += len(nxt.rows)
            futures = [batch.future for batch in group]
            try:
                prepared = self._prepare(group)
            except Exception as exc:
                for future in futures:
                    future.set_exception(exc)
                self._slot.release()
            else:
                self._committing.put(prepared)

    def _prepare(self, group: Sequence[_Batch]) -> _Prepared:
        """`dedupe` the group against stored and in-flight events, then journal its block."""
        keys = set().union(*(batch.keys for batch in group))
        with self._inflight_lock:  # taken before the lookup: a group leaves it only once it is stored
            inflight = list(self._inflight.items())
        claimed: set[tuple[str, str]] = set()
        if self.seen is None:
            for chunk in lookup_chunks(group, LOOKUP_MAX_IDS):
                claimed |= self._stored_ids(keys, IntArray(batch.ids for batch in chunk))
        else:  # only the pairs the filter may hold: the others are certainly new
            candidates = list({event_id for _, event_id in self.seen.may_hold(keys)})
            for start in range(0, len(candidates), LOOKUP_MAX_IDS):
                claimed |= self._stored_ids(keys, IntArray(candidates[start:start + LOOKUP_MAX_IDS]))
        relied_on = []
        for token, ids in inflight:
            overlap = keys & ids
            if overlap:
                claimed |= overlap
                relied_on.append(token)
        if not claimed and len(keys) == sum(len(batch.rows) for batch in group):  # the common case: no repeat
            block = b"\n".join(batch.block for batch in group)
            inserted = keys
            results = [WriteResult(len(batch.rows), 0) for batch in group]
        else:
            lines, inserted, results = _first_arrivals([batch.rows for batch in group], claimed)
            block = b"\n".join(lines)
        token = uuid.uuid4().hex
        data = self._journal(token, block) if block else None
        if inserted:
            if self.seen is not None:
                self.seen.add(inserted)  # before the insert: the filter never misses a stored pair
            with self._inflight_lock:
                self._inflight[token] = inserted
        return _Prepared(token, data, tuple(relied_on), [batch.future for batch in group], results)

    # -- commit thread -------------------------------------------------------------------------
    def _commit_loop(self) -> None:
        while True:
            try:
                prepared = self._committing.get(timeout=self.done_flush_s)
            except queue.Empty:
                self._flush_done()
                continue
            self._slot.release()
            if prepared is None:
                self._flush_done(force=True)
                return
            self._commit(prepared)
            if self._committing.empty():
                self._flush_done()

    def _commit(self, prepared: _Prepared) -> None:
        failed = next((self._failed[t] for t in prepared.relied_on if t in self._failed), None)
        if failed is None and prepared.data is not None:
            try:
                self._insert_once(prepared.token, INGEST_COLUMNS, INGEST_FORMAT, prepared.data)
            except Exception as exc:
                failed = exc
        with self._inflight_lock:
            self._inflight.pop(prepared.token, None)
        if failed is not None:
            self._failed[prepared.token] = failed
            while len(self._failed) > FAILED_TOKENS_KEPT:
                del self._failed[next(iter(self._failed))]
            for future in prepared.futures:
                future.set_exception(failed)
            return
        if prepared.data is not None:
            self._pending_done.append(prepared.token)
        for future, result in zip(prepared.futures, prepared.results, strict=True):
            future.set_result(result)

    def _flush_done(self, force: bool = False) -> None:
        """Record the finished inserts; batched, since a missing mark only makes start-up replay a
        complete insert, which its token turns into a no-op."""
        if not self._pending_done or (not force and time.monotonic() - self._last_done_flush < self.done_flush_s):
            return
        try:
            self.journal.done(self._pending_done)
        except Exception:
            log.warning("could not record %d finished inserts; the next start-up replays them (no-ops)",
                        len(self._pending_done), exc_info=True)
            return
        self._pending_done.clear()
        self._last_done_flush = time.monotonic()

    def _stored_ids(self, keys: set[tuple[str, str]], ids: IntArray) -> set[tuple[str, str]]:
        """Which of `keys` are already stored, in one lookup (`ids` are ids of `keys`; an id may appear more
        than once)."""
        rows = self.store.rows(STORED_IDS_SQL, {"ids": ids})
        # the same id stored for another platform also matches; keep exact pairs only
        return {(platform, str(id128)) for platform, id128 in rows} & keys

    def _journal(self, token: str, data: bytes) -> bytes:
        """Keep the insert block under its token until its insert is complete (see ingest/journal.py)."""
        self.journal.add(Entry(token, INGEST_COLUMNS, INGEST_FORMAT, data))
        return data

    def _insert_once(self, token: str, columns: Sequence[str], fmt: str, data: bytes) -> None:
        self.store.raw_insert(INGEST_TABLE, columns, data, fmt, settings={
            "insert_deduplicate": 1, "insert_deduplication_token": token,
            "deduplicate_blocks_in_dependent_materialized_views": 1})

    def recover(self) -> int:
        """Finish every journalled insert that has no done mark (a process died during it); returns how many.
        Run before serving: ClickHouse adds only the blocks each table is missing. The tables are read
        whatever the journal: on the embedded engine they hold what versions before the file journal left."""
        journals = [self.journal] if isinstance(self.journal, TableJournal) else [TableJournal(self.store),
                                                                                  self.journal]
        finished = 0
        for journal in journals:
            for entry in journal.pending():
                self._insert_once(entry.token, entry.columns, entry.format, entry.data)
                journal.done([entry.token])
                finished += 1
        return finished


def lookup_chunks(group: Sequence[_Batch], max_ids: int) -> list[list[_Batch]]:
    """The group's batches in runs of at most `max_ids` rows (a larger batch alone), one lookup each."""
    chunks: list[list[_Batch]] = []
    size = max_ids
    for batch in group:
        if size + len(batch.rows) > max_ids:
            chunks.append([])
            size = 0
        chunks[-1].append(batch)
        size += len(batch.rows)
    return chunks


def _first_arrivals(batches: Sequence[list[StoredRow]], claimed: set[tuple[str, str]]
                    ) -> tuple[list[bytes], set[tuple[str, str]], list[WriteResult]]:
    """The lines to insert (the first arrival of each unclaimed id), their ids, and each batch's counts."""
    to_insert: list[bytes] = []
    inserted: set[tuple[str, str]] = set()
    results = []
    for rows in batches:
        accepted = 0
        for platform, event_id, line in rows:
            key = (platform, event_id)
            if key not in claimed:
                claimed.add(key)
                inserted.add(key)
                to_insert.append(line)
                accepted += 1
        results.append(WriteResult(accepted, len(rows) - accepted))
    return to_insert, inserted, results
