"""The `dedupe_write` step: group commit in two threads, one group behind the other.

Requests hand their stored rows (and the counts of what became of their other rows) to the writer and wait; what
the writer needs of each request (its keys, its piece of the lookup literal and of the insert block) is computed in
the request's own thread, and what the writer can know of a group before its lookup (the filter's candidates,
repeats of events still being inserted) as each request joins the group, so that the work between one insert and
the next is the lookup, a join and the journal. The writer takes every batch that is waiting (up to GROUP_MAX_ROWS
events; under load it waits up to GROUP_LINGER_S for GROUP_MIN_ROWS, as larger inserts cost the engine less per
event), drops repeats inside the group (first arrival wins) and events whose (platform, event_id) is already stored
or in an insert still running, journals the rest with the group's `ingest_quality` counts and inserts both under
one token, and only then answers each request with its own accepted and duplicate counts. One writer per process
makes check-then-insert atomic with respect to every other request of the process. "Already stored" is asked of
ClickHouse (`event_keys`); on the embedded engine only for the pairs the stored-id filter may hold
(ingest/seen.py), the others being certainly new.

When an insert fails:
- ClickHouse refused the group's events block as data (it cannot parse a value): nothing of it is stored,
  so its requests are stored again one by one, and only a request whose own rows are refused fails (422).
- anything else (the server is unreachable, out of memory, ...): the group may be partly stored, so it is
  never split. Its requests answer 503 + Retry-After; the same block is inserted again under the same token
  (ClickHouse adds only what each table is missing) before any later group, until it is stored. Meanwhile
  its events count as in flight, so a retry of them cannot be stored a second time.
"""

from __future__ import annotations

import itertools
import logging
import queue
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import msgspec
from clickhouse_connect.driver.exceptions import DatabaseError

from ingest import quality
from ingest.journal import Block, Entry, Journal, TableJournal, journal_for
from ingest.quality import Tally
from ingest.rows import INGEST_COLUMNS, INGEST_FORMAT, INGEST_TABLE, Accepted, StoredRow
from ingest.seen import SeenFilter
from queries.store import IntArray, Store, StoreUnavailable

log = logging.getLogger("vnmeter")
_decode = msgspec.json.decode
_encode = msgspec.json.encode

# Larger groups mean fewer parts per event: the writer alone did 135,000-155,000 events/s with groups of at most
# 50,000 and 168,000-173,000 with at most 100,000 (bench/writer_costs.py writer --threads 256 --max-rows N).
GROUP_MAX_ROWS = 100_000
# Under load a group waits up to GROUP_LINGER_S for GROUP_MIN_ROWS events, as long as requests keep arriving
# (one at least every LINGER_GAP_S: when the admission of service/admission.py lets no more in, waiting only idles).
# Fewer, larger inserts cost the engine less per event: 7.35 us of CPU per row in groups of 15,000, 4.53 in groups
# of 100,000 (bench/writer_costs.py insert --groups 15000,100000, merges included); at 256 clients the groups
# grew from 17,000 to 45,000-66,000 events and the service's CPU per event fell from 28 to 17-20 us
# (docs/PERFORMANCE.md). "Under load": the group before held at least LINGER_FROM_ROWS events; a request
# arriving at a quiet writer is inserted at once.
GROUP_MIN_ROWS = 100_000
GROUP_LINGER_S = 0.5
LINGER_GAP_S = 0.05
LINGER_FROM_ROWS = 5_000
QUALITY_STORED_SQL = "SELECT 1 FROM ingest_quality WHERE token = {token:String} LIMIT 1"
# One dedup lookup binds at most this many ids (a group takes several). chDB's ClickHouse (26.9) keeps an IN
# list of up to 65,000 UInt128 values as a hash set in the key condition (0.12 s against 1,000,000 stored
# ids); with 70,000 it drops it and the lookup ran past 20 s (bench/writer_costs.py lookup-sizes).
LOOKUP_MAX_IDS = 40_000
DONE_FLUSH_S = 0.5
FAILED_TOKENS_KEPT = 64
REPLAY_BACKOFF_S = (0.5, 1.0, 2.0, 5.0)
# The ids are bound as one Array(UInt128) literal (per chunk) against `event_keys`, ordered by the id alone in
# granules of 128 uncompressed rows (migration 0007): docs/decisions/0001-dedup-index-layout.md. The writer
# keeps the exact (platform, id) pairs of the answer.
STORED_IDS_SQL = "SELECT platform, id128 FROM event_keys WHERE id128 IN {ids:Array(UInt128)}"
# ClickHouse error codes that mean "this data cannot be read as the table's types": the insert stopped while
# parsing, before anything was written (6 CANNOT_PARSE_TEXT, 26/27 CANNOT_PARSE_*, 32 ATTEMPT_TO_READ_AFTER_EOF,
# 38 CANNOT_PARSE_DATE, 41 CANNOT_PARSE_DATETIME, 53 TYPE_MISMATCH, 69 ARGUMENT_OUT_OF_BOUND, 70
# CANNOT_CONVERT_TYPE, 72 CANNOT_PARSE_NUMBER, 117 INCORRECT_DATA, 131 TOO_LARGE_STRING_SIZE, 321
# VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE, 376 CANNOT_PARSE_UUID, 691 UNKNOWN_ELEMENT_OF_ENUM).
DATA_ERRORS = frozenset({6, 26, 27, 32, 38, 41, 53, 69, 70, 72, 117, 131, 321, 376, 691})
ERROR_CODE = re.compile(r"Code: (\d+)")


class RowsRefused(Exception):
    """ClickHouse refused a request's rows as data (a value the validation let through): 422 for that request."""


class WriteFailed(StoreUnavailable):
    """The insert did not complete; the rows are not acknowledged (the client retries: 503 + Retry-After)."""


@dataclass(frozen=True)
class WriteResult:
    accepted: int
    duplicates: int


_platform_numbers: dict[str, int] = {}
_next_number = itertools.count()


def event_key(platform: str, event_id: int) -> int:
    """(platform, event id) as one integer: a number given to the platform for the life of the process, above the
    id's 128 bits. Integers are not tracked by the garbage collector, where a tuple per event was: a group's
    100,000 keys made each young collection walk them, 10-130 ms with the GIL held (docs/PERFORMANCE.md)."""
    return _platform_number(platform) << 128 | event_id


def _platform_number(platform: str) -> int:
    number = _platform_numbers.get(platform)
    if number is None:
        number = _platform_numbers.setdefault(platform, next(_next_number))
    return number


ID_BITS = (1 << 128) - 1  # key & ID_BITS: the event id


@dataclass(slots=True)
class _Batch:
    """One request's rows as the writer keeps them, by column (a tuple per row would be tracked by the garbage
    collector until the group is stored; see `event_key`), computed in the request's thread."""

    platforms: list[str]
    ids: list[int]
    months: list[date]
    lateness: list[str]
    keys: set[int]  # `event_key`s; fewer than rows when the request repeats an event
    block: bytes  # the lines joined: a piece of the insert block (a line never holds a newline: JSON escapes it)
    tally: Tally | None  # every row counted as accepted, the writer moves repeats to `duplicate`; None: no counts
    future: Future[WriteResult]

    @classmethod
    def of(cls, rows: Accepted, tally: Tally | None, future: Future[WriteResult]) -> _Batch:
        numbers = {platform: _platform_number(platform) for platform in set(rows.platforms)}
        # `event_key` of each row, written out so that a platform's number is looked up once per request
        keys = {numbers[platform] << 128 | event_id
                for platform, event_id in zip(rows.platforms, rows.ids, strict=True)}
        return cls(rows.platforms, rows.ids, rows.months, rows.lateness, keys, b"\n".join(rows.lines), tally, future)

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self) -> Iterator[StoredRow]:
        lines = self.block.split(b"\n") if self.ids else []
        return zip(self.platforms, self.ids, lines, self.months, self.lateness, strict=True)

    def id_list(self) -> str:
        """The ids in decimal joined by commas: a piece of the lookup's Array(UInt128) literal (made only when
        every id is looked up: the stored-id filter passes only a few)."""
        return ",".join(map(str, self.ids))


class _Group:
    """A group as its batches arrive, with what `dedupe` can know of them before the lookup, worked out while the
    writer waits for more (off the path between one insert and the next): the union of their keys, the ids the
    stored-id filter may hold, and the keys of groups still being inserted."""

    def __init__(self, inflight: list[tuple[str, set[int]]], seen: SeenFilter | None):
        self.batches: list[_Batch] = []
        self.rows = 0
        self.keys: set[int] = set()
        self.candidates: set[int] = set()  # ids to look up (with a filter only)
        self.claimed: set[int] = set()  # keys of in-flight groups
        self.relied_on: dict[str, None] = {}  # the in-flight groups those belong to, in order
        self._inflight = inflight
        self._seen = seen

    def __iter__(self) -> Iterator[_Batch]:
        return iter(self.batches)

    def add(self, batch: _Batch) -> None:
        self.batches.append(batch)
        self.rows += len(batch)
        self.keys |= batch.keys
        if self._seen is not None:
            self.candidates.update(self._seen.may_hold(batch.ids))
            self._seen.add(batch.ids)  # before the insert: the filter never misses a stored id
        for token, ids in self._inflight:
            overlap = batch.keys & ids
            if overlap:
                self.claimed |= overlap
                self.relied_on[token] = None


@dataclass(slots=True)
class _Prepared:
    """A group after `dedupe` and the journal: what the commit thread inserts and whom it answers."""

    entry: Entry
    relied_on: tuple[str, ...]  # in-flight groups whose events this group counted as already stored
    batches: list[_Batch]
    results: list[WriteResult]

    @property
    def token(self) -> str:
        return self.entry.token


class Writer:
    """Two threads that dedupe and insert everything this process accepts, one group behind the other.

    The prepare thread takes the waiting requests as a group, looks their ids up, drops repeats and
    journals the blocks; the commit thread inserts them and answers the requests. While group k is being
    inserted, group k+1 is already looked up: its lookup cannot see k's ids in ClickHouse yet, so k's ids
    stay in `_inflight` until k is stored. If k fails, every group that counted one of k's events as a
    duplicate fails too (its requests answer 503 and their retry finds the events stored or stores them).
    """

    def __init__(self, store: Store, max_rows: int = GROUP_MAX_ROWS, done_flush_s: float = DONE_FLUSH_S,
                 journal: Journal | None = None, linger_s: float = GROUP_LINGER_S, linger_gap_s: float = LINGER_GAP_S,
                 min_rows: int = GROUP_MIN_ROWS):
        self.store = store
        self.journal = journal or journal_for(store)
        self.max_rows = max_rows
        self.min_rows = min(min_rows, max_rows)
        self.linger_s = linger_s
        self.linger_gap_s = linger_gap_s
        self._last_group_rows = 0
        self.done_flush_s = done_flush_s
        self._queue: queue.Queue[_Batch | None] = queue.Queue()
        self._committing: queue.Queue[_Prepared | None] = queue.Queue()
        # One group is prepared while the one before it is inserted, never more: a group that waited for the
        # commit thread would leave the requests arriving meanwhile to a smaller group after it.
        self._slot = threading.Semaphore(1)
        self._preparing = threading.Lock()  # held by the prepare thread while it looks up and journals (`paused`)
        self._committed = threading.Lock()  # held by the commit thread while it writes (`paused`)
        self._inflight: dict[str, set[int]] = {}  # never changed once added
        self._inflight_lock = threading.Lock()
        self._failed: dict[str, BaseException] = {}
        self._unfinished: dict[str, Entry] = {}  # failed inserts that may be partly stored: replayed first
        self._replay_attempts = 0
        self._next_replay = 0.0
        self.seen: SeenFilter | None = None
        self._submitted = False
        self._pending_done: list[str] = []
        self._last_done_flush = time.monotonic()
        self._threads = [threading.Thread(target=self._prepare_loop, name="vnmeter-writer", daemon=True),
                         threading.Thread(target=self._commit_loop, name="vnmeter-commit", daemon=True)]
        for thread in self._threads:
            thread.start()

    def submit(self, rows: Accepted, tally: Tally | None = None) -> Future[WriteResult]:
        """Queue `rows` for storing exactly once, with the counts of their request (`tally`, counted as
        `ingest_quality` rows); the future completes once both are in ClickHouse."""
        future: Future[WriteResult] = Future()
        self._submitted = True
        if rows or (tally is not None and tally.rejected):
            self._queue.put(_Batch.of(rows, tally, future))
        else:
            future.set_result(WriteResult(0, 0))
        return future

    def use_filter(self, seen: SeenFilter | None) -> None:
        """Look up only the pairs `seen` may hold (ingest/seen.py). Only before the first request: `seen` was
        filled from what is stored, and a group stored meanwhile would be missing from it."""
        if self._submitted:
            raise RuntimeError("the stored-id filter must be set before the writer takes requests")
        self.seen = seen

    def write(self, rows: Accepted, tally: Tally | None = None) -> WriteResult:
        """Store `rows` exactly once; returns after they are in ClickHouse."""
        return self.submit(rows, tally).result()

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No group is prepared or inserted inside this block (for repairs of what the writer writes); groups
        already running finish first."""
        with self._preparing, self._committed:
            yield

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
            group = self._take_group(item)
            try:
                with self._preparing:
                    prepared = self._prepare(group)
            except Exception as exc:
                for batch in group:
                    batch.future.set_exception(_unavailable(exc))
                self._slot.release()
            else:
                self._committing.put(prepared)

    def _group(self, batches: Sequence[_Batch] = ()) -> _Group:
        with self._inflight_lock:  # taken before the lookup: a group leaves it only once it is stored
            inflight = list(self._inflight.items())
        group = _Group(inflight, self.seen)
        for batch in batches:
            group.add(batch)
        return group

    def _take_group(self, first: _Batch) -> _Group:
        """`first` and the batches waiting behind it, up to `max_rows` events; under load (`LINGER_FROM_ROWS`)
        it waits up to `linger_s` for more until the group holds `min_rows` or none arrives for `linger_gap_s`."""
        group = self._group([first])
        linger = self._last_group_rows >= LINGER_FROM_ROWS
        deadline = time.monotonic() + self.linger_s
        while group.rows < self.max_rows:
            wait = min(self.linger_gap_s, deadline - time.monotonic()) if linger and group.rows < self.min_rows else 0
            try:
                nxt = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                self._queue.put(None)
                break
            group.add(nxt)
        self._last_group_rows = group.rows
        return group

    def _prepare(self, group: _Group) -> _Prepared:
        """`dedupe` the group against stored and in-flight events, then journal its blocks."""
        keys = group.keys
        claimed = set(group.claimed)
        if self.seen is None:
            for chunk in lookup_chunks(group.batches, LOOKUP_MAX_IDS):
                claimed |= self._stored_ids(keys, IntArray(batch.id_list() for batch in chunk if batch.ids))
        else:  # only the pairs the filter may hold: the others are certainly new
            candidates = list(group.candidates)
            for start in range(0, len(candidates), LOOKUP_MAX_IDS):
                claimed |= self._stored_ids(keys, IntArray(candidates[start:start + LOOKUP_MAX_IDS]))
        if not claimed and len(keys) == group.rows:  # the common case: no repeat
            events = b"\n".join(batch.block for batch in group if batch.block)
            inserted = keys
            results = [WriteResult(len(batch), 0) for batch in group]
            tallies = [batch.tally for batch in group if batch.tally is not None]
        else:
            lines, inserted, results, tallies = _first_arrivals(group.batches, claimed)
            events = b"\n".join(lines)
        token = uuid.uuid4().hex
        blocks = [Block(INGEST_TABLE, INGEST_COLUMNS, INGEST_FORMAT, events)] if events else []
        counts = quality.block(tallies, token)
        if counts:
            blocks.append(Block(quality.QUALITY_TABLE, quality.QUALITY_COLUMNS, quality.QUALITY_FORMAT, counts))
        entry = Entry(token, tuple(blocks))
        self.journal.add(entry)
        if inserted:
            with self._inflight_lock:
                self._inflight[entry.token] = inserted
        return _Prepared(entry, tuple(group.relied_on), group.batches, results)

    # -- commit thread -------------------------------------------------------------------------
    def _commit_loop(self) -> None:
        while True:
            try:
                prepared = self._committing.get(timeout=self.done_flush_s)
            except queue.Empty:
                with self._committed:
                    self._replay_guarded(force=False)
                    self._flush_done()
                continue
            self._slot.release()
            if prepared is None:
                self._flush_done(force=True)
                return
            with self._committed:
                self._replay_guarded(force=True)
                try:
                    self._commit(prepared)
                except Exception as exc:  # a failure while handling a failure: the thread must go on
                    self._abandon(prepared, exc)
                if self._committing.empty():
                    self._flush_done()

    def _replay_guarded(self, force: bool) -> None:
        try:
            self._replay_unfinished(force)
        except Exception:
            log.exception("replaying the failed inserts failed; tried again before the next group")

    def _abandon(self, prepared: _Prepared, error: Exception) -> None:
        """After an unexpected failure inside `_commit`: every request of the group not yet answered gets 503.
        What is stored of the group is unknown, so later groups that counted on it fail too, and its journal
        entry (not marked done) is left to start-up, which inserts only the events `events` lacks."""
        log.exception("insert %s failed unexpectedly; its unanswered requests answer 503", prepared.token)
        self._failed[prepared.token] = error
        self._forget(prepared.token)
        answer = _unavailable(error)
        for batch in prepared.batches:
            if not batch.future.done():
                batch.future.set_exception(answer)

    def _commit(self, prepared: _Prepared) -> None:
        failed = next((self._failed[t] for t in prepared.relied_on if t in self._failed), None)
        if failed is not None:  # it counted events of a failed group as stored: it must not be stored itself
            self._forget(prepared.token)
            self.journal.done([prepared.token])
            self._fail(prepared, failed)
            return
        try:
            self._insert_first(prepared.entry)
        except DatabaseError as exc:
            if _is_data_error(exc) and not self._any_stored(prepared):
                self._forget(prepared.token)
                self.journal.done([prepared.token])
                self._store_one_by_one(prepared, exc)
                return
            self._keep_unfinished(prepared, exc)
            return
        except Exception as exc:
            self._keep_unfinished(prepared, exc)
            return
        try:
            self._insert_rest(prepared.entry)
        except Exception as exc:  # the events are stored; the counts will be, by the replay
            self._keep_unfinished(prepared, exc)
            return
        self._forget(prepared.token)
        self._pending_done.append(prepared.token)
        for batch, result in zip(prepared.batches, prepared.results, strict=True):
            batch.future.set_result(result)

    def _store_one_by_one(self, prepared: _Prepared, error: DatabaseError) -> None:
        """The group's events block was refused as data: store each request alone, so only the guilty one fails."""
        if len(prepared.batches) == 1:
            log.error("ClickHouse refused a request's rows as data (a gap in validation): %s", error)
            self._fail(prepared, RowsRefused(f"the data store refused this request's rows: {_first_line(error)}"))
            return
        # a later group that counted this group's events as stored must not pass: some may be refused
        self._failed[prepared.token] = WriteFailed("an insert this request relied on was split")
        for batch in prepared.batches:
            alone = self._prepare(self._group([batch]))
            self._commit(alone)

    def _keep_unfinished(self, prepared: _Prepared, error: BaseException) -> None:
        """A failure that may have stored part of the group: answer 503 now, insert the same blocks again later."""
        log.warning("insert %s failed (%s); its requests answer 503 and it is inserted again before the next "
                    "group", prepared.token, type(error).__name__)
        self._unfinished[prepared.token] = prepared.entry
        self._fail(prepared, error)

    def _fail(self, prepared: _Prepared, error: BaseException) -> None:
        self._failed[prepared.token] = error
        while len(self._failed) > FAILED_TOKENS_KEPT:
            oldest = next(iter(self._failed))
            if oldest in self._unfinished:  # still relied on until it is stored
                break
            del self._failed[oldest]
        answer = error if isinstance(error, RowsRefused | StoreUnavailable) else _unavailable(error)
        for batch in prepared.batches:
            batch.future.set_exception(answer)

    def _replay_unfinished(self, force: bool = False) -> None:
        """Insert the failed groups' blocks again (same tokens) until they are stored; with backoff between
        attempts when no new group is waiting (`force`: a new group is, and must not pass them)."""
        if not self._unfinished or (not force and time.monotonic() < self._next_replay):
            return
        for token, entry in list(self._unfinished.items()):
            try:
                self._insert_first(entry)
                self._finish_rest(entry)
            except Exception as exc:
                if isinstance(exc, DatabaseError) and _is_data_error(exc):
                    log.error("insert %s is refused as data on replay; set aside: %s", token, exc)
                    self.journal.quarantine(entry, str(exc))
                    del self._unfinished[token]
                    self._forget(token)
                    continue
                delay = REPLAY_BACKOFF_S[min(self._replay_attempts, len(REPLAY_BACKOFF_S) - 1)]
                self._replay_attempts += 1
                self._next_replay = time.monotonic() + delay
                return
            del self._unfinished[token]
            self._failed.pop(token, None)
            self._forget(token)
            self._pending_done.append(token)
            log.info("insert %s stored on replay", token)
        self._replay_attempts = 0

    def _forget(self, token: str) -> None:
        with self._inflight_lock:
            self._inflight.pop(token, None)

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

    def _stored_ids(self, keys: set[int], ids: IntArray) -> set[int]:
        """Which of `keys` are already stored, in one lookup (`ids` are ids of `keys`; an id may appear more
        than once)."""
        if ids.text == "[]":
            return set()
        rows = self.store.rows(STORED_IDS_SQL, {"ids": ids})
        # the same id stored for another platform also matches; keep exact pairs only
        return {event_key(platform, int(id128)) for platform, id128 in rows} & keys

    def _any_stored(self, prepared: _Prepared) -> bool:
        """Whether any event of the group reached `event_keys` (an insert refused while parsing stores none)."""
        inserted = {key for batch in prepared.batches for key in batch.keys}
        ids = sorted({key & ID_BITS for key in inserted})
        return any(self._stored_ids(inserted, IntArray(ids[start:start + LOOKUP_MAX_IDS]))
                   for start in range(0, len(ids), LOOKUP_MAX_IDS))

    def _insert_first(self, entry: Entry) -> None:
        if entry.blocks:
            self._insert_once(entry.token, entry.blocks[0])

    def _insert_rest(self, entry: Entry) -> None:
        for block in entry.blocks[1:]:
            self._insert_once(entry.token, block)

    def _finish_rest(self, entry: Entry) -> None:
        for block in entry.blocks[1:]:
            self._finish_block(entry.token, block)

    def _finish_block(self, token: str, block: Block) -> None:
        """Insert a block that may or may not have been stored before. Counts that carry their entry's token
        (migration 0014) go in again, under a fresh deduplication token, only when none of them are stored: the
        entry's own token may have been recorded without its rows. Other blocks rely on the entry's token."""
        if block.table == quality.QUALITY_TABLE and "token" in block.columns:
            if not self.store.rows(QUALITY_STORED_SQL, {"token": token}):
                self._insert_once(uuid.uuid4().hex, block)
            return
        self._insert_once(token, block)

    def _insert_once(self, token: str, block: Block) -> None:
        """Insert `block` under `token`: ClickHouse skips the blocks each table already has under it."""
        self.store.raw_insert(block.table, block.columns, block.data, block.format, settings={
            "insert_deduplicate": 1, "insert_deduplication_token": token,
            "deduplicate_blocks_in_dependent_materialized_views": 1})

    def recover(self) -> list[Entry]:
        """Finish every journalled insert that has no done mark (a process died during it); returns those
        finished. Run before serving.

        The events are not inserted again under the entry's token: ClickHouse records a block's token before it
        commits the block's part, so a process killed between the two leaves a token whose rows are not there,
        and a replay would skip them. Instead the entry's events that `events` lacks go in under a token of
        their own (`_refill`), and the other blocks (the quality counts) under the entry's token. What the
        views on `events` may have missed is found and rebuilt afterwards (queries.consistency, for the months
        of the returned entries). An entry ClickHouse refuses as data is quarantined (see ingest/journal.py) and
        start-up goes on. The tables are read whatever the journal: on the embedded engine they hold what
        versions before the file journal left."""
        journals = [self.journal] if isinstance(self.journal, TableJournal) else [TableJournal(self.store),
                                                                                  self.journal]
        finished = []
        for journal in journals:
            for entry in journal.pending():
                try:
                    self._refill(entry)
                    for block in entry.blocks:
                        if block.table != INGEST_TABLE:
                            self._finish_block(entry.token, block)
                except (DatabaseError, ValueError, msgspec.DecodeError) as exc:
                    if isinstance(exc, DatabaseError) and not _is_data_error(exc):
                        raise
                    log.error("journalled insert %s cannot be replayed (%s); moved to quarantine", entry.token,
                              _first_line(exc))
                    journal.quarantine(entry, str(exc))
                    continue
                journal.done([entry.token])
                finished.append(entry)
        return finished

    def _refill(self, entry: Entry) -> None:
        """Insert the entry's events that `events` does not hold, under a token never used before (a refill cut
        short by another crash is found short again at the next start, and only its missing rows go in)."""
        rows = [row for block in entry.blocks if block.table == INGEST_TABLE for row in _rows_of(block)]
        if not rows:
            return
        wanted = {(row[0], str(uuid.UUID(row[1]))): row for row in rows}  # ValueError: an id ClickHouse refuses
        stored = set(self.store.rows(
            "SELECT platform, toString(event_id) FROM events WHERE day IN {days:Array(Date)} "
            "AND platform IN {platforms:Array(String)} AND event_id IN {ids:Array(UUID)}",
            {"days": sorted({quality.UNKNOWN_MONTH + timedelta(days=row[5]) for row in rows}),
             "platforms": sorted({row[0] for row in rows}), "ids": sorted({key[1] for key in wanted})}))
        missing = [row for key, row in wanted.items() if key not in stored]
        if missing:
            log.warning("insert %s: %d of its %d events are not stored; inserting them", entry.token, len(missing),
                        len(wanted))
            self._insert_once(f"{entry.token[:20]}-refill-{uuid.uuid4().hex}",
                              Block(INGEST_TABLE, INGEST_COLUMNS, INGEST_FORMAT,
                                    b"\n".join(_encode(row) for row in missing)))


def months_of(entries: Sequence[Entry]) -> set[date]:
    """The months (of the service time zone) of the events in `entries`."""
    return {(quality.UNKNOWN_MONTH + timedelta(days=row[5])).replace(day=1)
            for entry in entries for block in entry.blocks if block.table == INGEST_TABLE
            for row in _rows_of(block)}


def _rows_of(block: Block) -> list[list[Any]]:
    """The rows of an `events_ingest` block (INGEST_COLUMNS order), in either format the journal holds."""
    if block.format == "JSONCompactColumns":  # written by versions before 2026-11
        return [list(row) for row in zip(*_decode(block.data), strict=True)]
    return [_decode(line) for line in block.data.split(b"\n") if line]


def lookup_chunks(group: Sequence[_Batch], max_ids: int) -> list[list[_Batch]]:
    """The group's batches in runs of at most `max_ids` rows (a larger batch alone), one lookup each."""
    chunks: list[list[_Batch]] = []
    size = max_ids
    for batch in group:
        if size + len(batch) > max_ids:
            chunks.append([])
            size = 0
        chunks[-1].append(batch)
        size += len(batch)
    return chunks


def _first_arrivals(group: Sequence[_Batch], claimed: set[int]
                    ) -> tuple[list[bytes], set[int], list[WriteResult], list[Tally]]:
    """The lines to insert (the first arrival of each unclaimed id), their keys, and each batch's counts and
    tally (repeats moved from accepted to duplicate)."""
    to_insert: list[bytes] = []
    inserted: set[int] = set()
    results, tallies = [], []
    for batch in group:
        accepted: Counter[tuple[str, date, str]] = Counter()
        duplicate: Counter[tuple[str, date]] = Counter()
        for platform, event_id, line, month, late in batch.rows():
            key = event_key(platform, event_id)
            if key in claimed:
                duplicate[(platform, month)] += 1
            else:
                claimed.add(key)
                inserted.add(key)
                to_insert.append(line)
                accepted[(platform, month, late)] += 1
        results.append(WriteResult(len(batch) - duplicate.total(), duplicate.total()))
        if batch.tally is not None:
            tallies.append(replace(batch.tally, accepted=accepted, duplicate=duplicate))
    return to_insert, inserted, results, tallies


def _is_data_error(exc: DatabaseError) -> bool:
    found = ERROR_CODE.search(str(exc))
    return found is not None and int(found.group(1)) in DATA_ERRORS


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__


def _unavailable(exc: BaseException) -> StoreUnavailable:
    if isinstance(exc, StoreUnavailable):
        return exc
    return WriteFailed(f"the insert did not complete ({type(exc).__name__}); nothing was acknowledged")
