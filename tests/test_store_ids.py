"""`Store.rows_with_ids`: a query that reads a binary table of ids (the writer's dedup lookup)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from ingest.write import STORED_IDS_SQL, STORED_IDS_SQL_CLUSTER
from queries.store import Store, Target

LOOKUP = STORED_IDS_SQL + " ORDER BY id128"


def le(value: int) -> bytes:
    """A UInt128 in RowBinary: 16 bytes, least significant first."""
    return value.to_bytes(16, "little")


def test_finds_exactly_the_stored_ids_it_is_given(store: Store) -> None:
    big = (1 << 127) + 5  # needs the top bit: the 16 bytes are read as one unsigned 128-bit value
    store.insert("event_ids", [["zalo", 1], ["zalo", 2], ["zalo", big], ["momo", 3]], ["platform", "id128"])
    found = store.rows_with_ids(LOOKUP, {"platforms": ["zalo"]}, le(2) + le(3) + le(big) + le(7))
    assert found == [("zalo", 2), ("zalo", big)]  # 3 is stored for momo only, 7 nowhere
    # the next call sees only its own ids: the table is emptied before each use
    assert store.rows_with_ids(LOOKUP, {"platforms": ["zalo", "momo"]}, le(1)) == [("zalo", 1)]
    assert store.rows_with_ids(LOOKUP, {"platforms": ["zalo"]}, b"") == []


def test_threads_never_see_each_others_ids(store: Store) -> None:
    store.insert("event_ids", [["zalo", i] for i in range(200)], ["platform", "id128"])
    wrong: list[tuple[int, list[Any]]] = []

    def look(offset: int) -> None:
        mine = list(range(offset, 200, 4))
        for _ in range(15):
            found = store.rows_with_ids(LOOKUP, {"platforms": ["zalo"]}, b"".join(map(le, mine)))
            if [row[1] for row in found] != mine:
                wrong.append((offset, found))

    threads = [threading.Thread(target=look, args=(offset,)) for offset in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


class FakeHttpClient:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def query(self, sql: str, parameters: dict[str, Any], external_data: Any) -> Any:
        self.calls.append({"sql": sql, "parameters": parameters, "external": external_data})
        return type("Result", (), {"result_rows": [["zalo", 2]]})()


def test_a_server_gets_the_ids_as_external_data_of_the_query(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(Store, "_bootstrap", lambda self: None)
    server = Store(Target("http", "http://ch.example:8123/vnmeter", "vnmeter"))
    fake = FakeHttpClient()
    server._local.client = fake
    ids = le(2) + le(9)
    assert server.rows_with_ids(LOOKUP, {"platforms": ["zalo"]}, ids) == [("zalo", 2)]
    (call,) = fake.calls
    assert call["sql"] == LOOKUP and call["parameters"] == {"platforms": ["zalo"]}
    (external,) = call["external"].files
    assert (external.name, external.data, external.fmt, external.structure) == (
        "ingest_ids", ids, "RowBinary", "id128 UInt128")


@pytest.mark.parametrize(("sql", "operator"), [(STORED_IDS_SQL, "IN"), (STORED_IDS_SQL_CLUSTER, "GLOBAL IN")])
def test_the_writers_lookups_parse_as_clickhouse_sql(store: Store, sql: str, operator: str) -> None:
    formatted = store.command("SELECT formatQuery({sql:String})", {"sql": sql})
    assert " ".join(formatted.replace("\\n", " ").split()) == (
        "SELECT platform, id128 FROM event_ids WHERE (platform IN ({platforms:Array(String)})) "
        f"AND (id128 {operator} ( SELECT id128 FROM ingest_ids ))")


def test_the_cluster_lookup_runs_on_one_server_too(store: Store) -> None:
    store.insert("event_ids", [["zalo", 4]], ["platform", "id128"])
    assert store.rows_with_ids(STORED_IDS_SQL_CLUSTER, {"platforms": ["zalo"]}, le(4) + le(5)) == [("zalo", 4)]
