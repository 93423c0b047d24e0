"""Sealing against concurrent key creation: once a seal of a month has begun, no process (whatever its
caches say) can create a pseudonym key for that month, and the seal answers the true sealed range.

Each API process has its own `KeyStore` with its own caches; the tests stand for several processes with
several KeyStores (and Store connections) on one database, and force the interleavings with hooks on the
store calls."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ingest.pseudonymise import KeyStore
from ingest.reasons import Reason, Rejection
from ingest.seal import seal, sealed_before
from queries.store import Store, Target
from tests.factories import ADMIN, Api, running_api

JANUARY, FEBRUARY, MARCH = date(2022, 1, 1), date(2022, 2, 1), date(2022, 3, 1)
HOUR = 3600.0  # a cache that would stay stale for the whole test


@pytest.fixture
def other_store(store: Store, chdb_dir: Path) -> Iterator[Store]:
    """A second connection to the test database, as another API process would have."""
    opened = Store(Target("chdb", f"chdb://{chdb_dir}", store.database, chdb_dir))
    yield opened
    opened.close()


def key_months(store: Store) -> list[tuple[str, date]]:
    return [(p, m) for p, m in store.rows("SELECT platform, month FROM pseudonym_keys ORDER BY platform, month")]


def test_a_process_with_a_stale_cache_cannot_create_a_key_for_a_sealed_month(store: Store,
                                                                            other_store: Store) -> None:
    api_process = KeyStore(other_store, HOUR)
    api_process.key("zalo", MARCH)  # its cache now says: nothing is sealed, for an hour
    assert api_process.sealed_before() == date.min

    assert seal(store, FEBRUARY).sealed_before == FEBRUARY  # an admin, through another process

    with pytest.raises(Rejection) as refused:
        api_process.key("zingmp3", JANUARY)
    assert refused.value.reason == Reason.MONTH_SEALED
    assert refused.value.detail == "ts: month 2022-01 is sealed (months before 2022-02 no longer accept events)"
    assert key_months(store) == [("zalo", MARCH)]


def test_a_key_inserted_while_its_month_is_being_sealed_does_not_survive(store: Store, other_store: Store,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole seal runs after the creating process checked the month and before its key is inserted, so
    the seal's partition drop cannot see that key: the creation itself must notice and undo it."""
    creator = KeyStore(other_store, HOUR)
    creator.key("zalo", MARCH)
    insert_key = other_store.command
    seals: list[Any] = []

    def command(sql: str, parameters: dict[str, Any] | None = None, settings: dict[str, Any] | None = None) -> Any:
        if sql.startswith("INSERT INTO pseudonym_keys") and parameters and JANUARY in parameters["months"] \
                and not seals:
            seals.append(seal(store, FEBRUARY))
        return insert_key(sql, parameters, settings)

    monkeypatch.setattr(other_store, "command", command)
    with pytest.raises(Rejection) as refused:
        creator.key("zalo", JANUARY)
    assert refused.value.reason == Reason.MONTH_SEALED
    assert len(seals) == 1
    assert key_months(store) == [("zalo", MARCH)]
    assert store.rows("SELECT count() FROM pseudonym_keys WHERE month < {m:Date}", {"m": FEBRUARY}) == [(0,)]


def test_keys_created_and_seals_made_from_threads_leave_no_key_of_a_sealed_month(store: Store,
                                                                                other_store: Store) -> None:
    """Many creations for the months being sealed, from a process whose cache says nothing is sealed,
    while another process seals: every key of a sealed month is gone at the end."""
    creator = KeyStore(other_store, HOUR)
    creator.key("zalo", MARCH)
    start = threading.Barrier(5)
    refused: list[str] = []

    def create(platform: str) -> None:
        start.wait()
        for month in (JANUARY, FEBRUARY):
            try:
                creator.key(platform, month)
            except Rejection as rejection:
                refused.append(rejection.reason)

    def sealing() -> None:
        start.wait()
        seal(store, MARCH)

    threads = [threading.Thread(target=create, args=(f"p{n}",)) for n in range(4)]
    threads.append(threading.Thread(target=sealing))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(refused) <= {Reason.MONTH_SEALED}
    assert store.rows("SELECT count() FROM pseudonym_keys WHERE month < {m:Date}", {"m": MARCH}) == [(0,)]
    with pytest.raises(Rejection):
        creator.key("p9", FEBRUARY)  # a key not in its cache: checked against the seal, not the cache


def test_two_seals_at_once_never_move_the_watermark_back(store: Store, other_store: Store,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """A seal of February reads the watermark, then a seal of March runs to its end, then February's
    seal records its month: the watermark stays March, after merges too."""
    read = store.rows
    inner: list[Any] = []

    def rows(sql: str, parameters: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        answer = read(sql, parameters)
        if "service_state" in sql and not inner:
            inner.append(seal(other_store, MARCH))
        return answer

    monkeypatch.setattr(store, "rows", rows)
    february = seal(store, FEBRUARY)
    assert inner[0].sealed_before == MARCH
    assert february.requested == FEBRUARY
    monkeypatch.undo()
    assert sealed_before(store) == MARCH
    store.command("OPTIMIZE TABLE service_state FINAL")
    assert sealed_before(store) == MARCH
    assert KeyStore(store).sealed_before() == MARCH


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[Api]:
    with running_api(store, tmp_path) as running:
        running.put_platform("zalo", "vng")
        yield running


def test_sealing_an_earlier_month_answers_the_true_sealed_range(api: Api, store: Store) -> None:
    api.services.pseudonym_keys.key("zalo", JANUARY)
    api.services.pseudonym_keys.key("zalo", FEBRUARY)
    first = api.client.post("/v1/admin/seal", json={"before": "2022-03"}, headers=ADMIN)
    assert first.status_code == 200
    assert first.json() == {"sealed_before": "2022-03", "requested": "2022-03",
                            "destroyed_months": ["2022-01", "2022-02"]}
    earlier = api.client.post("/v1/admin/seal", json={"before": "2022-01"}, headers=ADMIN)
    assert earlier.status_code == 200
    assert earlier.json() == {"sealed_before": "2022-03", "requested": "2022-01", "destroyed_months": []}
    assert sealed_before(store) == MARCH


def test_a_watermark_reload_and_a_new_key_at_once_do_not_deadlock(store: Store,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Reloading the cached watermark takes its cache's lock and then the key store's; a new key must not take
    them in the other order (a demo run hung so: one thread reloading, the other creating a key)."""
    import ingest.pseudonymise as pseudonymise

    keys = KeyStore(store, ttl_s=0)  # every read of the watermark reloads it
    entered, release = threading.Event(), threading.Event()
    real = pseudonymise.sealed_before

    def held_once(opened: Store) -> date:
        if not entered.is_set():
            entered.set()
            release.wait(30)  # holding the watermark cache's lock, before the key store's
        return real(opened)

    monkeypatch.setattr(pseudonymise, "sealed_before", held_once)
    done: dict[str, Any] = {}
    reload = threading.Thread(target=lambda: done.setdefault("watermark", keys.sealed_before()), daemon=True)
    create = threading.Thread(target=lambda: done.setdefault("key", keys.key("zalo", date(2022, 3, 1))), daemon=True)
    reload.start()
    assert entered.wait(30)
    create.start()
    create.join(1.0)  # the new key waits for the watermark (and, before the fix, held the key store's lock)
    release.set()
    reload.join(30)
    create.join(30)
    assert not reload.is_alive() and not create.is_alive()
    assert done["watermark"] == date.min
    assert len(done["key"]) == 32
