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
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from queries.store import Store

GROUP_MAX_ROWS = 50_000
EVENT_COLUMNS = ("platform", "event_id", "user_pseudo", "type", "ts", "day", "duration_s", "bytes", "country",
                 "province", "os", "received_at")


@dataclass(slots=True)
class StoredEvent:
    """An event ready for storage: the user is already a pseudonym."""

    platform: str
    event_id: str
    user_pseudo: bytes
    type: str
    ts: datetime
    day: date
    duration_s: int
    bytes: int
    country: str
    province: str
    os: str


@dataclass(frozen=True)
class WriteResult:
    accepted: int
    duplicates: int
    stored: list[bool]  # per submitted event: True if it was stored now, False if it was a duplicate


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
            return WriteResult(0, 0, [])
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
        seen: set[tuple[str, str]] = set()
        candidates: dict[str, list[str]] = defaultdict(list)
        for events in batches:
            for event in events:
                key = (event.platform, event.event_id)
                if key not in seen:
                    seen.add(key)
                    candidates[event.platform].append(event.event_id)
        existing = self._stored_ids(candidates)
        claimed: set[tuple[str, str]] = set()
        to_insert: list[StoredEvent] = []
        results = []
        for events in batches:
            stored = []
            for event in events:
                key = (event.platform, event.event_id)
                fresh = key not in existing and key not in claimed
                if fresh:
                    claimed.add(key)
                    to_insert.append(event)
                stored.append(fresh)
            accepted = sum(stored)
            results.append(WriteResult(accepted, len(events) - accepted, stored))
        self._insert(to_insert)
        return results

    def _stored_ids(self, candidates: dict[str, list[str]]) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        for platform, ids in candidates.items():
            rows = self.store.rows(
                "SELECT toString(event_id) FROM event_ids "
                "WHERE platform = {p:String} AND event_id IN {ids:Array(UUID)}",
                {"p": platform, "ids": ids},
            )
            found.update((platform, row[0]) for row in rows)
        return found

    def _insert(self, events: list[StoredEvent]) -> None:
        if not events:
            return
        received = datetime.now(UTC)
        columns: list[list[Any]] = [
            [e.platform for e in events],
            [uuid.UUID(e.event_id) for e in events],
            [e.user_pseudo for e in events],
            [e.type for e in events],
            [e.ts for e in events],
            [e.day for e in events],
            [e.duration_s for e in events],
            [e.bytes for e in events],
            [e.country for e in events],
            [e.province for e in events],
            [e.os for e in events],
            [received] * len(events),
        ]
        self.store.insert_columns("events", columns, EVENT_COLUMNS)
