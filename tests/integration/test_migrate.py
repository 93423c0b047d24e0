"""Schema migrations: the ledger, and 0007's move of the dedup index from event_ids to event_keys with the
ids stored before it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from datetime import date
from pathlib import Path

import pytest

from ingest.write import Writer, WriteResult, _Batch
from queries import migrate as migrate_module
from queries.migrate import Migration, migrate
from queries.store import Store, StoreError, Target
from tests.factories import accepted

U1, U2, U3, U4 = (uuid.UUID(int=(n << 100) + n, version=4) for n in (1, 2, 3, 4))


@pytest.fixture
def empty(chdb_dir: Path) -> Iterator[Store]:
    """A database with no schema yet."""
    database = f"t_{uuid.uuid4().hex[:12]}"
    opened = Store(Target("chdb", f"chdb://{chdb_dir}", database, chdb_dir))
    yield opened
    opened.command(f"DROP DATABASE IF EXISTS {database}")
    opened.close()


def store_events(store: Store, pairs: list[tuple[str, uuid.UUID]]) -> None:
    store.insert("events", [[platform, event_id, b"u" * 16, "session", 0, 0, 60, 1_000, "VN", "", "", 0]
                            for platform, event_id in pairs],
                 ["platform", "event_id", "user_pseudo", "type", "ts", "day", "duration_s", "bytes", "country",
                  "province", "os", "received_at"])


def index(store: Store) -> list[tuple[str, int]]:
    return [(platform, id128) for platform, id128 in store.rows(
        "SELECT platform, id128 FROM event_keys ORDER BY platform, id128")]


def test_0007_copies_every_stored_id_into_event_keys_and_drops_event_ids(empty: Store) -> None:
    assert [m.version for m in migrate(empty, through=6)] == [1, 2, 3, 4, 5, 6]
    # U1 is stored for two platforms: the new index keeps both pairs
    store_events(empty, [("zalo", U1), ("momo", U1), ("zalo", U2)])
    assert empty.rows("SELECT count() FROM event_ids")[0][0] == 3

    assert [m.version for m in migrate(empty, through=7)] == [7]
    assert index(empty) == [("momo", U1.int), ("zalo", U1.int), ("zalo", U2.int)]
    assert empty.rows("SELECT name FROM system.tables WHERE database = {db:String} AND name LIKE 'event_ids%'",
                      {"db": empty.database}) == []
    # the view feeds it from now on
    store_events(empty, [("viber", U4)])
    assert index(empty) == [("momo", U1.int), ("viber", U4.int), ("zalo", U1.int), ("zalo", U2.int)]

    # and the writer finds the ids stored before the migration: U2 is stored for zalo, not for momo
    writer = Writer(empty)
    try:
        month = date(2022, 4, 1)
        rows = [("zalo", U1.int, b"[]", month, "lt_1h"), ("zalo", U3.int, b"[]", month, "lt_1h"),
                ("momo", U2.int, b"[]", month, "lt_1h")]
        group = writer._group([_Batch.of(accepted(rows), None, Future())])
        assert writer._prepare(group).results == [WriteResult(2, 1)]
    finally:
        writer.close()


def test_a_second_run_applies_nothing(empty: Store) -> None:
    assert [m.version for m in migrate(empty)] == [m.version for m in migrate_module.load("single")[1]]
    assert migrate(empty) == []


def test_an_applied_migration_that_changed_stops_the_run(empty: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    migrate(empty)
    ledger, migrations = migrate_module.load("single")
    edited = [m if m.version != 7 else Migration(7, m.name, m.sql + "\n-- edited\n") for m in migrations]
    monkeypatch.setattr(migrate_module, "load", lambda variant="single": (ledger, edited))
    with pytest.raises(StoreError, match="0007_event_keys changed after it was applied"):
        migrate(empty)
