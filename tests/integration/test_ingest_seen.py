"""The stored-id filter (ingest/seen.py): the ids ClickHouse reduces for the fill are the integers Python hashes,
the filter filled from the store holds exactly what adding the ids holds, no stored id is ever missed, and the
writer looks up only what the filter may hold."""

from __future__ import annotations

import random
import uuid
from concurrent.futures import Future
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest

from ingest import seen as seen_module
from ingest.rows import Accepted
from ingest.seen import HASH_MODULUS, SeenFilter
from ingest.write import Writer, WriteResult, _Batch
from queries.store import IntArray, Store, Target
from tests.factories import accepted, running_api

MONTH = date(2022, 4, 1)


def pairs(count: int, seed: int) -> set[tuple[str, int]]:
    rng = random.Random(seed)
    return {(f"app-{rng.randrange(7)}", uuid.UUID(int=rng.getrandbits(128), version=4).int) for _ in range(count)}


def ids_of(pairs: set[tuple[str, int]]) -> list[int]:
    return sorted({event_id for _, event_id in pairs})


def store_pairs(store: Store, stored: set[tuple[str, int]]) -> None:
    store.insert("event_keys", [[platform, event_id] for platform, event_id in sorted(stored)],
                 ["platform", "id128"])


def test_clickhouse_reduces_ids_as_python_hashes_them(store: Store) -> None:
    ids = [0, 1, HASH_MODULUS - 1, HASH_MODULUS, HASH_MODULUS + 1, 2**64 - 1, 2**64, 2**127 + 12345, 2**128 - 1]
    ids += [uuid.UUID(int=random.Random(1).getrandbits(128), version=4).int for _ in range(50)]
    reduced = store.rows("SELECT toUInt64(arrayJoin({ids:Array(UInt128)}) % {m:UInt64})",
                         {"ids": ids, "m": HASH_MODULUS})
    assert [value for (value,) in reduced] == [hash(i) for i in ids]


@pytest.mark.parametrize("page", [seen_module.FILL_PAGE, 500, 37])
def test_the_filter_filled_from_the_store_holds_every_stored_id(store: Store, monkeypatch: pytest.MonkeyPatch,
                                                                page: int) -> None:
    stored = pairs(5_000, seed=2) | {("zalo", 0), ("zalo", 2**128 - 1), ("zalo", HASH_MODULUS)}
    # ids stored for two platforms: a page may end between the two
    stored |= {("other", event_id) for _, event_id in sorted(stored)[::10]}
    store_pairs(store, stored)
    monkeypatch.setattr(seen_module, "FILL_PAGE", page)
    loaded = SeenFilter.load(store)
    assert loaded is not None and loaded.count == len(stored)
    assert loaded.may_hold(ids_of(stored)) == ids_of(stored)
    new = set(ids_of(pairs(20_000, seed=3))) - set(ids_of(stored))
    assert len(loaded.may_hold(sorted(new))) < 0.02 * len(new)  # about 1% false positives


def test_a_page_too_small_for_one_id_stops_the_fill(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store_pairs(store, {("zalo", 5), ("momo", 5), ("zalo", 9)})
    monkeypatch.setattr(seen_module, "FILL_PAGE", 1)
    with pytest.raises(RuntimeError, match="over 1 pairs of one id"):
        SeenFilter.load(store)


def test_no_stored_id_is_missed_and_few_new_ones_pass() -> None:
    seen = SeenFilter(20_000)
    stored, new = pairs(20_000, seed=3), pairs(20_000, seed=4)
    seen.add(ids_of(stored))
    assert seen.may_hold(ids_of(stored)) == ids_of(stored)
    assert len(seen.may_hold(ids_of(new - stored))) < 0.02 * len(new)  # 1% at capacity


def test_past_its_capacity_the_filter_passes_every_pair() -> None:
    seen = SeenFilter(100)
    seen.add(ids_of(pairs(100, seed=5)))
    assert not seen.full
    seen.add(ids_of(pairs(1, seed=6)))
    new = ids_of(pairs(50, seed=7))
    assert seen.full and seen.may_hold(new) == new


def test_the_writer_looks_up_only_what_the_filter_may_hold(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    before = pairs(300, seed=8)
    store_pairs(store, before)
    writer = Writer(store)
    looked_up: list[int] = []
    lookup = writer._stored_ids

    def counting(keys: set[int], ids: IntArray) -> set[int]:
        looked_up.append(ids.text.count(",") + 1)
        return lookup(keys, ids)

    monkeypatch.setattr(writer, "_stored_ids", counting)
    try:
        writer.use_filter(SeenFilter.load(store))
        old = sorted(before)[:3]
        new = sorted(pairs(2_000, seed=9) - before)
        rows = [(platform, event_id, b"[]", MONTH, "lt_1h") for platform, event_id in [*old, *new]]
        # three pairs stored before the filter was filled come back as duplicates
        group = writer._group([_Batch.of(accepted(rows), None, Future())])
        assert writer._prepare(group).results == [WriteResult(2_000, 3)]
        assert sum(looked_up) < 3 + 0.02 * 2_000  # the three, and the filter's false positives
        # the group's ids are in the filter as soon as it is prepared, before its insert
        assert writer.seen is not None and writer.seen.may_hold(ids_of(set(new))) == ids_of(set(new))
    finally:
        writer.close()


def test_the_filter_is_set_before_the_first_request(store: Store) -> None:
    writer = Writer(store)
    try:
        writer.submit(Accepted())
        with pytest.raises(RuntimeError, match="before the writer takes requests"):
            writer.use_filter(SeenFilter(10))
    finally:
        writer.close()


def test_the_service_uses_it_on_the_embedded_engine(store: Store, tmp_path: Path) -> None:
    with running_api(store, tmp_path) as api:
        assert isinstance(api.services.writer.seen, SeenFilter)


def test_there_is_no_filter_on_a_server() -> None:
    """Several API processes may write to a server: none of them sees every insert, so none may skip a lookup."""
    class Unreachable:  # a server store that fails any query: the answer must come from the target alone
        target = Target("http", "http://vnmeter:secret@clickhouse:8123", "vnmeter", None)

        def __getattr__(self, name: str) -> Any:
            raise AssertionError(f"SeenFilter.load used the store's {name} on a server")

    assert SeenFilter.load(cast(Store, Unreachable())) is None
