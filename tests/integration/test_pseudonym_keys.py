"""The key store hands out the keys of many (platform, month)s in one round of queries: a request of a new month
carries many platforms, and a round per key made the first requests of a month wait about 10 ms per key
(docs/decisions/0017-pseudonym-keys-in-one-round.md)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ingest.pseudonymise import KEY_BYTES, KeyStore
from ingest.reasons import Reason, Rejection
from ingest.seal import seal
from queries.store import Store

JANUARY, FEBRUARY, MARCH = date(2022, 1, 1), date(2022, 2, 1), date(2022, 3, 1)
HOUR = 3600.0


def stored_keys(store: Store) -> dict[tuple[str, date], bytes]:
    rows = store.rows("SELECT platform, month, hex(key) FROM pseudonym_keys")
    found: dict[tuple[str, date], bytes] = {}
    for platform, month, key in rows:
        assert (platform, month) not in found, "one candidate per key: no process raced this test"
        found[(platform, month)] = bytes.fromhex(key)
    return found


def counting(store: Store, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every query the store runs from now on, in order."""
    queries: list[str] = []
    rows, command = store.rows, store.command

    def counted_rows(sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        queries.append(sql)
        return rows(sql, parameters)

    def counted_command(sql: str, parameters: dict[str, Any] | None = None,
                        settings: dict[str, Any] | None = None) -> Any:
        queries.append(sql)
        return command(sql, parameters, settings)

    monkeypatch.setattr(store, "rows", counted_rows)
    monkeypatch.setattr(store, "command", counted_command)
    return queries


def test_forty_new_keys_take_the_queries_of_one(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = KeyStore(store, HOUR)
    keys.sealed_before()  # the cached watermark, read once per process
    queries = counting(store, monkeypatch)
    keys.key("p0", JANUARY)
    one = len(queries)
    queries.clear()
    pairs = [(f"p{n}", month) for n in range(1, 21) for month in (JANUARY, FEBRUARY)]
    got = keys.keys(pairs)
    # the watermark, the existing candidates, the insert, the watermark again, the winners
    assert one == 5
    assert len(queries) == 5
    assert sorted(got) == sorted(pairs)
    stored = stored_keys(store)
    assert len(stored) == 41
    assert all(got[pair] == stored[pair] and len(stored[pair]) == KEY_BYTES for pair in pairs)
    assert len(set(stored.values())) == 41  # a random key each


def test_keys_answers_cached_stored_new_and_sealed_pairs_each_by_its_own_state(store: Store) -> None:
    earlier = KeyStore(store, HOUR)
    stored_before = earlier.key("zalo", MARCH)  # stored by another process: loaded, not created again
    seal(store, FEBRUARY)
    keys = KeyStore(store, HOUR)
    cached = keys.key("tiki", MARCH)
    got = keys.keys([("tiki", MARCH), ("zalo", MARCH), ("shopee", MARCH), ("zalo", JANUARY)])
    assert got[("tiki", MARCH)] == cached
    assert got[("zalo", MARCH)] == stored_before
    sealed = got[("zalo", JANUARY)]
    assert isinstance(sealed, Rejection) and sealed.reason == Reason.MONTH_SEALED
    assert sealed.detail == "ts: month 2022-01 is sealed (months before 2022-02 no longer accept events)"
    assert stored_keys(store) == {("zalo", MARCH): stored_before, ("tiki", MARCH): cached,
                                  ("shopee", MARCH): got[("shopee", MARCH)]}


def test_a_seal_during_the_creation_refuses_only_the_months_it_sealed(store: Store,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole seal runs after the creation read the watermark and before its candidates are inserted, so the
    seal's partition drop cannot see them: the creation destroys and refuses the sealed month's candidates and
    keeps those of the open month."""
    keys = KeyStore(store, HOUR)
    keys.sealed_before()
    command = store.command

    def sealing_before_insert(sql: str, parameters: dict[str, Any] | None = None,
                              settings: dict[str, Any] | None = None) -> Any:
        if sql.startswith("INSERT INTO pseudonym_keys"):
            monkeypatch.setattr(store, "command", command)
            seal(store, FEBRUARY)
        return command(sql, parameters, settings)

    monkeypatch.setattr(store, "command", sealing_before_insert)
    got = keys.keys([("zalo", JANUARY), ("tiki", JANUARY), ("zalo", FEBRUARY)])
    for pair in (("zalo", JANUARY), ("tiki", JANUARY)):
        refused = got[pair]
        assert isinstance(refused, Rejection) and refused.reason == Reason.MONTH_SEALED
    assert stored_keys(store) == {("zalo", FEBRUARY): got[("zalo", FEBRUARY)]}
    with pytest.raises(Rejection):
        keys.key("zalo", JANUARY)
