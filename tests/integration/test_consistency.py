"""`queries.consistency`: rollups compared with the raw events month by month, and rebuilt where they differ.

Events are stored through the writer; the expected figures are computed here in Python from the events
themselves, never by the code under test.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from ingest.write import Writer
from queries.consistency import differences, repair, rollups
from queries.store import Store
from tests.factories import accepted, stored_row

MARCH, APRIL = date(2022, 3, 1), date(2022, 4, 1)
EPOCH = date(1970, 1, 1)


def events(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        day = MARCH + timedelta(days=rng.randrange(61))  # March and April
        out.append({"platform": rng.choice(["zalo", "momo"]), "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                    "user": f"{rng.randrange(40):032x}", "day": day, "duration": rng.randrange(600),
                    "bytes": rng.randrange(10**6), "kind": "install" if i % 7 == 0 else "session",
                    "os": rng.choice(["ios", "android"]), "index": i})
    return out


def store_events(store: Store, rows: list[dict]) -> None:
    writer = Writer(store)
    try:
        writer.write(accepted([stored_row(e["platform"], e["id"], e["user"],
                                          (e["day"] - EPOCH).days * 86_400_000 + 3_600_000, (e["day"] - EPOCH).days,
                                          e["duration"], e["bytes"], e["kind"], os=e["os"]) for e in rows]))
    finally:
        writer.close()


def daily(rows: list[dict]) -> dict[tuple[str, date], tuple[int, int, int, int, int]]:
    """(platform, day) -> (users, sessions, installs, session seconds, session bytes), counted here."""
    users: dict[tuple[str, date], set[str]] = defaultdict(set)
    sums: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for e in rows:
        key = (e["platform"], e["day"])
        if e["kind"] == "session":
            users[key].add(e["user"])
            sums[key][0] += 1
            sums[key][2] += e["duration"]
            sums[key][3] += e["bytes"]
        else:
            sums[key][1] += 1
    return {key: (len(users[key]), *value) for key, value in sums.items()}  # type: ignore[misc]


def stored_daily(store: Store) -> dict[tuple[str, date], tuple[int, ...]]:
    return {(p, d): tuple(int(v) for v in rest) for p, d, *rest in store.rows(
        "SELECT platform, day, uniqExactMerge(users), sum(sessions), sum(installs), sum(duration_s), sum(bytes) "
        "FROM platform_daily GROUP BY platform, day")}


@pytest.fixture
def loaded(store: Store) -> Iterator[tuple[Store, list[dict]]]:
    rows = events(600, seed=1)
    store_events(store, rows)
    yield store, rows


def test_the_rollups_are_the_views_on_events(store: Store) -> None:
    assert [r.table for r in rollups(store)] == ["platform_daily", "platform_monthly", "platform_monthly_dims"]


def test_rollups_fed_by_their_views_agree_with_the_events(loaded: tuple[Store, list[dict]]) -> None:
    store, rows = loaded
    assert stored_daily(store) == daily(rows)
    assert differences(store, [MARCH, APRIL]) == []


def test_a_lost_block_is_found_and_rebuilt(loaded: tuple[Store, list[dict]]) -> None:
    store, rows = loaded
    lost = [e for e in rows if e["platform"] == "zalo" and e["day"].month == 4 and e["kind"] == "session"]
    # a crash took part of April's rollups: the platform_daily and platform_monthly rows of zalo's sessions
    for table in ("platform_daily", "platform_monthly", "platform_monthly_dims"):
        column = "day" if table == "platform_daily" else "month"
        store.command(f"ALTER TABLE {table} DELETE WHERE platform = 'zalo' AND toStartOfMonth({column}) = "
                      "'2022-04-01'", settings={"mutations_sync": 2})
    found = differences(store, [MARCH, APRIL])
    assert {d.table for d in found} == {"platform_daily", "platform_monthly", "platform_monthly_dims"}
    sessions = {d for d in found if d.table == "platform_monthly" and d.column == "sessions"}
    assert [(d.key, d.stored, d.expected) for d in sessions] == [(("zalo", APRIL), 0, len(lost))]
    assert differences(store, [MARCH]) == []  # March was not touched

    done = repair(store, [MARCH, APRIL])
    assert done == ["platform_daily: rebuilt 2022-04", "platform_monthly: rebuilt 2022-04",
                    "platform_monthly_dims: rebuilt 2022-04"]
    assert differences(store, [MARCH, APRIL]) == []
    assert stored_daily(store) == daily(rows)
    monthly_users = {(p, m): int(n) for p, m, n in store.rows(
        "SELECT platform, month, uniqExactMerge(users) FROM platform_monthly GROUP BY platform, month")}
    assert monthly_users[("zalo", APRIL)] == len({e["user"] for e in lost})
    assert monthly_users[("momo", MARCH)] == len({e["user"] for e in rows if e["platform"] == "momo"
                                                  and e["day"].month == 3 and e["kind"] == "session"})


def test_repeated_events_and_a_short_dedup_index_are_repaired(loaded: tuple[Store, list[dict]]) -> None:
    store, rows = loaded
    again = rows[:5]
    # the same five events stored a second time under another token (a dedup index that missed them)
    store.command("ALTER TABLE event_keys DELETE WHERE id128 IN {ids:Array(UInt128)}",
                  {"ids": [e["id"].int for e in again]}, settings={"mutations_sync": 2})
    store_events(store, again)
    found = differences(store, [MARCH, APRIL])
    repeats = {(d.key, d.stored) for d in found if d.table == "events"}
    expected: dict[tuple[str, date], int] = defaultdict(int)
    for e in again:
        expected[(e["platform"], e["day"].replace(day=1))] += 1
    assert repeats == set(expected.items())
    assert not [d for d in found if d.table == "event_keys"]  # the second insert put them back

    repair(store, [MARCH, APRIL])
    assert differences(store, [MARCH, APRIL]) == []
    assert store.rows("SELECT count(), uniqExact(platform, event_id) FROM events")[0] == (len(rows), len(rows))
    assert stored_daily(store) == daily(rows)


def test_events_missing_from_the_dedup_index_are_added(loaded: tuple[Store, list[dict]]) -> None:
    store, rows = loaded
    gone = rows[10:13]
    store.command("ALTER TABLE event_keys DELETE WHERE id128 IN {ids:Array(UInt128)}",
                  {"ids": [e["id"].int for e in gone]}, settings={"mutations_sync": 2})
    found = differences(store, [MARCH, APRIL])
    assert sum(d.stored for d in found if d.table == "event_keys") == 3
    assert repair(store, [MARCH, APRIL]) == ["event_keys: added the stored events it lacked"]
    assert differences(store, [MARCH, APRIL]) == []
    assert store.rows("SELECT count() FROM event_keys")[0][0] == len(rows)
