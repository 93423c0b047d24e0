"""A bad request harms only itself: a group whose events block ClickHouse refuses as data is stored request by
request, a storage failure is 503 + Retry-After (never 500), and a poisoned row in a mixed batch is a per-row
rejection while the batch's and other vendors' good rows are stored."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import orjson
import pytest
from clickhouse_connect.driver.exceptions import DatabaseError

from ingest.journal import Block
from ingest.rows import StoredRow
from ingest.write import RowsRefused, WriteFailed, Writer, WriteResult
from queries.store import Store
from tests.factories import NDJSON, Api, accepted, event, running_api, stored_row

DAY = 19083  # 2022-04-01


def rows(base: int, n: int) -> list[StoredRow]:
    return [stored_row("zalo", uuid.UUID(int=(base << 64) + i, version=4), f"{base + i:032x}",
                       1_648_785_600_000 + i, DAY) for i in range(n)]


def poisoned(base: int) -> StoredRow:
    """A row ClickHouse refuses while parsing (an event_id it cannot read as a UUID), as if validation had let
    it through."""
    good = rows(base, 1)[0]
    line = orjson.loads(good[2])
    line[1] = line[1] + "\n"
    return good[0], good[1], orjson.dumps(line), good[3], good[4]


class HeldWriter(Writer):
    """A writer that holds its prepare thread until three requests wait, so they form one group."""

    def __init__(self, store: Store):
        self.ready = threading.Event()
        super().__init__(store)

    def _prepare(self, group: Any) -> Any:
        self.ready.wait(timeout=30)
        return super()._prepare(group)


def test_a_group_refused_as_data_is_stored_request_by_request(store: Store) -> None:
    writer = HeldWriter(store)
    try:
        first, bad, last = rows(0x1, 3), [*rows(0x2, 2), poisoned(0x3)], rows(0x4, 4)
        futures: list[Future[WriteResult]] = [writer.submit(accepted(batch)) for batch in (first, bad, last)]
        writer.ready.set()
        assert futures[0].result(timeout=30) == WriteResult(3, 0)
        with pytest.raises(RowsRefused, match="refused this request's rows"):
            futures[1].result(timeout=30)
        assert futures[2].result(timeout=30) == WriteResult(4, 0)
    finally:
        writer.close()
    assert store.rows("SELECT count() FROM events")[0][0] == 7
    assert store.rows("SELECT count() FROM event_keys")[0][0] == 7
    assert writer.journal.pending() == [] and writer.journal.quarantined() == []


def test_a_failure_while_handling_a_failure_answers_503_and_the_writer_goes_on(
        store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    writer = Writer(store)
    try:
        def lookup_fails(_: Any) -> bool:  # the check made after a refusal cannot reach ClickHouse
            raise DatabaseError("Code: 210. DB::NetException: Connection refused (NETWORK_ERROR)")

        monkeypatch.setattr(writer, "_any_stored", lookup_fails)
        with pytest.raises(WriteFailed, match="did not complete"):
            writer.submit(accepted([poisoned(0x5)])).result(timeout=30)
        monkeypatch.undo()
        assert writer.submit(accepted(rows(0x6, 2))).result(timeout=30) == WriteResult(2, 0)
    finally:
        writer.close()
    assert store.rows("SELECT count() FROM events")[0][0] == 2


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[Api]:
    with running_api(store, tmp_path) as running:
        running.put_platform("zalo", "vng")
        running.put_platform("mocha", "viettel")
        yield running


def test_a_poisoned_row_is_rejected_alone_beside_other_vendors_rows(api: Api, store: Store) -> None:
    vng, viettel = api.vendor("vng"), api.vendor("viettel")
    poison = event(event_id=str(uuid.uuid4()) + "\n")
    mixed = [event(), poison, event(ts="9999-12-31T23:59:59-23:59"), event(ts="0001-01-01T00:00:00+23:59"),
             event()]
    for content_type in ("application/json", NDJSON):
        for row in mixed:  # new ids each round, but the poisoned one
            row["event_id"] = row["event_id"] if row is poison else str(uuid.uuid4())
        body = orjson.dumps(mixed) if content_type == "application/json" else b"".join(
            orjson.dumps(row) + b"\n" for row in mixed)
        answer = api.client.post("/v1/events", content=body, headers={**vng, "Content-Type": content_type}).json()
        assert answer["accepted"] == 2
        assert [(r["index"], r["reason"], r["detail"].split(":")[0]) for r in answer["rejected"]] == [
            (1, "invalid_field", "event_id"), (2, "future_timestamp", "ts"), (3, "invalid_field", "ts")]
        other = api.post_events(viettel, [event(platform="mocha")]).json()
        assert other == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert store.rows("SELECT platform, count() FROM events GROUP BY platform ORDER BY platform") == [
        ("mocha", 2), ("zalo", 4)]


@pytest.mark.parametrize("error", [
    DatabaseError("Code: 241. DB::Exception: Memory limit (total) exceeded (MEMORY_LIMIT_EXCEEDED)"),
    DatabaseError("Code: 252. DB::Exception: Too many parts (TOO_MANY_PARTS)"),
    RuntimeError("something nobody expected"),
], ids=["memory", "parts", "unexpected"])
def test_a_storage_failure_is_503_with_retry_after(api: Api, store: Store, monkeypatch: pytest.MonkeyPatch,
                                                   error: Exception) -> None:
    vng = api.vendor("vng")
    assert api.post_events(vng, [event()]).json()["accepted"] == 1  # the month's key exists

    def failing(*_: Any, **__: Any) -> None:
        raise error

    with monkeypatch.context() as patch:
        patch.setattr(store, "raw_insert", failing)
        response = api.post_events(vng, [event(), event()])
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "error" in response.json()


def test_rows_refused_as_data_are_422_for_that_request(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    vng = api.vendor("vng")
    writer = api.services.writer
    original = writer._insert_once

    def refusing(token: str, block: Block) -> None:
        if block.table == "events_ingest":
            raise DatabaseError("Code: 376. DB::Exception: Cannot parse uuid (CANNOT_PARSE_UUID)")
        original(token, block)

    monkeypatch.setattr(writer, "_insert_once", refusing)
    response = api.post_events(vng, [event()])
    assert response.status_code == 422
    assert response.json()["error"].startswith("the data store refused this request's rows")
    monkeypatch.undo()  # the service still answers
    assert api.post_events(vng, [event()]).json()["accepted"] == 1
