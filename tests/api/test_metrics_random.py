"""Metrics of random events (many at Vietnamese midnights and month ends) against an independent computation:
plain Python over the posted events, from the written definitions, without ClickHouse or queries.metrics."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from queries.migrate import migrate
from queries.store import Store, Target
from service.app import create_app
from service.settings import Settings

ADMIN = {"Authorization": "Bearer " + "r" * 40}
VN = ZoneInfo("Asia/Ho_Chi_Minh")
PLATFORMS = {
    # id: (origin, category, kind, province)
    "r1": ("vn", "communication", "app", "VN-26"),
    "r2": ("foreign", "communication", "app", None),
    "r3": ("vn", "news", "web", None),
}
SMARTPHONE_USERS = 5
# (label, first day, last day, months) written out by hand, so that the expectation does not use queries.periods
PERIODS = {
    "2022-Q1": (date(2022, 1, 1), date(2022, 3, 31), [date(2022, 1, 1), date(2022, 2, 1), date(2022, 3, 1)]),
    "2021-Q4": (date(2021, 10, 1), date(2021, 12, 31), [date(2021, 10, 1), date(2021, 11, 1), date(2021, 12, 1)]),
    "2021-Q1": (date(2021, 1, 1), date(2021, 3, 31), [date(2021, 1, 1), date(2021, 2, 1), date(2021, 3, 1)]),
    "2022-03": (date(2022, 3, 1), date(2022, 3, 31), [date(2022, 3, 1)]),
    "2022-02": (date(2022, 2, 1), date(2022, 2, 28), [date(2022, 2, 1)]),
    "2021-03": (date(2021, 3, 1), date(2021, 3, 31), [date(2021, 3, 1)]),
}
CHECKED = {"2022-Q1": ("2021-Q4", "2021-Q1"), "2022-03": ("2022-02", "2021-03")}


def random_events(seed: int = 20220331) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    month_ends = [datetime(y, m, 1, tzinfo=VN) for y in (2021, 2022) for m in range(1, 13)]
    events = []
    for platform in PLATFORMS:
        for _ in range(150):
            if rng.random() < 0.5:  # around a Vietnamese midnight that starts a month: +-3 hours
                ts = rng.choice(month_ends) + timedelta(seconds=rng.randrange(-3 * 3600, 3 * 3600))
            else:
                ts = datetime(2020, 12, 20, tzinfo=UTC) + timedelta(seconds=rng.randrange(480 * 86400))
            events.append({
                "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "platform": platform,
                "user": f"user{rng.randrange(9)}", "type": "install" if rng.random() < 0.1 else "session",
                "ts": ts.astimezone(UTC if rng.random() < 0.5 else VN).isoformat(),
                "duration_s": rng.randrange(3000), "bytes": rng.randrange(10**7),
                "os": rng.choice(["android", "ios"]),
            })
    return events


def change(value: Fraction | None, before: Fraction | None) -> float | None:
    if value is None or before is None or before == 0:
        return None
    return float((value - before) / before)


def exact(platform: str, label: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The definitions of docs/METRICS.md, over the raw events."""
    first, last, months = PERIODS[label]
    k, n = len(months), (last - first).days + 1
    month_users: dict[date, set[str]] = defaultdict(set)
    day_users: dict[date, set[str]] = defaultdict(set)
    month_bytes: dict[date, int] = defaultdict(int)
    seconds = sessions = installs = installs_total = 0
    for e in events:
        if e["platform"] != platform:
            continue
        day = datetime.fromisoformat(e["ts"]).astimezone(VN).date()
        if e["type"] == "install":
            installs_total += day <= last
            installs += first <= day <= last
            continue
        if not first <= day <= last:
            continue
        month_users[day.replace(day=1)].add(e["user"])
        day_users[day].add(e["user"])
        month_bytes[day.replace(day=1)] += e["bytes"]
        seconds += e["duration_s"]
        sessions += 1
    maus = [len(month_users[m]) for m in months]
    dau_sum = sum(len(users) for users in day_users.values())
    peak = max(maus)
    with_users = [m for m in months if month_users[m]]
    mau_avg = Fraction(sum(maus), k)
    return {
        "mau_by_month": [{"month": f"{m:%Y-%m}", "mau": mau} for m, mau in zip(months, maus, strict=True)],
        "mau_avg": mau_avg, "mau_peak": peak, "mau_peak_month": f"{months[maus.index(peak)]:%Y-%m}",
        "dau_avg": Fraction(dau_sum, n),
        "stickiness": Fraction(dau_sum, n) / mau_avg if mau_avg else None,
        "minutes_per_user_day": Fraction(seconds, 60) / dau_sum if dau_sum else None,
        "mb_per_user_month": (sum(Fraction(month_bytes[m], 10**6 * len(month_users[m])) for m in with_users)
                              / len(with_users)) if with_users else None,
        "hours_per_user_month": Fraction(seconds, 3600) / sum(maus) if sum(maus) else None,
        "sessions": sessions, "sessions_per_month": Fraction(sessions, k),
        "installs": installs, "installs_total": installs_total,
        "penetration": Fraction(peak, SMARTPHONE_USERS) if PLATFORMS[platform][3] else None,
    }


def expected_body(platform: str, label: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    previous, year_before = CHECKED[label]
    now, prev, yoy = (exact(platform, p, events) for p in (label, previous, year_before))
    body: dict[str, Any] = {"platform": platform, "period": label}
    body.update({name: float(v) if isinstance(v, Fraction) else v for name, v in now.items()})
    changed = ("mau_avg", "minutes_per_user_day", "mb_per_user_month", "sessions_per_month")
    body["yoy"] = {name: change(now[name], yoy[name]) for name in changed}
    body["prev"] = {name: change(now[name], prev[name]) for name in changed}
    return body


@pytest.fixture(scope="module")
def posted(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[TestClient, list[dict[str, Any]]]]:
    database = f"t_{uuid.uuid4().hex[:12]}"
    store = Store(Target("chdb", f"chdb://{chdb_dir}", database, chdb_dir))
    migrate(store)
    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("random"), admin_key="r" * 40), store=store)
    events = random_events()
    with TestClient(app) as client:
        client.put("/v1/reference/provinces/VN-26", headers=ADMIN,
                   json={"name": "Thừa Thiên Huế", "smartphone_users": SMARTPHONE_USERS})
        for pid, (origin, category, kind, province) in PLATFORMS.items():
            client.put(f"/v1/platforms/{pid}", headers=ADMIN, json={
                "name": pid.upper(), "vendor": f"vendor-{pid}", "origin": origin, "category": category, "kind": kind,
                "province": province})
            key = client.post("/v1/keys", headers=ADMIN, json={"role": "vendor", "vendor": f"vendor-{pid}"})
            rows = [e for e in events if e["platform"] == pid]
            vendor = {"Authorization": f"Bearer {key.json()['key']}"}
            # in three requests, the second repeating ten events of the first
            for batch in (rows[:100], rows[90:120], rows[120:]):
                response = client.post("/v1/events", headers=vendor, json=batch)
                assert response.status_code == 200 and response.json()["rejected"] == [], response.text
        yield client, events
    dropper = Store(Target("chdb", f"chdb://{chdb_dir}", database, chdb_dir))
    dropper.command(f"DROP DATABASE IF EXISTS {database}")
    dropper.close()


@pytest.mark.parametrize("label", list(CHECKED))
def test_platform_metrics_match_the_definitions(posted: tuple[TestClient, list[dict[str, Any]]], label: str) -> None:
    client, events = posted
    for platform in PLATFORMS:
        response = client.get(f"/v1/platforms/{platform}/metrics?period={label}", headers=ADMIN)
        assert response.status_code == 200, response.text
        assert response.json() == expected_body(platform, label, events), platform


def test_rankings_and_comparison_match_the_definitions(posted: tuple[TestClient, list[dict[str, Any]]]) -> None:
    client, events = posted
    figures = {pid: exact(pid, "2022-Q1", events) for pid in PLATFORMS}
    year_before = {pid: exact(pid, "2021-Q1", events) for pid in PLATFORMS}
    active = [pid for pid in PLATFORMS if figures[pid]["sessions"]]
    for metric in ("mau_avg", "minutes_per_user_day", "mb_per_user_month", "sessions"):
        valued = [(-figures[pid][metric], pid) for pid in active if figures[pid][metric] is not None]
        ordered = [pid for _, pid in sorted(valued)]
        response = client.get(f"/v1/rankings?period=2022-Q1&metric={metric}", headers=ADMIN)
        got = [(i["rank"], i["platform"], i["value"], i["yoy"]) for i in response.json()["items"]]
        assert got == [(rank, pid, float(figures[pid][metric]), change(figures[pid][metric], year_before[pid][metric]))
                       for rank, pid in enumerate(ordered, start=1)]
    body = client.get("/v1/compare/origin?period=2022-Q1&category=communication", headers=ADMIN).json()
    vn, foreign = figures["r1"]["mb_per_user_month"], figures["r2"]["mb_per_user_month"]
    assert (body["vn"]["total"], body["foreign"]["total"]) == (float(vn), float(foreign))
    assert body["ratio_vn_to_foreign"] == float(vn / foreign)
    vn_mau = figures["r1"]["mau_avg"] + figures["r3"]["mau_avg"]
    body = client.get("/v1/overview?period=2022-Q1", headers=ADMIN).json()
    assert body["mau_total"] == float(vn_mau)
    assert body["share_of_users"] == float(vn_mau / (vn_mau + figures["r2"]["mau_avg"]))
