"""The writer's dedup lookup: which of a group's (platform, event id) pairs are already stored."""

from __future__ import annotations

from concurrent.futures import Future
from datetime import date

import pytest

from ingest.limits import MAX_EVENTS_PER_REQUEST
from ingest.write import (
    GROUP_MAX_ROWS,
    LOOKUP_MAX_IDS,
    STORED_IDS_SQL,
    Writer,
    WriteResult,
    _Batch,
    event_key,
    lookup_chunks,
)
from queries.store import IntArray, Store
from tests.factories import accepted


def test_finds_exactly_the_stored_pairs(store: Store) -> None:
    big = (1 << 127) + 5  # the top bit set: bound and read back as an unsigned 128-bit value
    store.insert("event_keys", [["zalo", 1], ["zalo", 2], ["zalo", big], ["momo", 3]], ["platform", "id128"])
    writer = Writer(store)
    try:
        keys = {event_key(*pair) for pair in [("zalo", 2), ("zalo", 3), ("zalo", big), ("zalo", 7), ("momo", 1)]}
        # 3 is stored for momo only, 1 for zalo only, 7 nowhere; ids come as the requests' pieces, 2 repeated
        pieces = IntArray(["2,3", f"{big},7,2", "1"])
        assert writer._stored_ids(keys, pieces) == {event_key("zalo", 2), event_key("zalo", big)}
        assert writer._stored_ids({event_key("momo", 3)}, IntArray(["3"])) == {event_key("momo", 3)}
        assert len({event_key("zalo", 2), event_key("momo", 2), event_key("zalo", big)}) == 3  # exact pairs
    finally:
        writer.close()


def test_the_lookup_parses_as_clickhouse_sql(store: Store) -> None:
    formatted = store.command("SELECT formatQuery({sql:String})", {"sql": STORED_IDS_SQL})
    assert " ".join(formatted.replace("\\n", " ").split()) == (
        "SELECT platform, id128 FROM event_keys WHERE id128 IN ({ids:Array(UInt128)})")


def batch(platform: str, ids: list[int]) -> _Batch:
    return _Batch.of(accepted([(platform, i, b"[]", date(2022, 4, 1), "lt_1h") for i in ids]), None, Future())


def test_a_group_is_looked_up_in_runs_of_whole_batches() -> None:
    a, b, c, d = batch("zalo", [1, 2]), batch("zalo", [3]), batch("zalo", [4, 5, 6, 7]), batch("zalo", [8, 9])
    assert lookup_chunks([a, b, c, d], 3) == [[a, b], [c], [d]]  # c alone is over the limit: a run of its own
    assert lookup_chunks([a, b, c, d], 10) == [[a, b, c, d]]
    assert lookup_chunks([], 3) == []


def test_no_single_lookup_exceeds_the_limit_the_engine_handles() -> None:
    """The largest group (GROUP_MAX_ROWS, plus one request of MAX_EVENTS_PER_REQUEST less one) splits into
    lookups of at most LOOKUP_MAX_IDS + MAX_EVENTS_PER_REQUEST ids, under the 65,000 measured to work."""
    sizes = [MAX_EVENTS_PER_REQUEST] * (GROUP_MAX_ROWS // MAX_EVENTS_PER_REQUEST) + [MAX_EVENTS_PER_REQUEST - 1]
    row = ("zalo", 1, b"[]", date(2022, 4, 1), "lt_1h")
    group = [_Batch.of(accepted([row] * size), None, Future()) for size in sizes]
    assert max(sum(len(b) for b in chunk) for chunk in lookup_chunks(group, LOOKUP_MAX_IDS)) <= 65_000


def test_stored_events_are_found_in_every_run_of_a_group(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store.insert("event_keys", [["zalo", 2], ["zalo", 5], ["momo", 9]], ["platform", "id128"])
    monkeypatch.setattr("ingest.write.LOOKUP_MAX_IDS", 2)  # three lookups for the group below
    writer = Writer(store)
    try:
        group = [batch("zalo", [1, 2]), batch("zalo", [3, 5]), batch("momo", [9, 10])]
        prepared = writer._prepare(writer._group(group))
        assert prepared.results == [WriteResult(1, 1), WriteResult(1, 1), WriteResult(1, 1)]
    finally:
        writer.close()
