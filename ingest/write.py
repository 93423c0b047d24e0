"""The `dedupe` and `write` steps, serialised in one writer thread with group commit.

Requests hand their pseudonymised events to the writer and wait. The writer takes every batch that
is waiting (up to GROUP_MAX_ROWS events), drops repeats inside the group (first arrival wins) and
events whose (platform, event_id) is already stored, inserts the rest in one INSERT, and only then
answers each request with its own accepted and duplicate counts. One writer per process makes
check-then-insert atomic with respect to every other request of the process.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

from queries.store import Store

GROUP_MAX_ROWS = 50_000
INGEST_TABLE = "events_ingest"
INGEST_FORMAT = "JSONCompactColumns"
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


@dataclass(frozen=True)
class WriteResult:
    accepted: int
    duplicates: int


class Writer:
    """One thread that dedupes and inserts everything this process accepts."""

    def __init__(self, store: Store, max_rows: int = GROUP_MAX_ROWS):
        self.store = store
        self.max_rows = max_rows
        self._queue: queue.Queue[tuple[list[StoredEvent], Future[WriteResult]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="vnmeter-writer", daemon=True)
        self._thread.start()

    def write(self, events: list[StoredEvent]) -> WriteResult:
        """Store `events` exactly once; returns after they are in ClickHouse."""
        if not events:
            return WriteResult(0, 0)
        future: Future[WriteResult] = Future()
        self._queue.put((events, future))
        return future.result()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            group = [item]
            rows = len(item[0])
            while rows < self.max_rows:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                group.append(nxt)
                rows += len(nxt[0])
            try:
                results = self._write_group([events for events, _ in group])
            except Exception as exc:
                for _, future in group:
                    future.set_exception(exc)
            else:
                for (_, future), result in zip(group, results, strict=True):
                    future.set_result(result)

    def _write_group(self, batches: Sequence[list[StoredEvent]]) -> list[WriteResult]:
        claimed = self._stored_ids({(e.platform, e.id128) for events in batches for e in events})
        to_insert: list[StoredEvent] = []
        results = []
        for events in batches:
            accepted = 0
            for event in events:
                key = (event.platform, event.id128)
                if key not in claimed:
                    claimed.add(key)
                    to_insert.append(event)
                    accepted += 1
            results.append(WriteResult(accepted, len(events) - accepted))
        self._insert(to_insert)
        return results

    def _stored_ids(self, keys: set[tuple[str, int]]) -> set[tuple[str, int]]:
        """Which of `keys` are already stored, in one lookup for the whole group."""
        rows = self.store.rows(
            "SELECT platform, id128 FROM event_ids "
            "WHERE platform IN {platforms:Array(String)} AND id128 IN {ids:Array(UInt128)}",
            {"platforms": sorted({platform for platform, _ in keys}), "ids": [id128 for _, id128 in keys]},
        )
        # a stored id of another platform in the group also matches the IN clauses; keep exact pairs only
        return {(platform, int(id128)) for platform, id128 in rows} & keys

    def _insert(self, events: list[StoredEvent]) -> None:
        """Journal the block, insert it with its token, mark the token done (see 0006_exactly_once.sql)."""
        if not events:
            return
        columns = [
            [e.platform for e in events],
            [e.event_id for e in events],
            [e.user_pseudo_hex for e in events],
            [e.type for e in events],
            [e.ts_ms for e in events],
            [e.day for e in events],
            [e.duration_s for e in events],
            [e.bytes for e in events],
            [e.country for e in events],
            [e.province for e in events],
            [e.os for e in events],
        ]
        data = orjson.dumps(columns)
        token = uuid.uuid4().hex
        self.store.insert("ingest_journal", [[token, list(INGEST_COLUMNS), INGEST_FORMAT, data, datetime.now(UTC)]],
                          ["token", "columns", "format", "data", "created_at"])
        self._insert_once(token, INGEST_COLUMNS, INGEST_FORMAT, data)

    def _insert_once(self, token: str, columns: Sequence[str], fmt: str, data: bytes) -> None:
        self.store.raw_insert(INGEST_TABLE, columns, data, fmt, settings={
            "insert_deduplicate": 1, "insert_deduplication_token": token,
            "deduplicate_blocks_in_dependent_materialized_views": 1})
        self.store.insert("ingest_journal_done", [[token, datetime.now(UTC)]], ["token", "done_at"])

    def recover(self) -> int:
        """Finish every journalled insert that has no done mark (a process died during it); returns how many.
        Run before serving: ClickHouse adds only the blocks each table is missing."""
        pending = self.store.rows(
            "SELECT token, columns, format, data FROM ingest_journal "
            "WHERE token NOT IN (SELECT token FROM ingest_journal_done) ORDER BY created_at")
        for token, columns, fmt, data in pending:
            self._insert_once(token, columns, fmt, data if isinstance(data, bytes) else data.encode())
        return len(pending)
