"""The writer's journal: the embedded engine's files and a server's tables keep and return the same entries."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ingest.journal import JOURNAL_DIRECTORY, Block, Entry, FileJournal, TableJournal, journal_for
from queries.store import Store

COLUMNS = ("platform", "event_id")
# a block with newlines, a NUL, bytes that are not UTF-8 and a trailing newline: kept byte for byte
DATA = b'["zalo","a"]\n["zalo","b"]\x00\xff\xfe\n'


def test_the_embedded_engine_journals_to_files_of_its_database(store: Store) -> None:
    journal = journal_for(store)
    assert isinstance(journal, FileJournal)
    assert store.target.path is not None
    assert journal.directory == store.target.path / JOURNAL_DIRECTORY / store.database


@pytest.mark.parametrize("kind", ["file", "table"])
def test_entries_come_back_whole_until_done(store: Store, kind: str) -> None:
    journal = journal_for(store) if kind == "file" else TableJournal(store)
    first = Entry("t1", (Block("events_ingest", COLUMNS, "JSONCompactEachRow", DATA),
                         Block("ingest_quality", ("vendor",), "JSONCompactEachRow", b'["vng"]')))
    second = Entry("t0", (Block("events_ingest", COLUMNS, "RowBinary", b"x"),))
    journal.add(first)
    journal.add(second)
    # replay order does not matter (each token inserts only what each table misses), so none is asserted
    assert sorted(journal.pending(), key=lambda entry: entry.token) == [second, first]
    journal.done(["t1"])
    assert journal.pending() == [second]
    journal.done(["t0", "never-added"])
    assert journal.pending() == []


def test_files_are_private_and_half_written_ones_are_dropped(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path / "j")
    journal.add(Entry("t1", (Block("events_ingest", COLUMNS, "JSONCompactEachRow", DATA),)))
    assert stat.S_IMODE((tmp_path / "j").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "j" / "t1.block").stat().st_mode) == 0o600
    # a process died while writing t2: its insert never started, so there is nothing to finish
    (tmp_path / "j" / "t2.tmp").write_bytes(b'{"columns": ["platform"]')
    assert [entry.token for entry in FileJournal(tmp_path / "j").pending()] == ["t1"]  # the next start
    assert sorted(path.name for path in (tmp_path / "j").iterdir()) == ["t1.block"]


@pytest.mark.parametrize("token", ["", "../escape", "a/b", "x" * 65, "t.block"])
def test_a_token_that_is_not_a_plain_file_name_is_refused(tmp_path: Path, token: str) -> None:
    with pytest.raises(ValueError, match="not a plain file name"):
        FileJournal(tmp_path).add(Entry(token, (Block("events_ingest", COLUMNS, "JSONCompactEachRow", DATA),)))
    assert list(tmp_path.iterdir()) == []
