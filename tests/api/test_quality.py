"""GET /v1/quality: counts per vendor, platform and arrival day from `ingest_quality`, each expected figure
added up by hand from the rows the test inserts (in the comments); vendors see only their own rows.

Most tests fill the table directly; the end-to-end test posts events through the API (the writer feeds the table)
and expects the same counts.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import time_machine

from queries.store import Store
from tests.factories import ADMIN, NDJSON, Api, api_on_fresh_store, event, ndjson, running_api

COLUMNS = ["vendor", "platform", "day", "event_month", "outcome", "reason", "lateness", "events"]
NO_LATENESS = {"lt_1h": 0, "lt_1d": 0, "lt_7d": 0, "older": 0}
MAR, FEB, APR = date(2022, 3, 1), date(2022, 2, 1), date(2022, 4, 1)


def register(api: Api) -> Api:
    api.put_platform("zalo", "vng")
    api.put_platform("zingmp3", "vng")
    api.put_platform("mocha", "viettel")
    return api


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[Api]:
    """An app of its own, for the tests that seal months or post events."""
    with running_api(store, tmp_path) as running:
        yield register(running)


@pytest.fixture(scope="module")
def filled(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One app whose ingest_quality holds the rows of `fill`, for the tests that only read."""
    with api_on_fresh_store(chdb_dir, tmp_path_factory.mktemp("quality")) as running:
        fill(running.services.store)
        yield register(running)


def fill(store: Store) -> None:
    """Two inserts, so that the rows of one key are summed by the query (a SummingMergeTree is not merged)."""
    first = [
        # vng, zalo, arrival 2022-03-01
        ["vng", "zalo", date(2022, 3, 1), MAR, "accepted", "", "lt_1h", 3],
        ["vng", "zalo", date(2022, 3, 1), FEB, "accepted", "", "lt_1d", 2],
        ["vng", "zalo", date(2022, 3, 1), MAR, "duplicate", "", "", 4],
        ["vng", "zalo", date(2022, 3, 1), MAR, "rejected", "invalid_field", "", 1],
        ["vng", "zalo", date(2022, 3, 1), date(2022, 1, 1), "rejected", "month_sealed", "", 2],
        # vng, rows that were not its own platform's, arrival 2022-03-01
        ["vng", "", date(2022, 3, 1), MAR, "rejected", "unknown_platform", "", 3],
        ["vng", "", date(2022, 3, 1), date(1970, 1, 1), "rejected", "malformed", "", 1],
        # outside 2022-03: arrival 2022-02-28 and 2022-04-01
        ["vng", "zalo", date(2022, 2, 28), FEB, "accepted", "", "lt_1h", 50],
        ["vng", "zalo", date(2022, 4, 1), MAR, "accepted", "", "lt_1h", 100],
        # viettel, mocha, arrival 2022-03-15
        ["viettel", "mocha", date(2022, 3, 15), MAR, "accepted", "", "lt_7d", 9],
        ["viettel", "mocha", date(2022, 3, 15), date(2022, 3, 1), "rejected", "future_timestamp", "", 1],
    ]
    second = [
        ["vng", "zalo", date(2022, 3, 1), MAR, "accepted", "", "lt_1h", 2],  # same key as the first row: 3 + 2
        ["vng", "zalo", date(2022, 3, 31), date(2021, 12, 1), "accepted", "", "older", 7],
    ]
    store.insert("ingest_quality", first, COLUMNS)
    store.insert("ingest_quality", second, COLUMNS)


def counts(received: int, accepted: int, duplicates: int, rejected: dict[str, int], **lateness: int
           ) -> dict[str, Any]:
    assert received == accepted + duplicates + sum(rejected.values())  # the hand sums add up
    return {"received": received, "accepted": accepted, "duplicates": duplicates,
            "rejected": sum(rejected.values()), "rejected_by_reason": rejected,
            "lateness": {**NO_LATENESS, **lateness}}


# vng's rows of 2022-03, added up by hand:
VNG_OTHER_0301 = counts(4, 0, 0, {"unknown_platform": 3, "malformed": 1})  # 3 + 1
VNG_ZALO_0301 = counts(14, 7, 4, {"invalid_field": 1, "month_sealed": 2}, lt_1h=5, lt_1d=2)  # 3+2+2 + 4 + 1+2
VNG_ZALO_0331 = counts(7, 7, 0, {}, older=7)
VNG_ZALO_MARCH = counts(21, 14, 4, {"invalid_field": 1, "month_sealed": 2}, lt_1h=5, lt_1d=2, older=7)
VIETTEL_MOCHA_0315 = counts(10, 9, 0, {"future_timestamp": 1}, lt_7d=9)
MARCH_OPEN = [{"month": "2022-03", "sealed": False}]


def get(api: Api, headers: dict[str, str], query: str, status: int = 200) -> Any:
    response = api.client.get(f"/v1/quality?{query}", headers=headers)
    assert response.status_code == status, response.text
    return response.json()


def test_a_vendor_sees_its_own_rows_per_platform_and_day(filled: Api) -> None:
    api = filled
    body = get(api, api.vendor("vng"), "period=2022-03")
    assert body == {
        "period": "2022-03", "sealed_before": None, "months": MARCH_OPEN,
        "items": [
            {"vendor": "vng", "platform": None, "day": "2022-03-01", **VNG_OTHER_0301},
            {"vendor": "vng", "platform": "zalo", "day": "2022-03-01", **VNG_ZALO_0301},
            {"vendor": "vng", "platform": "zalo", "day": "2022-03-31", **VNG_ZALO_0331},
        ],
        "totals": [
            {"vendor": "vng", "platform": None, **VNG_OTHER_0301},
            {"vendor": "vng", "platform": "zalo", **VNG_ZALO_MARCH},
        ],
    }
    assert get(api, api.vendor("viettel"), "period=2022-03")["items"] == [
        {"vendor": "viettel", "platform": "mocha", "day": "2022-03-15", **VIETTEL_MOCHA_0315}]
    assert get(api, api.vendor("nobody"), "period=2022-03")["items"] == []


def test_analysts_and_admins_see_every_vendor(filled: Api) -> None:
    api = filled
    analyst = {"Authorization": f"Bearer {api.create_key('analyst')['key']}"}
    for headers in (analyst, ADMIN):
        body = get(api, headers, "period=2022-03")
        assert [(i["vendor"], i["platform"], i["day"]) for i in body["items"]] == [
            ("viettel", "mocha", "2022-03-15"), ("vng", None, "2022-03-01"), ("vng", "zalo", "2022-03-01"),
            ("vng", "zalo", "2022-03-31")]
        assert body["items"][0] == {"vendor": "viettel", "platform": "mocha", "day": "2022-03-15",
                                    **VIETTEL_MOCHA_0315}
    # the quarter adds 2022-02-28 (50 accepted under 1 hour); 2022-04-01 stays out
    quarter = get(api, ADMIN, "period=2022-Q1")
    assert quarter["totals"][2] == {"vendor": "vng", "platform": "zalo",
                                    **counts(71, 64, 4, {"invalid_field": 1, "month_sealed": 2}, lt_1h=55,
                                             lt_1d=2, older=7)}
    assert get(api, ADMIN, "period=2022-04")["totals"] == [
        {"vendor": "vng", "platform": "zalo", **counts(100, 100, 0, {}, lt_1h=100)}]


def test_one_platform_and_who_may_ask_for_it(filled: Api) -> None:
    api = filled
    vng = api.vendor("vng")
    body = get(api, vng, "period=2022-03&platform=zalo")
    assert body["totals"] == [{"vendor": "vng", "platform": "zalo", **VNG_ZALO_MARCH}]
    assert get(api, vng, "period=2022-03&platform=zingmp3")["items"] == []
    assert "another vendor" in get(api, vng, "period=2022-03&platform=mocha", 403)["error"]
    assert "no platform" in get(api, vng, "period=2022-03&platform=tiktok", 404)["error"]
    assert get(api, ADMIN, "period=2022-03&platform=mocha")["items"][0]["platform"] == "mocha"


def test_sealed_months(api: Api) -> None:
    assert api.client.post("/v1/admin/seal", json={"before": "2022-02"}, headers=ADMIN).status_code == 200
    body = get(api, api.vendor("vng"), "period=2022-Q1")
    assert body["sealed_before"] == "2022-02"
    assert body["months"] == [{"month": "2022-01", "sealed": True}, {"month": "2022-02", "sealed": False},
                              {"month": "2022-03", "sealed": False}]


def test_bad_periods_are_named(filled: Api) -> None:
    api = filled
    for period in ("2022-13", "22-03", "2022-Q5", "x"):
        error = get(api, ADMIN, f"period={period}", 422)["error"]
        assert error.startswith("period: period must be YYYY-MM")
    assert "period" in get(api, ADMIN, "", 422)["error"]


def test_posted_events_are_counted_by_outcome_reason_and_lateness(api: Api) -> None:
    """Events posted through the API at a frozen clock: every outcome, every reason and every lateness bucket,
    then GET /v1/quality equals what was posted."""
    assert api.client.post("/v1/admin/seal", json={"before": "2022-02"}, headers=ADMIN).status_code == 200
    vng = api.vendor("vng")
    # arrival: 2022-04-10 12:00 in Vietnam (05:00Z)
    good = [
        event(platform="zalo", ts="2022-04-10T11:30:00+07:00"),  # 30 min late: lt_1h
        event(platform="zalo", ts="2022-04-10T11:00:01+07:00"),  # 59 min 59 s: lt_1h
        event(platform="zalo", ts="2022-04-10T07:00:00+07:00"),  # 5 h: lt_1d
        event(platform="zalo", ts="2022-04-07T12:00:00+07:00"),  # 3 days: lt_7d
        event(platform="zingmp3", ts="2022-04-09T13:00:00+07:00"),  # 23 h: lt_1d
        event(platform="zingmp3", ts="2022-03-10T12:00:00+07:00"),  # 31 days: older
    ]
    bad = [
        b'{"event_id": "not closed"',  # malformed: platform ''
        ndjson([event(platform="zalo", without=["user"])]).strip(),  # missing_field
        ndjson([event(platform="zalo", duration_s="60")]).strip(),  # invalid_field
        ndjson([event(platform="tiktok")]).strip(),  # unknown_platform: platform ''
        ndjson([event(platform="mocha")]).strip(),  # platform_not_allowed: platform ''
        ndjson([event(platform="zalo", ts="2022-04-10T12:06:00+07:00")]).strip(),  # future_timestamp
        ndjson([event(platform="zalo", ts="2022-01-15T12:00:00+07:00")]).strip(),  # month_sealed
    ]
    body = ndjson(good) + b"\n".join(bad) + b"\n"
    headers = {**vng, "Content-Type": NDJSON, "Content-Encoding": "gzip"}
    with time_machine.travel("2022-04-10T05:00:00Z", tick=False):
        first = api.client.post("/v1/events", content=gzip.compress(body), headers=headers)
        again = api.client.post("/v1/events", content=gzip.compress(ndjson(good[:2])), headers=headers)
    assert (first.json()["accepted"], len(first.json()["rejected"])) == (6, 7)
    assert again.json()["duplicates"] == 2

    quality = get(api, vng, "period=2022-04")
    day = "2022-04-10"
    assert quality["items"] == [
        {"vendor": "vng", "platform": None, "day": day,
         **counts(3, 0, 0, {"malformed": 1, "unknown_platform": 1, "platform_not_allowed": 1})},
        {"vendor": "vng", "platform": "zalo", "day": day,
         **counts(10, 4, 2, {"missing_field": 1, "invalid_field": 1, "future_timestamp": 1, "month_sealed": 1},
                  lt_1h=2, lt_1d=1, lt_7d=1)},
        {"vendor": "vng", "platform": "zingmp3", "day": day, **counts(2, 2, 0, {}, lt_1d=1, older=1)},
    ]
