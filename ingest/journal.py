"""Where the writer keeps each insert group until its inserts are known complete (0006_exactly_once.sql).

An entry is a token and the blocks of one insert group (the events for `events_ingest`, the counts for
`ingest_quality`). One protocol, two places. On a ClickHouse server: the `ingest_journal` tables, which every
API process sharing the server sees. On the embedded engine: files in the chDB directory, which one process
owns (the directory lock) and which cost a file write instead of a second insert into ClickHouse.

An entry that cannot be replayed (ClickHouse refuses its data) is moved to quarantine, so that start-up never
depends on it: kept with the error for an operator (`vnmeter doctor`), never inserted again by itself. Entries
hold pseudonymised rows only.

Durability is the same in both: neither the file nor ClickHouse's own parts are fsynced on insert (its
default), so both survive the death of the process, not a power cut in the seconds before the kernel
writes them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import orjson

from queries.store import Store

JOURNAL_DIRECTORY = "vnmeter-journal"  # in the chDB directory, one subdirectory per database
QUARANTINE_DIRECTORY = "quarantine"  # inside each database's journal directory
TOKEN = re.compile(r"[0-9a-zA-Z_-]{1,64}")
LEGACY_TABLE = "events_ingest"  # entries written before 0013 name no table: they are all events blocks


@dataclass(frozen=True)
class Block:
    """One insert: `data` in ClickHouse input format `format` for `columns` of `table`."""

    table: str
    columns: tuple[str, ...]
    format: str
    data: bytes


@dataclass(frozen=True)
class Entry:
    """One insert group: the blocks `Writer` inserts under `token`, in order."""

    token: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Quarantined:
    token: str
    bytes: int
    error: str
    at: datetime


class Journal(Protocol):
    def add(self, entry: Entry) -> None:
        """Keep `entry`; returns once it would survive the process."""

    def done(self, tokens: Sequence[str]) -> None:
        """Forget the entries whose inserts are complete (or that will never be inserted)."""

    def pending(self) -> list[Entry]:
        """The entries not yet done, oldest first as far as the clock tells (replay order does not matter:
        each replay inserts only what each table is missing)."""

    def quarantine(self, entry: Entry, error: str) -> None:
        """Set `entry` aside with the error that stopped its replay; it is no longer pending."""

    def quarantined(self) -> list[Quarantined]:
        """The entries set aside, oldest first."""


class TableJournal:
    """`ingest_journal`, `ingest_journal_done` and `ingest_journal_quarantine`: shared by every process of a
    ClickHouse server. One row per block; the blocks of an entry share its token."""

    def __init__(self, store: Store):
        self.store = store

    def add(self, entry: Entry) -> None:
        now = datetime.now(UTC)
        self.store.insert("ingest_journal", [[entry.token, i, block.table, list(block.columns), block.format,
                                              block.data, now] for i, block in enumerate(entry.blocks)],
                          ["token", "block", "target", "columns", "format", "data", "created_at"])

    def done(self, tokens: Sequence[str]) -> None:
        now = datetime.now(UTC)
        self.store.insert("ingest_journal_done", [[token, now] for token in tokens], ["token", "done_at"])

    def pending(self) -> list[Entry]:
        rows = self.store.query(
            "SELECT token, target, columns, format, data FROM ingest_journal "
            "WHERE token NOT IN (SELECT token FROM ingest_journal_done) ORDER BY created_at, token, block",
            column_formats={"data": "bytes"}).result_rows  # as written, even when it is not UTF-8
        entries: dict[str, list[Block]] = {}
        for token, table, columns, fmt, data in rows:
            entries.setdefault(token, []).append(Block(table, tuple(columns), fmt, data))
        return [Entry(token, tuple(blocks)) for token, blocks in entries.items()]

    def quarantine(self, entry: Entry, error: str) -> None:
        now = datetime.now(UTC)
        self.store.insert("ingest_journal_quarantine",
                          [[entry.token, i, block.table, list(block.columns), block.format, block.data, error, now]
                           for i, block in enumerate(entry.blocks)],
                          ["token", "block", "target", "columns", "format", "data", "error", "quarantined_at"])
        self.done([entry.token])

    def quarantined(self) -> list[Quarantined]:
        rows = self.store.rows(
            "SELECT token, sum(length(data)), any(error), min(quarantined_at) FROM ingest_journal_quarantine "
            "GROUP BY token ORDER BY min(quarantined_at), token")
        return [Quarantined(token, int(size), error, at) for token, size, error, at in rows]


class FileJournal:
    """One file per entry, `<token>.block`: a JSON header line (each block's table, columns, format and size),
    then the blocks' data one after another.

    A file is written under a temporary name and renamed, so a `.block` file is always whole; a `.tmp`
    file left by a process that died while writing it belongs to an insert that never started, and is
    removed when the journal is opened (the process holds the directory's lock: no other writes there).
    Quarantine moves the file to `quarantine/` beside a `<token>.error` file."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.quarantine_directory = directory / QUARANTINE_DIRECTORY
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        for stale in self.directory.glob("*.tmp"):
            stale.unlink(missing_ok=True)

    def add(self, entry: Entry) -> None:
        header = orjson.dumps({"blocks": [{"table": block.table, "columns": block.columns, "format": block.format,
                                           "size": len(block.data)} for block in entry.blocks]})
        temporary = self._path(entry.token, ".tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(header + b"\n")
            for block in entry.blocks:
                handle.write(block.data)
        os.replace(temporary, self._path(entry.token, ".block"))

    def done(self, tokens: Sequence[str]) -> None:
        for token in tokens:
            self._path(token, ".block").unlink(missing_ok=True)

    def pending(self) -> list[Entry]:
        """The entries not yet done; a file that cannot be read as an entry is moved to quarantine."""
        files = sorted(self.directory.glob("*.block"), key=lambda path: (path.stat().st_mtime_ns, path.name))
        entries = []
        for path in files:
            try:
                entries.append(read_entry(path))
            except (ValueError, KeyError, TypeError) as exc:  # orjson.JSONDecodeError is a ValueError
                self._set_aside(path.stem, f"unreadable journal file: {type(exc).__name__}: {exc}")
        return entries

    def quarantine(self, entry: Entry, error: str) -> None:
        self._set_aside(entry.token, error)

    def _set_aside(self, token: str, error: str) -> None:
        self.quarantine_directory.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(self.quarantine_directory / f"{token}.error",
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(error)
        os.replace(self._path(token, ".block"), self.quarantine_directory / f"{token}.block")

    def quarantined(self) -> list[Quarantined]:
        if not self.quarantine_directory.is_dir():
            return []
        found = []
        for path in self.quarantine_directory.glob("*.block"):
            error_file = path.with_suffix(".error")
            error = error_file.read_text(errors="replace") if error_file.exists() else ""
            stat = path.stat()
            found.append(Quarantined(path.stem, stat.st_size, error, datetime.fromtimestamp(stat.st_mtime, UTC)))
        return sorted(found, key=lambda q: (q.at, q.token))

    def _path(self, token: str, suffix: str) -> Path:
        if not TOKEN.fullmatch(token):
            raise ValueError(f"journal token {token!r} is not a plain file name")
        return self.directory / f"{token}{suffix}"


def read_entry(path: Path) -> Entry:
    """The entry in a journal file (also the format before 0013: one events block, no table)."""
    header, _, data = path.read_bytes().partition(b"\n")
    meta = orjson.loads(header)
    if "blocks" not in meta:
        return Entry(path.stem, (Block(LEGACY_TABLE, tuple(meta["columns"]), meta["format"], data),))
    blocks, offset = [], 0
    for block in meta["blocks"]:
        blocks.append(Block(block["table"], tuple(block["columns"]), block["format"],
                            data[offset:offset + block["size"]]))
        offset += block["size"]
    if offset != len(data):
        raise ValueError(f"the header gives {offset} bytes of blocks, the file holds {len(data)}")
    return Entry(path.stem, tuple(blocks))


def journal_for(store: Store) -> Journal:
    """Files in the chDB directory for the embedded engine, the tables for a server."""
    if store.target.is_embedded and store.target.path is not None:
        return FileJournal(store.target.path / JOURNAL_DIRECTORY / store.database)
    return TableJournal(store)
