"""The durable queue: events waiting to be sent and the batches made of them, in one SQLite file (WAL).

An event is committed to the file before `put` returns. A batch is made once, from the oldest waiting events, and
stored as the exact gzip NDJSON body that every attempt sends, so a retry, even after a restart of the process,
sends the same bytes (the same event ids). A batch leaves the file only when the service has answered it, in the
same transaction that adds its answer to the queue's running totals. One process at a time uses a queue file: the
connection holds SQLite's exclusive lock from opening to closing, and the operating system releases it when the
process dies.
"""

from __future__ import annotations

import gzip
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a flush waits for the seqs queued before it
    body      BLOB NOT NULL,                      -- the NDJSON line, without its newline
    queued_at REAL NOT NULL                       -- seconds since the epoch: a batch is due flush_interval later
);
CREATE TABLE IF NOT EXISTS batches (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    events    INTEGER NOT NULL,
    body      BLOB NOT NULL                       -- gzip NDJSON, sent unchanged on every attempt
);
CREATE TABLE IF NOT EXISTS totals (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoints (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class QueueError(Exception):
    """The queue file cannot be used (another file in its place, no room to create it ...)."""


class QueueInUse(QueueError):
    """Another process (or another client in this one) has the queue file open."""


@dataclass(frozen=True)
class Batch:
    id: int
    events: int
    body: bytes  # gzip NDJSON, exactly as sent on every attempt

    def lines(self) -> list[bytes]:
        """The events of the batch, one NDJSON line each, in the order the service numbers them."""
        return gzip.decompress(self.body).split(b"\n")[: self.events]


class DurableQueue:
    """Thread-safe; `power_safe` makes every commit wait for the disk (fsync), so that queued events survive a power
    cut too, not only a crash of the process (about a millisecond per commit instead of microseconds)."""

    def __init__(self, path: str | PathLike[str], power_safe: bool = False):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise QueueError(f"cannot open the queue file {self.path}: {exc}") from None
        try:
            self._db.execute("PRAGMA locking_mode = EXCLUSIVE")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute(f"PRAGMA synchronous = {'FULL' if power_safe else 'NORMAL'}")
            with self._transaction():
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")  # a write: takes the exclusive lock
        except sqlite3.Error as exc:
            self._db.close()
            if "locked" in str(exc):
                raise QueueInUse(f"the queue file {self.path} is in use by another client; one client (one process) "
                                 "uses a queue file at a time") from None
            raise QueueError(f"cannot use {self.path} as a queue file: {exc}") from None
        self._waiting = int(self._db.execute("SELECT count(*) FROM events").fetchone()[0])
        self._oldest_waiting = self._first_queued_at()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _first_queued_at(self) -> float | None:
        found = self._db.execute("SELECT queued_at FROM events ORDER BY seq LIMIT 1").fetchone()
        return None if found is None else float(found[0])

    # -- adding --------------------------------------------------------------------------------------------------
    def put(self, lines: Sequence[bytes], checkpoint: tuple[str, str] | None = None) -> None:
        """Commit events (NDJSON lines), and with them a checkpoint of the caller's (such as how far it has read
        its source), so that after a crash the events and the checkpoint are both there or both not."""
        now = time.time()
        with self._lock, self._transaction() as db:
            db.executemany("INSERT INTO events (body, queued_at) VALUES (?, ?)", ((line, now) for line in lines))
            if checkpoint is not None:
                db.execute("INSERT OR REPLACE INTO checkpoints (name, value) VALUES (?, ?)", checkpoint)
            if lines and self._oldest_waiting is None:
                self._oldest_waiting = now
            self._waiting += len(lines)

    # -- batches -------------------------------------------------------------------------------------------------
    def waiting(self) -> int:
        """Events not yet in a batch."""
        return int(self._waiting)

    def oldest_waiting_since(self) -> float | None:
        """When the oldest event not yet in a batch was queued (seconds since the epoch)."""
        return self._oldest_waiting

    def next_batch(self, max_events: int, max_bytes: int, make: bool) -> Batch | None:
        """The oldest batch not yet answered; else, when `make`, a new one of the oldest waiting events (at most
        `max_events` events and `max_bytes` bytes of NDJSON, at least one event); else None."""
        with self._lock:
            found = self._db.execute("SELECT id, events, body FROM batches ORDER BY id LIMIT 1").fetchone()
            if found is not None:
                return Batch(*found)
            if not make or not self._waiting:
                return None
            rows = self._db.execute("SELECT seq, body FROM events ORDER BY seq LIMIT ?", (max_events,)).fetchall()
            size, count = 0, 0
            for _, line in rows:
                if count and size + len(line) + 1 > max_bytes:
                    break
                size, count = size + len(line) + 1, count + 1
            chosen = rows[:count]
            body = gzip.compress(b"".join(line + b"\n" for _, line in chosen), compresslevel=6, mtime=0)
            first, last = chosen[0][0], chosen[-1][0]
            with self._transaction() as db:
                cursor = db.execute("INSERT INTO batches (first_seq, last_seq, events, body) VALUES (?, ?, ?, ?)",
                                    (first, last, count, body))
                db.execute("DELETE FROM events WHERE seq BETWEEN ? AND ?", (first, last))
            self._waiting -= count
            self._oldest_waiting = self._first_queued_at()
            assert cursor.lastrowid is not None
            return Batch(cursor.lastrowid, count, body)

    def answered(self, batch: Batch, counts: Mapping[str, int]) -> None:
        """Remove an answered batch and add its answer's counts to the queue's totals, in one transaction."""
        with self._lock, self._transaction() as db:
            db.execute("DELETE FROM batches WHERE id = ?", (batch.id,))
            db.executemany("INSERT INTO totals (name, value) VALUES (?, ?) "
                           "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value", counts.items())

    # -- progress ------------------------------------------------------------------------------------------------
    def last_queued(self) -> int:
        """The seq of the last event ever queued here (0 for none)."""
        with self._lock:
            found = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'events'").fetchone()
        return int(found[0]) if found else 0

    def oldest_unanswered(self) -> int | None:
        """The seq of the oldest event not yet answered by the service, or None when every one is."""
        with self._lock:
            waiting = self._db.execute("SELECT min(seq) FROM events").fetchone()[0]
            batched = self._db.execute("SELECT min(first_seq) FROM batches").fetchone()[0]
        found = [seq for seq in (waiting, batched) if seq is not None]
        return min(found) if found else None

    def unanswered(self) -> int:
        """Events not yet answered by the service (waiting, or in a batch being sent)."""
        with self._lock:
            batched = self._db.execute("SELECT coalesce(sum(events), 0) FROM batches").fetchone()[0]
        return int(self._waiting) + int(batched)

    def totals(self) -> dict[str, int]:
        """The service's answers to every batch of this queue file, added up: accepted, duplicates, rejected and
        rejected:<reason>."""
        with self._lock:
            return dict(self._db.execute("SELECT name, value FROM totals ORDER BY name").fetchall())

    def checkpoint(self, name: str) -> str | None:
        with self._lock:
            found = self._db.execute("SELECT value FROM checkpoints WHERE name = ?", (name,)).fetchone()
        return None if found is None else str(found[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
