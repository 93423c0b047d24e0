"""Months still receiving events (docs/METRICS.md): a request counts a changed month again itself only when that
is cheap; otherwise it answers the month as it was at its last count, says so under "provisional", and the
background refresher counts it again. Summaries always count every changed month first."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from queries import rollups
from queries.store import Store
from service.app import create_app
from service.refresher import CountRefresher
from service.settings import Settings

ADMIN = {"Authorization": "Bearer " + "p" * 40}


@pytest.fixture
def client(store: Store, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=tmp_path, admin_key="p" * 40), store=store)
    with TestClient(app) as opened:
        response = opened.put("/v1/platforms/app1", headers=ADMIN, json={
            "name": "App 1", "vendor": "v1", "origin": "vn", "category": "news", "kind": "app", "province": None})
        assert response.status_code == 200
        yield opened


def post(client: TestClient, *sessions: tuple[str, str]) -> None:
    created = client.post("/v1/keys", json={"role": "vendor", "vendor": "v1"}, headers=ADMIN)
    vendor = {"Authorization": f"Bearer {created.json()['key']}"}
    rows = [{"event_id": str(uuid.uuid4()), "platform": "app1", "user": user, "ts": ts, "duration_s": 60}
            for user, ts in sessions]
    assert client.post("/v1/events", headers=vendor, json=rows).json()["accepted"] == len(rows)


def get(client: TestClient, url: str) -> Any:
    response = client.get(url, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


def test_an_expensive_changed_month_is_answered_as_of_its_last_count(client: TestClient, store: Store,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    post(client, ("a", "2022-01-10T10:00:00+07:00"), ("b", "2022-01-10T11:00:00+07:00"))
    first = get(client, "/v1/platforms/app1/metrics?period=2022-Q1")  # no count yet: counted now, exact
    assert (first["mau_by_month"][0]["mau"], first["sessions"]) == (2, 2) and "provisional" not in first
    # every changed month is "expensive" now: requests answer it as of its last count
    monkeypatch.setattr(rollups, "INLINE_RECOUNT_SIZE", 0)
    post(client, ("c", "2022-01-10T12:00:00+07:00"), ("a", "2022-01-11T09:00:00+07:00"))
    second = get(client, "/v1/platforms/app1/metrics?period=2022-Q1")
    # as it was at the count of 2 events: 2 users, 2 sessions, 2 user-days (not 3 users with the 4 sessions now)
    assert (second["mau_by_month"][0]["mau"], second["sessions"], second["dau_avg"]) == (2, 2, 2 / 90)
    assert second["minutes_per_user_day"] == 1.0  # 2 x 60 s over 2 user-days: a figure of one moment
    [provisional] = second["provisional"]
    assert (provisional["platform"], provisional["month"], provisional["events_counted"],
            provisional["events_now"]) == ("app1", "2022-01", 2, 4)
    assert provisional["counted_at"].endswith("+00:00")
    ranked = get(client, "/v1/rankings?period=2022-Q1&metric=mau_avg")
    assert ranked["items"][0]["value"] == 2 / 3 and ranked["provisional"][0]["month"] == "2022-01"
    assert get(client, "/v1/overview?period=2022-Q1")["provisional"][0]["events_now"] == 4
    csv = client.get("/v1/rankings?period=2022-Q1&metric=mau_avg&format=csv", headers=ADMIN)
    assert csv.headers["X-Provisional-Months"] == "app1:2022-01"
    # a summary counts first: exact
    created = client.post("/v1/summaries/2022-Q1", headers=ADMIN)
    assert created.status_code == 201
    row = get(client, "/v1/summaries/2022-Q1")["figures"]["categories"][0]["platforms"][0]
    assert (row["mau_avg"], row["mau_by_month"][0]["mau"]) == (1.0, 3)  # {a, b, c} in January
    # the summary stored the current count: requests are exact again
    third = get(client, "/v1/platforms/app1/metrics?period=2022-Q1")
    assert (third["mau_by_month"][0]["mau"], third["sessions"], third["dau_avg"]) == (3, 4, 4 / 90)
    assert "provisional" not in third


def test_the_refresher_counts_changed_months_again(client: TestClient, store: Store,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    post(client, ("a", "2022-02-10T10:00:00+07:00"))
    get(client, "/v1/platforms/app1/metrics?period=2022-Q1")
    monkeypatch.setattr(rollups, "INLINE_RECOUNT_SIZE", 0)
    post(client, ("b", "2022-02-10T11:00:00+07:00"), ("c", "2022-03-01T11:00:00+07:00"))
    # March has no count at all: counted by the request; February has an earlier one: answered as of it
    body = get(client, "/v1/platforms/app1/metrics?period=2022-Q1")
    assert [m["mau"] for m in body["mau_by_month"]] == [0, 1, 1]
    assert [p["month"] for p in body["provisional"]] == ["2022-02"]
    assert rollups.refresh_counts(store) == 1  # February, the only month not counted at its current version
    body = get(client, "/v1/platforms/app1/metrics?period=2022-Q1")
    assert [m["mau"] for m in body["mau_by_month"]] == [0, 2, 1] and "provisional" not in body
    assert rollups.refresh_counts(store) == 0

    # the service's thread does the same shortly after new events
    refresher = CountRefresher(store, interval_s=0.1, first_delay_s=0).start()
    try:
        post(client, ("d", "2022-02-11T11:00:00+07:00"))
        deadline = time.monotonic() + 30
        counts = "SELECT mau FROM platform_monthly_counts FINAL WHERE month = {m:Date}"
        while store.rows(counts, {"m": date(2022, 2, 1)}) != [(3,)] and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        refresher.stop()
    body = get(client, "/v1/platforms/app1/metrics?period=2022-Q1")
    assert [m["mau"] for m in body["mau_by_month"]] == [0, 3, 1] and "provisional" not in body


def test_requests_count_cheap_changed_months_themselves(client: TestClient, store: Store) -> None:
    post(client, ("a", "2022-01-10T10:00:00+07:00"))
    get(client, "/v1/platforms/app1/metrics?period=2022-Q1")
    post(client, ("b", "2022-01-10T10:00:00+07:00"))
    # the year's states hold 1 user and 1 user-day, far under INLINE_RECOUNT_SIZE: counted now, exact
    body = get(client, "/v1/platforms/app1/metrics?period=2022-Q1")
    assert body["mau_by_month"][0]["mau"] == 2 and "provisional" not in body
