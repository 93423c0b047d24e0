"""Where the writer keeps each insert block until its insert is known complete (0006_exactly_once.sql).

One protocol, two places. On a ClickHouse server: the `ingest_journal` tables, which every API process
sharing the server sees. On the embedded engine: files in the chDB directory, which one process owns
(the directory lock) and which cost a file write instead of a second insert into ClickHouse (that insert
took 47 ms of CPU per 32,000-event block, 1.46 us per event; bench/writer_costs.py).

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
TOKEN = re.compile(r"[0-9a-zA-Z_-]{1,64}")


@dataclass(frozen=True)
class Entry:
    """One insert block: what `Writer._insert_once` needs to run the insert again."""

    token: str
    columns: tuple[str, ...]
    format: str
    data: bytes


class Journal(Protocol):
    def add(self, entry: Entry) -> None:
        """Keep `entry`; returns once it would survive the process."""

    def done(self, tokens: Sequence[str]) -> None:
        """Forget the entries whose inserts are complete."""

    def pending(self) -> list[Entry]:
        """The entries not yet done, oldest first as far as the clock tells (replay order does not matter:
        each replay inserts only what each table is missing)."""


class TableJournal:
    """`ingest_journal` and `ingest_journal_done`: shared by every process of a ClickHouse server."""

    def __init__(self, store: Store):
        self.store = store

    def add(self, entry: Entry) -> None:
        self.store.insert("ingest_journal", [[entry.token, list(entry.columns), entry.format, entry.data,
                                              datetime.now(UTC)]],
                          ["token", "columns", "format", "data", "created_at"])

    def done(self, tokens: Sequence[str]) -> None:
        now = datetime.now(UTC)
        self.store.insert("ingest_journal_done", [[token, now] for token in tokens], ["token", "done_at"])

    def pending(self) -> list[Entry]:
        rows = self.store.query(
            "SELECT token, columns, format, data FROM ingest_journal "
            "WHERE token NOT IN (SELECT token FROM ingest_journal_done) ORDER BY created_at",
            column_formats={"data": "bytes"}).result_rows  # as written, even when it is not UTF-8
        return [Entry(token, tuple(columns), fmt, data) for token, columns, fmt, data in rows]


class FileJournal:
    """One file per entry, `<token>.block`: a JSON header line (columns, format), then the block.

    A file is written under a temporary name and renamed, so a `.block` file is always whole; a `.tmp`
    file left by a process that died while writing it belongs to an insert that never started, and is
    removed by `pending`."""

    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def add(self, entry: Entry) -> None:
        if not TOKEN.fullmatch(entry.token):
            raise ValueError(f"journal token {entry.token!r} is not a plain file name")
        header = orjson.dumps({"columns": entry.columns, "format": entry.format})
        temporary = self.directory / f"{entry.token}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(header + b"\n" + entry.data)
        os.replace(temporary, self.directory / f"{entry.token}.block")

    def done(self, tokens: Sequence[str]) -> None:
        for token in tokens:
            (self.directory / f"{token}.block").unlink(missing_ok=True)

    def pending(self) -> list[Entry]:
        for stale in self.directory.glob("*.tmp"):
            stale.unlink(missing_ok=True)
        files = sorted(self.directory.glob("*.block"), key=lambda path: (path.stat().st_mtime_ns, path.name))
        entries = []
        for path in files:
            header, _, data = path.read_bytes().partition(b"\n")
            meta = orjson.loads(header)
            entries.append(Entry(path.stem, tuple(meta["columns"]), meta["format"], data))
        return entries


def journal_for(store: Store) -> Journal:
    """Files in the chDB directory for the embedded engine, the tables for a server."""
    if store.target.is_embedded and store.target.path is not None:
        return FileJournal(store.target.path / JOURNAL_DIRECTORY / store.database)
    return TableJournal(store)
