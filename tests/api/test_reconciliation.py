"""Declared control totals (PUT /v1/platforms/{id}/declared/{YYYY-MM}) against what arrived and the measured MAU
(GET /v1/reconciliation); every expected difference and share is worked out by hand in the comments.

The MAU comes from events posted through the API; the arrival counts are inserted into `ingest_quality` by hand
in the first test, and fed by the writer in the end-to-end one.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import time_machine

from queries.store import Store
from tests.factories import ADMIN, Api, bearer, event, running_api

COLUMNS = ["vendor", "platform", "day", "event_month", "outcome", "reason", "lateness", "events"]
MAR, FEB = date(2022, 3, 1), date(2022, 2, 1)


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[Api]:
    with running_api(store, tmp_path) as running:
        running.put_platform("zalo", "vng")
        running.put_platform("zingmp3", "vng")
        running.put_platform("mocha", "viettel")
        yield running


class Vendor:
    def __init__(self, api: Api, vendor: str):
        created = api.create_key("vendor", vendor)
        self.api, self.key_id, self.headers = api, created["id"], bearer(created["key"])

    def declare(self, platform: str, month: str, body: dict[str, Any], status: int = 200,
                at: str = "2022-04-05T03:00:00Z") -> Any:
        with time_machine.travel(at, tick=False):
            response = self.api.client.put(f"/v1/platforms/{platform}/declared/{month}", json=body,
                                           headers=self.headers)
        assert response.status_code == status, response.text
        return response.json()


def reconciliation(api: Api, headers: dict[str, str], period: str = "2022-Q1") -> list[dict[str, Any]]:
    response = api.client.get(f"/v1/reconciliation?period={period}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["period"] == period
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def post_march_events(api: Api, vng: Vendor) -> None:
    """zalo, March 2022: sessions of u1 (twice), u2 (twice) and u3, and an install of u9: mau = 3."""
    rows = [event(platform="zalo", user=user, ts=ts) for user, ts in [
        ("u1", "2022-03-02T10:00:00+07:00"), ("u1", "2022-03-20T10:00:00+07:00"),
        ("u2", "2022-03-05T10:00:00+07:00"), ("u2", "2022-03-31T23:59:00+07:00"),
        ("u3", "2022-03-10T10:00:00+07:00")]]
    rows.append(event(platform="zalo", user="u9", type="install", ts="2022-03-11T10:00:00+07:00"))
    rows.append(event(platform="zalo", user="u4", ts="2022-03-31T17:30:00Z"))  # 2022-04-01 in Vietnam: April
    answer = api.post_events(vng.headers, rows).json()
    assert (answer["accepted"], answer["rejected"]) == (7, [])


def fill_arrivals(store: Store) -> None:
    """What the ingestion path would have counted, by the month of `ts`."""
    store.insert("ingest_quality", [
        # zalo, March: 4 + 2 accepted (arrived in March and in April), 2 duplicates, 1 rejected
        ["vng", "zalo", date(2022, 3, 31), MAR, "accepted", "", "lt_1h", 4],
        ["vng", "zalo", date(2022, 4, 2), MAR, "accepted", "", "lt_7d", 2],
        ["vng", "zalo", date(2022, 4, 2), MAR, "duplicate", "", "", 2],
        ["vng", "zalo", date(2022, 4, 2), MAR, "rejected", "invalid_field", "", 1],
        # zalo, February: not declared, so not listed
        ["vng", "zalo", date(2022, 2, 10), FEB, "accepted", "", "lt_1h", 10],
        # mocha, March: 5 accepted
        ["viettel", "mocha", date(2022, 3, 15), MAR, "accepted", "", "lt_1h", 5],
    ], COLUMNS)


def test_declared_totals_against_arrivals_and_mau(api: Api, store: Store) -> None:
    vng, viettel = Vendor(api, "vng"), Vendor(api, "viettel")
    post_march_events(api, vng)  # for the measured MAU
    store.command("TRUNCATE TABLE ingest_quality")  # the arrivals are set by hand here (the API-fed case: below)
    fill_arrivals(store)

    first = vng.declare("zalo", "2022-03", {"events": 10, "users": 4})
    assert first == {"platform": "zalo", "month": "2022-03", "events": 10, "users": 4, "declared_by": vng.key_id,
                     "declared_at": "2022-04-05T03:00:00.000Z"}
    vng.declare("zingmp3", "2022-02", {"users": 0})
    vng.declare("zalo", "2022-04", {"events": 1})  # outside 2022-Q1
    viettel.declare("mocha", "2022-03", {"events": 4, "users": None})

    zalo_march = {
        "platform": "zalo", "vendor": "vng", "month": "2022-03", "declared_by": vng.key_id,
        "declared_at": "2022-04-05T03:00:00.000Z",
        # received 4 + 2 + 2 + 1 = 9: 9 - 10 = -1, -1 / 10; accepted 6: 6 - 10 = -4, -4 / 10
        "events": {"declared": 10, "received": 9, "accepted": 6, "duplicates": 2, "rejected": 1,
                   "difference": -1, "share": -0.1, "accepted_difference": -4, "accepted_share": -0.4},
        # mau 3 (u1, u2, u3; u9 only installed, u4 is April's): 3 - 4 = -1, -1 / 4
        "users": {"declared": 4, "measured_mau": 3, "difference": -1, "share": -0.25},
    }
    zingmp3_february = {
        "platform": "zingmp3", "vendor": "vng", "month": "2022-02", "declared_by": vng.key_id,
        "declared_at": "2022-04-05T03:00:00.000Z",
        # nothing declared for events: no difference; 0 users declared and measured: difference 0, no share
        "events": {"declared": None, "received": 0, "accepted": 0, "duplicates": 0, "rejected": 0,
                   "difference": None, "share": None, "accepted_difference": None, "accepted_share": None},
        "users": {"declared": 0, "measured_mau": 0, "difference": 0, "share": None},
    }
    mocha_march = {
        "platform": "mocha", "vendor": "viettel", "month": "2022-03", "declared_by": viettel.key_id,
        "declared_at": "2022-04-05T03:00:00.000Z",
        # 5 - 4 = 1, 1 / 4
        "events": {"declared": 4, "received": 5, "accepted": 5, "duplicates": 0, "rejected": 0,
                   "difference": 1, "share": 0.25, "accepted_difference": 1, "accepted_share": 0.25},
        "users": {"declared": None, "measured_mau": 0, "difference": None, "share": None},
    }
    assert reconciliation(api, vng.headers) == [zalo_march, zingmp3_february]
    assert reconciliation(api, viettel.headers) == [mocha_march]
    analyst = bearer(api.create_key("analyst")["key"])
    for headers in (analyst, ADMIN):
        assert reconciliation(api, headers) == [mocha_march, zalo_march, zingmp3_february]
    assert reconciliation(api, vng.headers, "2022-02") == [zingmp3_february]
    year = reconciliation(api, vng.headers, "2022")
    assert [(i["platform"], i["month"]) for i in year] == [("zalo", "2022-03"), ("zalo", "2022-04"),
                                                           ("zingmp3", "2022-02")]
    # zalo, April: 1 declared, nothing arrived with a ts in April: 0 - 1 = -1, -1 / 1; u4 is April's only user
    assert (year[1]["events"]["difference"], year[1]["events"]["share"]) == (-1, -1.0)
    assert year[1]["users"] == {"declared": None, "measured_mau": 1, "difference": None, "share": None}

    # a correction replaces the declaration: received 9 against 9 declared
    vng.declare("zalo", "2022-03", {"events": 9, "users": 3}, at="2022-04-06T03:00:00Z")
    corrected = reconciliation(api, vng.headers)[0]
    assert corrected["declared_at"] == "2022-04-06T03:00:00.000Z"
    assert corrected["events"] == {**zalo_march["events"], "declared": 9, "difference": 0, "share": 0.0,
                                   "accepted_difference": -3, "accepted_share": -3 / 9}
    assert corrected["users"] == {"declared": 3, "measured_mau": 3, "difference": 0, "share": 0.0}


def test_a_later_declaration_replaces_both_totals(api: Api) -> None:
    vng = Vendor(api, "vng")
    vng.declare("zalo", "2022-03", {"events": 10, "users": 4})
    vng.declare("zalo", "2022-03", {"events": 12}, at="2022-04-06T03:00:00Z")  # users no longer declared
    (item,) = reconciliation(api, vng.headers, "2022-03")
    assert (item["events"]["declared"], item["users"]["declared"]) == (12, None)
    assert item["users"] == {"declared": None, "measured_mau": 0, "difference": None, "share": None}
    vng.declare("zalo", "2022-03", {"users": 5}, at="2022-04-07T03:00:00Z")  # and now events no longer
    (item,) = reconciliation(api, vng.headers, "2022-03")
    assert (item["events"]["declared"], item["users"]["declared"]) == (None, 5)
    assert item["declared_at"] == "2022-04-07T03:00:00.000Z"


def test_who_may_declare_and_what(api: Api) -> None:
    vng = Vendor(api, "vng")
    assert "another vendor" in vng.declare("mocha", "2022-03", {"events": 1}, 403)["error"]
    assert "no platform" in vng.declare("tiktok", "2022-03", {"events": 1}, 404)["error"]
    for role in ("analyst", "admin"):
        key = ADMIN if role == "admin" else bearer(api.create_key("analyst")["key"])
        refused = api.client.put("/v1/platforms/zalo/declared/2022-03", json={"events": 1}, headers=key)
        assert refused.status_code == 403 and "vendor" in refused.json()["error"]
    problems = {
        "2022-13": ({"events": 1}, "month: period must be YYYY-MM"),
        "1999-12": ({"events": 1}, "month: period must be YYYY-MM"),
        "2022-3": ({"events": 1}, "month"),
    }
    for month, (body, message) in problems.items():
        assert message in vng.declare("zalo", month, body, 422)["error"]
    for body, message in [({}, "declare at least one of events and users"),
                          ({"events": None, "users": None}, "declare at least one of events and users"),
                          ({"events": -1}, "events"), ({"users": "10"}, "users"), ({"events": 1.5}, "events"),
                          ({"events": 10**15 + 1}, "events"), ({"events": 1, "sent": 2}, "sent")]:
        assert message in vng.declare("zalo", "2022-03", body, 422)["error"], body
    assert reconciliation(api, vng.headers) == []


def test_a_declaration_against_events_posted_through_the_api(api: Api) -> None:
    vng = Vendor(api, "vng")
    sessions = [event(platform="zalo", user=f"u{n}", ts=f"2022-03-{n + 10}T10:00:00+07:00") for n in range(5)]
    assert api.post_events(vng.headers, sessions).json()["accepted"] == 5
    retried = api.post_events(vng.headers, [sessions[0], event(platform="zalo", duration_s="60")]).json()
    assert (retried["duplicates"], len(retried["rejected"])) == (1, 1)
    vng.declare("zalo", "2022-03", {"events": 8, "users": 5})
    (item,) = reconciliation(api, vng.headers, "2022-03")
    # received 5 + 1 + 1 = 7: 7 - 8 = -1, -1 / 8; accepted 5: 5 - 8 = -3, -3 / 8; mau 5 = 5 declared
    assert item["events"] == {"declared": 8, "received": 7, "accepted": 5, "duplicates": 1, "rejected": 1,
                              "difference": -1, "share": -0.125, "accepted_difference": -3, "accepted_share": -0.375}
    assert item["users"] == {"declared": 5, "measured_mau": 5, "difference": 0, "share": 0.0}
