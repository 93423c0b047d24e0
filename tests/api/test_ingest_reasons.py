"""Every per-row rejection reason of POST /v1/events, with the exact answer; valid rows beside a rejected
one are kept. Ends with a mixed gzip NDJSON batch and its retry."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest
import time_machine

from ingest.pipeline import Rows
from ingest.reasons import Reason
from queries.store import Store
from tests.factories import ADMIN, NDJSON, Api, api_on_fresh_store, event, ndjson, running_api, scalar

REASONS = {"malformed", "too_large", "missing_field", "invalid_field", "unknown_platform", "platform_not_allowed",
           "future_timestamp", "month_sealed"}


def register_platforms(api: Api) -> None:
    """Vendor 'vng' owns zalo and zingmp3; vendor 'viettel' owns mocha."""
    api.put_platform("zalo", "vng")
    api.put_platform("zingmp3", "vng", category="entertainment")
    api.put_platform("mocha", "viettel", category="social")


@pytest.fixture
def api(store: Store, tmp_path: Path) -> Iterator[Api]:
    """An app of its own, for tests that look at what is stored or seal months."""
    with running_api(store, tmp_path) as running:
        register_platforms(running)
        yield running


@pytest.fixture(scope="module")
def shared(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, dict[str, str]]]:
    """One app and a 'vng' vendor key for the tests that only read the answer."""
    with api_on_fresh_store(chdb_dir, tmp_path_factory.mktemp("reasons")) as running:
        register_platforms(running)
        yield running, running.vendor("vng")


def post(api: Api, headers: dict[str, str], rows: list[Any]) -> dict[str, Any]:
    response = api.post_events(headers, rows)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def assert_one_rejected(answer: dict[str, Any], index: int, event_id: str | None, reason: str, field: str | None,
                        problem: str, accepted: int = 1) -> None:
    """Exactly one rejection with these values; its detail names `field` first and contains `problem`."""
    assert answer["accepted"] == accepted
    assert answer["duplicates"] == 0
    assert len(answer["rejected"]) == 1, answer
    rejection = answer["rejected"][0]
    assert {k: rejection[k] for k in ("index", "event_id", "reason")} == {
        "index": index, "event_id": event_id, "reason": reason}
    assert set(rejection) == {"index", "event_id", "reason", "detail"}
    if field is not None:
        assert rejection["detail"].startswith(f"{field}: "), rejection["detail"]
    assert problem in rejection["detail"], rejection["detail"]


def test_reasons_are_the_documented_closed_set() -> None:
    assert {str(reason) for reason in Reason} == REASONS


# -- malformed -------------------------------------------------------------------------------------
def test_malformed_rows_that_are_not_objects(shared: tuple[Api, dict[str, str]]) -> None:
    api, vng = shared
    rows: list[Any] = [event(), ["event_id", "x"], "an event", 42, None, True]
    answer = post(api, vng, rows)
    assert answer["accepted"] == 1
    assert answer["duplicates"] == 0
    assert [(r["index"], r["event_id"], r["reason"]) for r in answer["rejected"]] == [
        (1, None, "malformed"), (2, None, "malformed"), (3, None, "malformed"), (4, None, "malformed"),
        (5, None, "malformed")]
    assert [r["detail"] for r in answer["rejected"]] == [
        "row must be a JSON object, got an array", "row must be a JSON object, got a string",
        "row must be a JSON object, got an integer", "row must be a JSON object, got null",
        "row must be a JSON object, got a boolean"]


def test_malformed_ndjson_line(shared: tuple[Api, dict[str, str]]) -> None:
    api, vng = shared
    good = event()
    body = ndjson([good]) + b'{"event_id": "not closed"\n' + ndjson([event()])
    response = api.client.post("/v1/events", content=body, headers={**vng, "Content-Type": NDJSON})
    assert response.status_code == 200
    answer = response.json()
    assert_one_rejected(answer, 1, None, "malformed", None, "line is not valid JSON", accepted=2)


# -- too_large -------------------------------------------------------------------------------------
def test_a_row_longer_than_an_event_can_be_is_refused_unparsed(shared: tuple[Api, dict[str, str]]) -> None:
    api, vng = shared
    padded = ndjson([event()]).rstrip(b"\n")
    padded = padded[:-1] + b" " * (4097 - len(padded)) + b"}"  # valid JSON, one byte over MAX_EVENT_BYTES
    assert len(padded) == 4097
    body = ndjson([event()]) + padded + b"\n" + ndjson([event()])
    response = api.client.post("/v1/events", content=body, headers={**vng, "Content-Type": NDJSON})
    answer = response.json()
    assert answer["accepted"] == 2
    assert answer["rejected"] == [{"index": 1, "event_id": None, "reason": "too_large",
                                   "detail": "the line is 4097 bytes; an event is at most 4096 bytes"}]
    exactly = padded[:4095] + b"}"  # 4,096 bytes: still an event
    assert len(exactly) == 4096
    response = api.client.post("/v1/events", content=exactly, headers={**vng, "Content-Type": NDJSON})
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": []}


# -- missing_field ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["event_id", "platform", "user", "ts"])
def test_missing_required_field(shared: tuple[Api, dict[str, str]], name: str) -> None:
    api, vng = shared
    bad = event(without=[name])
    answer = post(api, vng, [event(), bad])
    assert_one_rejected(answer, 1, bad.get("event_id"), "missing_field", name, "required field is missing")


def test_null_required_field_is_missing(shared: tuple[Api, dict[str, str]]) -> None:
    api, vng = shared
    bad = event(user=None)
    answer = post(api, vng, [event(), bad])
    assert_one_rejected(answer, 1, bad["event_id"], "missing_field", "user", "required field is missing")


def test_optional_fields_may_be_absent_or_null(api: Api, vng: dict[str, str], store: Store) -> None:
    minimal = event(without=["type", "duration_s", "bytes", "country", "province", "os"])
    nulls = event(type=None, duration_s=None, bytes=None, country=None, province=None, os=None)
    assert post(api, vng, [minimal, nulls]) == {"accepted": 2, "duplicates": 0, "rejected": []}
    stored = store.rows("SELECT DISTINCT toString(type), duration_s, bytes, country, province, os FROM events")
    assert stored == [("session", 0, 0, "VN", "", "")]


# -- invalid_field ---------------------------------------------------------------------------------
INVALID = [
    # (test id, field, overrides, words the detail must contain)
    ("duration-string", "duration_s", {"duration_s": "60"}, "must be a JSON integer, got a string"),
    ("bytes-boolean", "bytes", {"bytes": True}, "must be a JSON integer, got a boolean"),
    ("duration-fraction", "duration_s", {"duration_s": 1.5}, "must be a JSON integer, got a number with a fraction"),
    ("duration-float-integral", "duration_s", {"duration_s": 60.0}, "must be a JSON integer"),
    ("duration-over-a-day", "duration_s", {"duration_s": 86_401}, "must be between 0 and 86400, got 86401"),
    ("duration-negative", "duration_s", {"duration_s": -1}, "must be between 0 and 86400, got -1"),
    ("bytes-over-10^12", "bytes", {"bytes": 10**12 + 1}, "must be between 0 and 1000000000000"),
    ("event-id-not-uuid", "event_id", {"event_id": "not-a-uuid"}, "must be a UUID"),
    ("event-id-number", "event_id", {"event_id": 12345}, "must be a JSON string, got an integer"),
    ("platform-number", "platform", {"platform": 7}, "must be a JSON string, got an integer"),
    ("ts-without-offset", "ts", {"ts": "2022-03-15T10:00:00"}, "explicit offset"),
    ("ts-date-only", "ts", {"ts": "2022-03-15"}, "explicit offset"),
    ("ts-epoch-number", "ts", {"ts": 1647313200}, "must be a JSON string, got an integer"),
    ("ts-before-2000", "ts", {"ts": "1999-12-31T23:59:59Z"}, "must not be before 2000-01-01"),
    ("ts-impossible-date", "ts", {"ts": "2022-02-30T10:00:00Z"}, "RFC 3339 timestamp"),
    ("ts-trailing-newline", "ts", {"ts": "2022-03-15T10:00:00Z\n"}, "RFC 3339 timestamp"),
    ("event-id-trailing-newline", "event_id", {"event_id": "123e4567-e89b-12d3-a456-426614174000\n"}, "must be a UUID"),
    ("ts-far-past-offset", "ts", {"ts": "0001-01-01T00:00:00+23:59"}, "must not be before 2000-01-01"),
    ("user-129-chars", "user", {"user": "u" * 129}, "must be 1 to 128 characters, got 129"),
    ("user-empty", "user", {"user": ""}, "must be 1 to 128 characters, got 0"),
    ("user-number", "user", {"user": 42}, "must be a JSON string, got an integer"),
    ("unknown-field", "'session_id'", {"session_id": "abc"}, "unknown field"),
    ("country-unknown", "country", {"country": "ZZ"}, "ISO 3166-1 alpha-2"),
    ("country-lowercase", "country", {"country": "vn"}, "upper-case"),
    ("province-not-listed", "province", {"province": "VN-XX"}, "province list"),
    ("province-outside-vn", "province", {"country": "US", "province": "VN-HN"}, "only allowed with country 'VN'"),
    ("os-unknown", "os", {"os": "windows"}, "must be one of android, ios, web, other"),
    ("type-unknown", "type", {"type": "click"}, "must be 'session' or 'install'"),
    ("type-array", "type", {"type": ["session"]}, "must be 'session' or 'install'"),
]


@pytest.mark.parametrize(("field", "overrides", "problem"), [case[1:] for case in INVALID],
                         ids=[case[0] for case in INVALID])
def test_invalid_field(shared: tuple[Api, dict[str, str]], field: str, overrides: dict[str, Any], problem: str) -> None:
    api, vng = shared
    bad = event(**overrides)
    answer = post(api, vng, [event(), bad])
    event_id = bad["event_id"] if isinstance(bad["event_id"], str) else None
    assert_one_rejected(answer, 1, event_id, "invalid_field", field, problem)


def test_limits_are_inclusive(api: Api, vng: dict[str, str], store: Store) -> None:
    edge = [
        event(user="u" * 128, duration_s=86_400, bytes=10**12, ts="2000-01-01T00:00:00Z"),
        event(user="u", duration_s=0, bytes=0, ts="2000-01-01T07:00:00+07:00", type="install", os="ios"),
        event(event_id=event()["event_id"].upper(), country="US", province=None, os="web"),
    ]
    assert post(api, vng, edge) == {"accepted": 3, "duplicates": 0, "rejected": []}
    # 86_400 + 0 + 60 seconds, 10^12 + 0 + 1_000 bytes
    assert store.rows("SELECT count(), sum(duration_s), sum(bytes) FROM events") == [(3, 86_460, 10**12 + 1_000)]


# -- platform checks -------------------------------------------------------------------------------
def test_unknown_platform(shared: tuple[Api, dict[str, str]]) -> None:
    api, vng = shared
    bad = event(platform="tiktok")
    answer = post(api, vng, [event(), bad])
    assert_one_rejected(answer, 1, bad["event_id"], "unknown_platform", "platform", "'tiktok' is not registered")


def test_platform_of_another_vendor(api: Api, vng: dict[str, str], store: Store) -> None:
    cross = event(platform="mocha")
    answer = post(api, vng, [event(platform="zingmp3"), cross])
    assert_one_rejected(answer, 1, cross["event_id"], "platform_not_allowed", "platform", "another vendor")
    assert store.rows("SELECT platform FROM events") == [("zingmp3",)]
    viettel = api.vendor("viettel")
    assert post(api, viettel, [cross]) == {"accepted": 1, "duplicates": 0, "rejected": []}


# -- future_timestamp ------------------------------------------------------------------------------
def test_future_timestamp(shared: tuple[Api, dict[str, str]]) -> None:
    api, vng = shared
    with time_machine.travel("2030-01-01T00:00:00Z", tick=False):
        on_the_edge = event(ts="2030-01-01T00:05:00Z")  # exactly FUTURE_TOLERANCE ahead: still accepted
        ahead = event(ts="2030-01-01T00:05:00.001Z")
        ahead_in_vn_time = event(ts="2030-01-01T07:06:00+07:00")
        answer = post(api, vng, [on_the_edge, ahead, ahead_in_vn_time])
    assert answer["accepted"] == 1
    assert answer["duplicates"] == 0
    assert answer["rejected"] == [
        {"index": 1, "event_id": ahead["event_id"], "reason": "future_timestamp",
         "detail": "ts: 2030-01-01T00:05:00.001000+00:00 is more than 5 minutes after the server's clock "
                   "(2030-01-01T00:00:00+00:00)"},
        {"index": 2, "event_id": ahead_in_vn_time["event_id"], "reason": "future_timestamp",
         "detail": "ts: 2030-01-01T07:06:00+07:00 is more than 5 minutes after the server's clock "
                   "(2030-01-01T00:00:00+00:00)"},
    ]


# -- month_sealed ----------------------------------------------------------------------------------
def test_month_sealed(api: Api, vng: dict[str, str], store: Store) -> None:
    stored_before = event(ts="2022-01-10T09:00:00+07:00")
    assert post(api, vng, [stored_before])["accepted"] == 1
    sealed = api.client.post("/v1/admin/seal", json={"before": "2022-02"}, headers=ADMIN)
    assert sealed.status_code == 200
    assert sealed.json() == {"sealed_before": "2022-02", "requested": "2022-02", "destroyed_months": ["2022-01"]}

    january = event(ts="2022-01-20T09:00:00+07:00")
    last_january_second_vn = event(ts="2022-01-31T16:59:59.999Z")  # 23:59:59.999 on 31 January in Vietnam
    first_february_second_vn = event(ts="2022-01-31T17:00:00Z")  # 00:00 on 1 February in Vietnam
    february = event(ts="2022-02-01T09:00:00+07:00")
    answer = post(api, vng, [january, last_january_second_vn, first_february_second_vn, february])
    assert answer["accepted"] == 2
    assert answer["duplicates"] == 0
    assert [(r["index"], r["event_id"], r["reason"]) for r in answer["rejected"]] == [
        (0, january["event_id"], "month_sealed"), (1, last_january_second_vn["event_id"], "month_sealed")]
    for rejection in answer["rejected"]:
        assert rejection["detail"].startswith("ts: month 2022-01 is sealed"), rejection["detail"]
    assert scalar(store, "SELECT count() FROM events WHERE day >= '2022-02-01'") == 2
    # an event stored before its month was sealed is answered month_sealed too, and stays stored
    again = post(api, vng, [stored_before])
    assert (again["accepted"], again["duplicates"]) == (0, 0)
    assert [(r["index"], r["event_id"], r["reason"]) for r in again["rejected"]] == [
        (0, stored_before["event_id"], "month_sealed")]
    assert scalar(store, "SELECT count() FROM events WHERE day < '2022-02-01'") == 1


def test_a_request_that_read_the_watermark_before_a_seal_is_still_refused(api: Api, vng: dict[str, str],
                                                                         store: Store) -> None:
    """The watermark is read once per request; a seal in the middle of a request must not let its later
    rows of a just-sealed month through (nor create a new key for that month)."""
    assert post(api, vng, [event(ts="2022-01-10T09:00:00+07:00")])["accepted"] == 1
    services = api.services
    read_before_the_seal = services.pseudonym_keys.sealed_before()
    assert read_before_the_seal == date.min
    assert api.client.post("/v1/admin/seal", json={"before": "2022-02"}, headers=ADMIN).status_code == 200
    request = services.ingestor.request("vng")
    request.open_from = read_before_the_seal
    rows = Rows([0], [orjson.dumps(event(platform="zalo", ts="2022-01-20T09:00:00+07:00"))])
    assert len(services.ingestor.steps(rows, "line", request)) == 0
    assert [(refused.index, refused.rejection.reason) for refused in rows.refused] == [(0, Reason.MONTH_SEALED)]
    assert scalar(store, "SELECT count() FROM pseudonym_keys WHERE month < '2022-02-01'") == 0


def test_seal_needs_admin_and_a_month(api: Api, vng: dict[str, str]) -> None:
    assert api.client.post("/v1/admin/seal", json={"before": "2022-02"}, headers=vng).status_code == 403
    bad = api.client.post("/v1/admin/seal", json={"before": "Feb 2022"}, headers=ADMIN)
    assert bad.status_code == 422
    assert bad.json()["error"].startswith("before: ")


# -- a mixed batch ---------------------------------------------------------------------------------
def test_mixed_gzip_ndjson_batch_and_its_retry(api: Api, vng: dict[str, str], store: Store) -> None:
    good = [event(user=f"user-{n}", duration_s=10 * n, bytes=100 * n) for n in range(1, 6)]
    bad_duration = event(duration_s="60")
    cross_vendor = event(platform="mocha")
    unknown = event(platform="nope")
    no_user = event(without=["user"])
    lines = [
        orjson.dumps(good[0]), orjson.dumps(bad_duration), orjson.dumps(good[1]), b"not json at all",
        orjson.dumps(good[2]), b"", orjson.dumps(cross_vendor), orjson.dumps(good[3]), orjson.dumps(good[0]),
        orjson.dumps(unknown), orjson.dumps([1, 2]), orjson.dumps(no_user), orjson.dumps(good[4]),
    ]
    body = gzip.compress(b"\n".join(lines) + b"\n")
    headers = {**vng, "Content-Type": NDJSON, "Content-Encoding": "gzip"}
    # rows are the non-blank lines, numbered from 0: the blank line between good[2] and cross_vendor is no row
    expected_rejected = [
        (1, bad_duration["event_id"], "invalid_field"), (3, None, "malformed"),
        (5, cross_vendor["event_id"], "platform_not_allowed"), (8, unknown["event_id"], "unknown_platform"),
        (9, None, "malformed"), (10, no_user["event_id"], "missing_field"),
    ]

    first = api.client.post("/v1/events", content=body, headers=headers)
    assert first.status_code == 200
    answer = first.json()
    # 5 distinct good events; good[0] appears twice, so the second copy (row 7) is a duplicate
    assert (answer["accepted"], answer["duplicates"]) == (5, 1)
    assert [(r["index"], r["event_id"], r["reason"]) for r in answer["rejected"]] == expected_rejected

    retry = api.client.post("/v1/events", content=body, headers=headers)
    assert retry.status_code == 200
    again = retry.json()
    assert (again["accepted"], again["duplicates"]) == (0, 6)
    assert again["rejected"] == answer["rejected"]
    # durations 10+20+30+40+50 = 150, bytes 100+200+300+400+500 = 1500
    assert store.rows("SELECT count(), sum(duration_s), sum(bytes) FROM events") == [(5, 150, 1_500)]
