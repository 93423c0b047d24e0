"""The stored user counts (migration 0004) stay exact as events keep arriving: a count made before an
insert is never used after it, and a count stored under another version is ignored."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from queries.store import Store
from service.app import create_app
from service.settings import Settings

ADMIN = {"Authorization": "Bearer " + "c" * 40}
Q1 = "2022-Q1"


@pytest.fixture
def client(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=tmp_path, admin_key="c" * 40), store=store)
    with TestClient(app) as opened:
        response = opened.put("/v1/platforms/app1", headers=ADMIN, json={
            "name": "App 1", "vendor": "v1", "origin": "vn", "category": "news", "kind": "app", "province": None})
        assert response.status_code == 200
        yield opened


def vendor_key(client: TestClient) -> dict[str, str]:
    created = client.post("/v1/keys", json={"role": "vendor", "vendor": "v1"}, headers=ADMIN)
    return {"Authorization": f"Bearer {created.json()['key']}"}


def session(user: str, ts: str, duration_s: int = 60) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "platform": "app1", "user": user, "ts": ts, "duration_s": duration_s}


def metrics_of(client: TestClient) -> dict[str, Any]:
    response = client.get(f"/v1/platforms/app1/metrics?period={Q1}", headers=ADMIN)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_counts_follow_new_events(client: TestClient, store: Store) -> None:
    vendor = vendor_key(client)
    posted = client.post("/v1/events", headers=vendor, json=[
        session("a", "2022-01-10T10:00:00+07:00"), session("b", "2022-01-10T11:00:00+07:00")])
    assert posted.json()["accepted"] == 2
    first = metrics_of(client)
    assert first["mau_by_month"][0] == {"month": "2022-01", "mau": 2}
    assert first["dau_avg"] == 2 / 90  # one day with 2 users
    # the counts are stored with the version they were counted at: 2 events of the month
    counts = "SELECT month, event_rows, mau, dau_sum FROM platform_monthly_counts FINAL ORDER BY month"
    assert store.rows(counts) == [(date(2022, 1, 1), 2, 2, 2)]
    # a third user on the same day, a known user again (same day), and a known user on another day
    client.post("/v1/events", headers=vendor, json=[
        session("c", "2022-01-10T12:00:00+07:00"), session("a", "2022-01-10T13:00:00+07:00"),
        session("b", "2022-01-11T09:00:00+07:00")])
    second = metrics_of(client)
    assert second["mau_by_month"][0] == {"month": "2022-01", "mau": 3}  # {a, b, c}
    assert second["dau_avg"] == 4 / 90  # 01-10 {a, b, c} 3 + 01-11 {b} 1
    assert second["sessions"] == 5
    assert second["minutes_per_user_day"] == 5 / 4  # 5 x 60 s over 4 user-days
    assert store.rows(counts) == [(date(2022, 1, 1), 5, 3, 4)]
    # an install adds no active user but is a new version of the month: counted again, unchanged
    client.post("/v1/events", headers=vendor, json=[{**session("d", "2022-01-11T10:00:00+07:00"),
                                                     "type": "install"}])
    third = metrics_of(client)
    assert (third["mau_by_month"][0]["mau"], third["dau_avg"], third["installs"]) == (3, 4 / 90, 1)
    assert store.rows(counts) == [(date(2022, 1, 1), 6, 3, 4)]


def test_counts_of_another_version_are_ignored(client: TestClient, store: Store) -> None:
    vendor = vendor_key(client)
    client.post("/v1/events", headers=vendor, json=[session("a", "2022-02-01T10:00:00+07:00")])
    # wrong counts filed under a version that is not the rollup's (1 event in the month)
    store.insert("platform_monthly_counts", [["app1", date(2022, 2, 1), 7, 1000, 1000]],
                 ["platform", "month", "event_rows", "mau", "dau_sum"])
    body = metrics_of(client)
    assert body["mau_by_month"][1] == {"month": "2022-02", "mau": 1}
    assert body["dau_avg"] == 1 / 90


def test_counts_are_the_per_day_counts_summed(client: TestClient, store: Store) -> None:
    """The stored sum of dau(d) (count of distinct (day, user) pairs) equals the sum over days of
    uniqExactMerge of platform_daily's per-day states, day by day boundaries in Vietnam time included."""
    vendor = vendor_key(client)
    client.post("/v1/events", headers=vendor, json=[
        session("a", "2022-03-30T16:59:59Z"), session("a", "2022-03-30T17:00:00Z"),  # 03-30 23:59:59, 03-31 00:00
        session("b", "2022-03-31T16:00:00Z"), session("b", "2022-03-31T17:00:00Z"),  # 03-31 23:00, 04-01 00:00
        session("c", "2022-03-01T00:00:00+07:00"), session("c", "2022-03-01T00:00:00+07:00")])
    metrics_of(client)
    per_day = store.rows("SELECT toStartOfMonth(day) AS month, sum(dau) FROM (SELECT day, uniqExactMerge(users) AS dau "
                         "FROM platform_daily GROUP BY day) GROUP BY month ORDER BY month")
    # March: 03-01 {c} 1, 03-30 {a} 1, 03-31 {a, b} 2 -> 4; April: 04-01 {b} 1
    assert per_day == [(date(2022, 3, 1), 4), (date(2022, 4, 1), 1)]
    counted = store.rows("SELECT month, dau_sum, mau FROM platform_monthly_counts FINAL ORDER BY month")
    assert counted == [(date(2022, 3, 1), 4, 3)]  # only Q1's months were asked for
