"""Exactly once: the same events posted once cleanly, and again three times (one batch, overlapping
uneven splits, concurrent clients) leave the same stored figures, which also match a plain Python
computation over the event list. Also: pseudonyms per platform and Vietnam month, and the time zone
rule for days."""

from __future__ import annotations

import random
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from queries.store import Store
from tests.factories import Api, event, fresh_store, running_api

VN = ZoneInfo("Asia/Ho_Chi_Minh")
VENDORS = {"zalo": "vng", "zingmp3": "vng", "mocha": "viettel"}
EVENT_COUNT = 3_000
CLIENTS = 8
# instants where the Vietnam calendar day (and month) changes: 17:00 UTC is midnight in Vietnam
MONTH_EDGES = [datetime(2021, 12, 31, 17, tzinfo=UTC), datetime(2022, 1, 31, 17, tzinfo=UTC),
               datetime(2022, 2, 28, 17, tzinfo=UTC), datetime(2022, 3, 31, 17, tzinfo=UTC)]
OFFSETS = [UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-5)),
           timezone(timedelta(hours=5, minutes=30))]


def rfc3339(instant: datetime, offset: timezone) -> str:
    local = instant.astimezone(offset)
    suffix = "Z" if offset is UTC else local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]
    return f"{local:%Y-%m-%dT%H:%M:%S}.{local.microsecond // 1000:03d}{suffix}"


def generate(count: int = EVENT_COUNT, seed: int = 20220331) -> list[dict[str, Any]]:
    """Events of 3 platforms (2 vendors) from late December 2021 to April 2022, a third of them within
    two hours of a Vietnam month end, in several UTC offsets, about one in ten an install."""
    rng = random.Random(seed)
    start = datetime(2021, 12, 31, tzinfo=UTC)
    span_ms = int((datetime(2022, 4, 30, tzinfo=UTC) - start).total_seconds() * 1000)
    rows = []
    for n in range(count):
        if n % 3 == 0:
            instant = rng.choice(MONTH_EDGES) + timedelta(milliseconds=rng.randint(-7_200_000, 7_200_000))
        else:
            instant = start + timedelta(milliseconds=rng.randrange(span_ms))
        if n % 97 == 0:  # the last and first millisecond of a Vietnam month
            instant = rng.choice(MONTH_EDGES) - timedelta(milliseconds=n % 2)
        install = rng.random() < 0.1
        country = rng.choice(["VN"] * 8 + ["US", "JP"])
        rows.append(event(
            platform=rng.choice(list(VENDORS)),
            user=f"user-{min(rng.randrange(150), rng.randrange(150))}",  # skewed: some users are busy
            type="install" if install else "session",
            ts=rfc3339(instant, rng.choice(OFFSETS)),
            duration_s=0 if install else rng.randint(0, 7_200),
            bytes=0 if install else rng.randint(0, 5_000_000),
            country=country,
            province=rng.choice(["VN-HN", "VN-SG", "VN-26", None]) if country == "VN" else None,
            os=rng.choice(["android", "ios", "web", "other", None]),
        ))
    return rows


def vn_day(row: dict[str, Any]) -> date:
    return datetime.fromisoformat(row["ts"].replace("Z", "+00:00")).astimezone(VN).date()


@dataclass(frozen=True)
class Figures:
    rows: int
    distinct_ids: int
    duration_s: int
    bytes: int
    users_per_platform_month: dict[tuple[str, date], int]
    daily: dict[tuple[str, date], tuple[int, int, int, int]]  # sessions, installs, session seconds, session bytes
    session_users_per_platform_month: dict[tuple[str, date], int]


def expected_figures(rows: Sequence[dict[str, Any]]) -> Figures:
    """What must be stored, computed in plain Python from the raw events (users are the raw ids here)."""
    distinct = {(r["platform"], r["event_id"]): r for r in rows}
    users: dict[tuple[str, date], set[str]] = defaultdict(set)
    session_users: dict[tuple[str, date], set[str]] = defaultdict(set)
    daily: dict[tuple[str, date], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in distinct.values():
        day = vn_day(row)
        platform_month = (row["platform"], day.replace(day=1))
        users[platform_month].add(row["user"])
        totals = daily[(row["platform"], day)]
        if row["type"] == "session":
            session_users[platform_month].add(row["user"])
            totals[0] += 1
            totals[2] += row["duration_s"]
            totals[3] += row["bytes"]
        else:
            totals[1] += 1
    return Figures(
        rows=len(distinct), distinct_ids=len(distinct),
        duration_s=sum(r["duration_s"] for r in distinct.values()),
        bytes=sum(r["bytes"] for r in distinct.values()),
        users_per_platform_month={k: len(v) for k, v in users.items()},
        daily={k: (v[0], v[1], v[2], v[3]) for k, v in daily.items()},
        session_users_per_platform_month={k: len(v) for k, v in session_users.items()},
    )


def stored_figures(store: Store) -> Figures:
    """The same figures read back from the events table and the rollups."""
    rows, distinct_ids, duration, size = store.rows(
        "SELECT count(), uniqExact(platform, event_id), sum(duration_s), sum(bytes) FROM events")[0]
    users = store.rows("SELECT platform, toStartOfMonth(day) AS month, uniqExact(user_pseudo) FROM events "
                       "GROUP BY platform, month")
    daily = store.rows("SELECT platform, day, sum(sessions), sum(installs), sum(duration_s), sum(bytes) "
                       "FROM platform_daily GROUP BY platform, day")
    monthly = store.rows("SELECT platform, month, uniqExactMerge(users) FROM platform_monthly "
                         "GROUP BY platform, month")
    return Figures(
        rows=rows, distinct_ids=distinct_ids, duration_s=duration, bytes=size,
        users_per_platform_month={(p, m): n for p, m, n in users},
        daily={(p, d): (s, i, t, b) for p, d, s, i, t, b in daily},
        session_users_per_platform_month={(p, m): n for p, m, n in monthly if n > 0},
    )


def set_up(api: Api) -> dict[str, dict[str, str]]:
    """Registers the platforms; returns vendor key headers by platform."""
    headers = {vendor: api.vendor(vendor) for vendor in sorted(set(VENDORS.values()))}
    for platform, vendor in VENDORS.items():
        api.put_platform(platform, vendor)
    return {platform: headers[vendor] for platform, vendor in VENDORS.items()}


def post_batch(client: TestClient, headers: dict[str, dict[str, str]], rows: Sequence[dict[str, Any]],
               gzipped: bool = True) -> tuple[int, int]:
    """Post rows, one request per vendor (a key posts only its own platforms); returns (accepted, duplicates)."""
    accepted = duplicates = 0
    for vendor in sorted(set(VENDORS.values())):
        mine = [r for r in rows if VENDORS[r["platform"]] == vendor]
        if not mine:
            continue
        response = Api(client).post_events(headers[mine[0]["platform"]], mine, gzipped=gzipped)
        assert response.status_code == 200, response.text
        answer = response.json()
        assert answer["rejected"] == []
        accepted += answer["accepted"]
        duplicates += answer["duplicates"]
    return accepted, duplicates


def uneven_overlapping_chunks(rows: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """7 chunks of uneven size; each also takes the first 40 rows of the next, and the fourth repeats a row."""
    cuts = [0, 13, 420, 421, 1_337, 2_000, 2_950, len(rows)]
    chunks = [list(rows[a:b + 40]) for a, b in zip(cuts, cuts[1:], strict=False)]
    chunks[3].append(chunks[3][0])
    assert len(chunks) == 7
    return chunks


def post_concurrently(api: Api, headers: dict[str, dict[str, str]], rows: Sequence[dict[str, Any]]
                      ) -> tuple[int, int, int]:
    """CLIENTS threads, each with its own client, each posting every row in its own order and batch size.
    Returns (accepted, duplicates, rows posted) summed over all clients."""
    totals: list[tuple[int, int, int]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(CLIENTS)
    lock = threading.Lock()

    def client_run(number: int) -> None:
        try:
            mine = list(rows)
            random.Random(number).shuffle(mine)
            size = 250 + 111 * number
            client = TestClient(api.client.app)
            start.wait()
            accepted = duplicates = 0
            for offset in range(0, len(mine), size):
                got = post_batch(client, headers, mine[offset:offset + size], gzipped=number % 2 == 0)
                accepted += got[0]
                duplicates += got[1]
            client.close()
            with lock:
                totals.append((accepted, duplicates, len(mine)))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=client_run, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert not errors, errors
    assert len(totals) == CLIENTS
    return sum(t[0] for t in totals), sum(t[1] for t in totals), sum(t[2] for t in totals)


def test_generated_events_cover_the_edges() -> None:
    rows = generate()
    assert len({(r["platform"], r["event_id"]) for r in rows}) == EVENT_COUNT
    months = {vn_day(r).replace(day=1) for r in rows}
    assert months == {date(2021, 12, 1), date(2022, 1, 1), date(2022, 2, 1), date(2022, 3, 1), date(2022, 4, 1)}
    assert {r["type"] for r in rows} == {"session", "install"}
    assert {r["ts"][-6:] for r in rows} >= {"+07:00", "-05:00", "+05:30"}
    assert any(r["ts"].endswith("Z") for r in rows)
    instants = {datetime.fromisoformat(r["ts"].replace("Z", "+00:00")) for r in rows}
    assert any(edge in instants and edge - timedelta(milliseconds=1) in instants for edge in MONTH_EDGES)


def test_same_events_three_ways_store_the_same_as_one_clean_post(store: Store, chdb_dir: Path,
                                                                 tmp_path: Path) -> None:
    rows = generate()
    expected = expected_figures(rows)
    assert expected.rows == EVENT_COUNT

    # (a) once, cleanly
    with running_api(store, tmp_path / "a") as api:
        headers = set_up(api)
        assert post_batch(api.client, headers, rows) == (EVENT_COUNT, 0)
    clean = stored_figures(store)
    assert clean == expected

    # (b) a second database: one batch, then overlapping uneven splits, then concurrent clients
    with fresh_store(chdb_dir) as other, running_api(other, tmp_path / "b") as api:
        headers = set_up(api)
        posted = accepted = duplicates = 0

        got = post_batch(api.client, headers, rows)
        assert got == (EVENT_COUNT, 0)
        posted, accepted, duplicates = posted + EVENT_COUNT, accepted + got[0], duplicates + got[1]

        for chunk in uneven_overlapping_chunks(rows):
            got = post_batch(api.client, headers, chunk, gzipped=False)
            assert got == (0, len(chunk))
            posted, accepted, duplicates = posted + len(chunk), accepted + got[0], duplicates + got[1]

        got3 = post_concurrently(api, headers, rows)
        assert got3 == (0, CLIENTS * EVENT_COUNT, CLIENTS * EVENT_COUNT)
        posted, accepted, duplicates = posted + got3[2], accepted + got3[0], duplicates + got3[1]

        assert accepted == EVENT_COUNT
        assert duplicates == posted - EVENT_COUNT
        assert stored_figures(other) == clean == expected


def test_concurrent_first_posts_store_each_event_once(store: Store, tmp_path: Path) -> None:
    rows = generate(seed=7)
    expected = expected_figures(rows)
    with running_api(store, tmp_path) as api:
        headers = set_up(api)
        accepted, duplicates, posted = post_concurrently(api, headers, rows)
        chunk_answers = [post_batch(api.client, headers, chunk) for chunk in uneven_overlapping_chunks(rows)]
    assert accepted == EVENT_COUNT
    assert duplicates == posted - EVENT_COUNT == (CLIENTS - 1) * EVENT_COUNT
    assert sum(a for a, _ in chunk_answers) == 0
    assert stored_figures(store) == expected


def test_overlapping_splits_first_count_each_event_once(store: Store, tmp_path: Path) -> None:
    rows = generate(seed=11)
    chunks = uneven_overlapping_chunks(rows)
    with running_api(store, tmp_path) as api:
        headers = set_up(api)
        answers = [post_batch(api.client, headers, chunk, gzipped=False) for chunk in chunks]
    seen: set[str] = set()
    for chunk, answer in zip(chunks, answers, strict=True):
        fresh = len({r["event_id"] for r in chunk} - seen)
        seen |= {r["event_id"] for r in chunk}
        assert answer == (fresh, len(chunk) - fresh)
    assert sum(a for a, _ in answers) == EVENT_COUNT
    assert stored_figures(store) == expected_figures(rows)


def test_retries_later_and_case_of_ids_change_nothing(store: Store, tmp_path: Path) -> None:
    rows = [event(duration_s=n, bytes=10 * n) for n in range(1, 11)]
    with running_api(store, tmp_path / "first") as api:
        headers = api.vendor("vng")
        api.put_platform("zalo", "vng")
        assert api.post_events(headers, rows).json() == {"accepted": 10, "duplicates": 0, "rejected": []}
    # a new process (empty caches) on the same data, days later: the store, not memory, knows the ids
    shouted = [{**r, "event_id": r["event_id"].upper()} for r in rows[:5]]
    with running_api(store, tmp_path / "second") as api:
        headers = api.vendor("vng")
        assert api.post_events(headers, rows, gzipped=True).json() == {
            "accepted": 0, "duplicates": 10, "rejected": []}
        assert api.post_events(headers, shouted).json() == {"accepted": 0, "duplicates": 5, "rejected": []}
    # durations 1..10 sum to 55, bytes 10..100 sum to 550
    assert store.rows("SELECT count(), sum(duration_s), sum(bytes) FROM events") == [(10, 55, 550)]


def test_first_copy_wins_when_a_batch_repeats_an_id_with_other_values(store: Store, tmp_path: Path) -> None:
    first = event(duration_s=100)
    second = {**first, "duration_s": 999, "user": "someone-else"}
    with running_api(store, tmp_path) as api:
        headers = api.vendor("vng")
        api.put_platform("zalo", "vng")
        assert api.post_events(headers, [first, second]).json() == {"accepted": 1, "duplicates": 1, "rejected": []}
    assert store.rows("SELECT count(), sum(duration_s) FROM events") == [(1, 100)]


# -- pseudonyms ------------------------------------------------------------------------------------
def test_pseudonyms_per_platform_and_vietnam_month(store: Store, tmp_path: Path) -> None:
    named = {
        "alice-zalo-jan": event(user="alice", ts="2022-01-05T09:00:00+07:00"),
        "alice-zalo-jan-last-second": event(user="alice", ts="2022-01-31T16:59:59Z"),  # 23:59:59 31 Jan in VN
        "alice-zalo-feb-first-second": event(user="alice", ts="2022-01-31T17:00:00Z"),  # 00:00 1 Feb in VN
        "alice-zingmp3-jan": event(user="alice", platform="zingmp3", ts="2022-01-05T09:00:00+07:00"),
        "bob-zalo-jan": event(user="bob", ts="2022-01-05T09:00:00+07:00"),
    }
    mocha = event(user="alice", platform="mocha", ts="2022-01-05T09:00:00+07:00")
    with running_api(store, tmp_path / "first") as api:
        api.put_platform("zalo", "vng")
        api.put_platform("zingmp3", "vng")
        api.put_platform("mocha", "viettel")
        assert api.post_events(api.vendor("vng"), list(named.values())).json()["accepted"] == 5
        assert api.post_events(api.vendor("viettel"), [mocha]).json()["accepted"] == 1
    # after a restart the month's key is read back from the key store: same user, same pseudonym
    later = event(user="alice", ts="2022-01-20T12:00:00+07:00")
    with running_api(store, tmp_path / "second") as api:
        assert api.post_events(api.vendor("vng"), [later]).json()["accepted"] == 1
    named["alice-mocha-jan"] = mocha
    named["alice-zalo-jan-after-restart"] = later
    by_id = {str(event_id): pseudo for event_id, pseudo in store.rows("SELECT event_id, user_pseudo FROM events")}
    pseudo = {name: by_id[row["event_id"]] for name, row in named.items()}

    assert all(isinstance(p, bytes) and len(p) == 16 for p in pseudo.values())
    assert pseudo["alice-zalo-jan"] == pseudo["alice-zalo-jan-last-second"] == pseudo["alice-zalo-jan-after-restart"]
    others = ["alice-zalo-feb-first-second", "alice-zingmp3-jan", "alice-mocha-jan", "bob-zalo-jan"]
    assert len({pseudo["alice-zalo-jan"], *(pseudo[name] for name in others)}) == 5


# -- time zone -------------------------------------------------------------------------------------
def test_days_are_calendar_days_in_vietnam(store: Store, tmp_path: Path) -> None:
    cases = {
        "2022-03-31T17:30:00Z": date(2022, 4, 1),
        "2022-03-31T16:59:59Z": date(2022, 3, 31),
        "2022-04-01T00:30:00+07:00": date(2022, 4, 1),
        "2022-03-31T12:30:00-05:00": date(2022, 4, 1),  # 17:30 UTC
        "2022-03-31T23:59:59.999+07:00": date(2022, 3, 31),
    }
    rows = {ts: event(ts=ts) for ts in cases}
    with running_api(store, tmp_path) as api:
        api.put_platform("zalo", "vng")
        assert api.post_events(api.vendor("vng"), list(rows.values())).json()["accepted"] == len(cases)
    stored = {str(event_id): (day, ms) for event_id, day, ms in store.rows(
        "SELECT event_id, day, toUnixTimestamp64Milli(ts) FROM events")}
    for ts, day in cases.items():
        instant = datetime.fromisoformat(ts.replace("Z", "+00:00"))
        assert stored[rows[ts]["event_id"]] == (day, round(instant.timestamp() * 1000)), ts


def test_the_time_zone_is_a_setting(store: Store, tmp_path: Path) -> None:
    row = event(ts="2022-03-31T17:30:00Z")
    with running_api(store, tmp_path, timezone="UTC") as api:
        api.put_platform("zalo", "vng")
        assert api.post_events(api.vendor("vng"), [row]).json()["accepted"] == 1
    assert store.rows("SELECT day FROM events") == [(date(2022, 3, 31),)]
