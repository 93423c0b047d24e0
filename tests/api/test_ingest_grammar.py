"""The grammar of every field, tried with generated values across and just outside what it accepts.

Each generated row is a valid event with at most one field replaced; the value is drawn from a strategy that
says what must become of it: stored (with the canonical value this test computes itself), or refused as a
row with a given reason naming the field. The same rows go in as a JSON array and as NDJSON lines. Whatever
validation accepts, ClickHouse stores (with exactly the values this test expects); whatever it refuses is a
per-row rejection with its reason; no request fails as a whole.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.countries import COUNTRY_CODES
from ingest.limits import MAX_BYTES, MAX_DURATION_S, MAX_EVENT_BYTES, MAX_PLATFORM_CHARS, MAX_USER_CHARS
from ingest.validate import decode
from tests.factories import NDJSON, Api, api_on_fresh_store

VN = ZoneInfo("Asia/Ho_Chi_Minh")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOW = datetime.now(UTC)
PROVINCES = ("VN-HN", "VN-SG", "VN-44")
MISSING = object()  # the field is left out
SOON = object()  # six minutes after the clock when the row is drawn (the module may be imported minutes earlier)


@dataclass(frozen=True)
class Value:
    """A value for one field and what must become of a row carrying it: `stored` is the canonical value the
    stored row must hold, or `reason` the rejection."""

    raw: Any
    reason: str | None = None
    stored: Any = None


def accepted(raw: Any, stored: Any = None) -> Value:
    return Value(raw, None, raw if stored is None else stored)


def refused(raw: Any, reason: str = "invalid_field") -> Value:
    return Value(raw, reason)


# -- per field: values inside the grammar and just outside it -----------------------------------------------
def event_ids() -> st.SearchStrategy[Value]:
    valid = st.uuids().flatmap(lambda u: st.sampled_from([
        accepted(str(u), str(u)), accepted(str(u).upper(), str(u)), accepted(u.hex, str(u))]))
    invalid = st.uuids().flatmap(lambda u: st.sampled_from([
        refused(str(u) + "\n"), refused(" " + str(u)), refused("{" + str(u) + "}"), refused(str(u)[:-1]),
        refused(str(u)[:-1] + "g"), refused(str(u)[:-1] + "\u0661"), refused(u.int), refused(None, "missing_field"),
        refused(MISSING, "missing_field")]))
    return st.one_of(valid, invalid)


def platforms() -> st.SearchStrategy[Value]:
    return st.one_of(
        st.sampled_from([accepted("zalo"), accepted("zingmp3")]),
        st.sampled_from([refused("mocha", "platform_not_allowed"), refused("tiktok", "unknown_platform"),
                         refused("zalo\n", "unknown_platform"), refused("ZALO", "unknown_platform"),
                         refused("", "invalid_field"), refused("p" * 65, "invalid_field"), refused(7),
                         refused(None, "missing_field"), refused(MISSING, "missing_field")]))


def users() -> st.SearchStrategy[Value]:
    # every code point a JSON string can carry, surrogate halves excepted (json.dumps escapes those, and a lone
    # half is not text: refused as malformed)
    text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=MAX_USER_CHARS)
    return st.one_of(text.map(lambda u: accepted(u, "")),
                     st.text(min_size=MAX_USER_CHARS + 1, max_size=MAX_USER_CHARS + 3).map(refused),
                     st.sampled_from([refused(""), refused(42), refused(["u"]), refused(None, "missing_field"),
                                      refused("\ud800", "malformed")]))


def timestamps() -> st.SearchStrategy[Value]:
    instants = st.datetimes(min_value=datetime(2000, 1, 2), max_value=(NOW - timedelta(hours=1)).replace(tzinfo=None),
                            timezones=st.just(UTC))
    offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(lambda m: timedelta(minutes=m))

    def render(instant: datetime, offset: timedelta, form: int) -> Value:
        local = instant.astimezone(timezone(offset))
        text = local.isoformat()  # YYYY-MM-DDTHH:MM:SS[.ffffff]+HH:MM
        if form == 1 and offset == timedelta(0):
            text = text.replace("+00:00", "Z")
        elif form == 2:
            text = text.replace("T", " ")
        elif form == 3:
            text = text.replace("T", "t").replace("+00:00", "z")
        return accepted(text, instant)

    valid = st.builds(render, instants, offsets, st.integers(0, 3))
    invalid = st.sampled_from([
        refused("1999-12-31T23:59:59Z"), refused("0001-01-01T00:00:00+23:59"),
        refused("9999-12-31T23:59:59-23:59", "future_timestamp"), refused("2099-01-01T00:00:00Z", "future_timestamp"),
        refused(SOON, "future_timestamp"),
        refused("2022-03-31T17:30:00"), refused("2022-03-31"), refused("2022-02-30T10:00:00Z"),
        refused("2022-03-31T17:30:60Z"), refused("2022-03-31T24:00:00Z"), refused("2022-03-31T17:30:00+24:00"),
        refused("2022-03-31T17:30:00Z\n"), refused("2022-03-31T17:30:00+07"), refused(1648747800),
        refused(None, "missing_field"), refused(MISSING, "missing_field")])
    return st.one_of(valid, invalid)


def integers(maximum: int) -> st.SearchStrategy[Value]:
    return st.one_of(
        st.integers(0, maximum).map(accepted), st.just(accepted(None, 0)), st.just(accepted(MISSING, 0)),
        st.sampled_from([refused(-1), refused(maximum + 1), refused(2**64), refused(1.0), refused(1.5),
                         refused(True), refused("60")]))


def choices(allowed: tuple[str, ...], default: str) -> st.SearchStrategy[Value]:
    return st.one_of(
        st.sampled_from(allowed).map(accepted), st.just(accepted(None, default)), st.just(accepted(MISSING, default)),
        st.sampled_from(allowed).flatmap(lambda a: st.sampled_from([refused(a.upper() if a != a.upper() else a.lower()),
                                                                    refused(a + " "), refused(a + "\n")])),
        st.sampled_from([refused(""), refused(3), refused([allowed[0]])]))


FIELDS: dict[str, st.SearchStrategy[Value]] = {
    "event_id": event_ids(), "platform": platforms(), "user": users(), "ts": timestamps(),
    "type": choices(("session", "install"), "session"),
    "duration_s": integers(MAX_DURATION_S), "bytes": integers(MAX_BYTES),
    "country": choices(tuple(sorted(COUNTRY_CODES)), "VN"),
    "province": st.one_of(st.sampled_from(PROVINCES).map(accepted), st.just(accepted(None, "")),
                          st.sampled_from([refused("VN-XX"), refused("vn-hn"), refused("VN-HN\n"), refused(1)])),
    "os": choices(("android", "ios", "web", "other"), ""),
}


@st.composite
def rows(draw: st.DrawFn) -> tuple[dict[str, Any], str | None, str | None, dict[str, Any]]:
    """(the row as sent, its expected reason, the field named, the stored values expected if accepted)."""
    base = {"event_id": str(draw(st.uuids())), "platform": "zalo", "user": "u", "ts": "2022-03-15T10:00:00+07:00",
            "country": "VN"}
    expect = {"event_id": base["event_id"], "platform": "zalo",
              "ts": datetime(2022, 3, 15, 3, tzinfo=UTC), "type": "session", "duration_s": 0, "bytes": 0,
              "country": "VN", "province": "", "os": ""}
    name = draw(st.sampled_from([*FIELDS, None]))
    if name is None:
        return base, None, None, expect
    value = draw(FIELDS[name])
    row = dict(base)
    if value.raw is MISSING:
        row.pop(name, None)
    elif value.raw is SOON:
        row[name] = (datetime.now(UTC) + timedelta(minutes=6)).isoformat()
    else:
        row[name] = value.raw
    if name == "province" and value.reason is None:
        row["country"] = "VN"
    if name == "country" and value.reason is None and value.stored != "VN":
        row.pop("province", None)
    if value.reason is not None:
        return row, value.reason, None if value.reason == "malformed" else name, expect
    if name != "user":
        expect[name] = value.stored
    return row, None, None, expect


@pytest.fixture(scope="module")
def api(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, dict[str, str]]]:
    with api_on_fresh_store(chdb_dir, tmp_path_factory.mktemp("grammar")) as running:
        running.put_platform("zalo", "vng")
        running.put_platform("zingmp3", "vng")
        running.put_platform("mocha", "viettel")
        for code in PROVINCES:
            assert code in running.services.registry.provinces(), code
        yield running, running.vendor("vng")


def encode(row: dict[str, Any]) -> bytes:
    return json.dumps(row, ensure_ascii=True).encode()  # escapes lone surrogate halves as \\udXXX


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(batch=st.lists(rows(), min_size=1, max_size=25), as_ndjson=st.booleans())
def test_whatever_validation_accepts_is_stored_and_the_rest_is_refused_by_row(
        api: tuple[Api, dict[str, str]], batch: list[tuple[dict[str, Any], str | None, str | None, dict[str, Any]]],
        as_ndjson: bool) -> None:
    running, vng = api
    for row, reason, _, expect in batch:  # a new id in the same form for every event to store: the store is shared
        if reason is None:
            fresh = uuid.uuid4()
            sent = row["event_id"]
            row["event_id"] = fresh.hex if len(sent) == 32 else str(fresh).upper() if sent.isupper() else str(fresh)
            expect["event_id"] = str(fresh)
    body = b"\n".join(encode(row) for row, *_ in batch) if as_ndjson else b"[" + b",".join(
        encode(row) for row, *_ in batch) + b"]"
    response = running.client.post("/v1/events", content=body,
                                   headers={**vng, "Content-Type": NDJSON if as_ndjson else "application/json"})
    if not as_ndjson and any(reason == "malformed" for _, reason, _, _ in batch):
        # a lone surrogate half is not text: in an NDJSON line it is that line's problem, in a JSON array the
        # body's (the array cannot be read at all)
        assert response.status_code == 400 and "not valid JSON" in response.json()["error"], response.text
        return
    assert response.status_code == 200, response.text
    answer = response.json()
    refused_rows = {r["index"]: r for r in answer["rejected"]}
    expected_refusals = {i: (reason, field) for i, (_, reason, field, _) in enumerate(batch) if reason is not None}
    assert {i: r["reason"] for i, r in refused_rows.items()} == {i: r for i, (r, _) in expected_refusals.items()}
    for i, (reason, field) in expected_refusals.items():
        if field is not None and reason != "missing_field" or field in ("event_id", "user", "ts", "platform"):
            assert field is None or refused_rows[i]["detail"].startswith(f"{field}: "), refused_rows[i]
    good = [expect for _, reason, _, expect in batch if reason is None]
    assert answer["accepted"] + answer["duplicates"] == len(good)
    stored = stored_rows(running, [str(uuid.UUID(e["event_id"])) for e in good])
    for expect in good:
        canonical = str(uuid.UUID(expect["event_id"]))
        ts = expect["ts"]
        local_day = ts.astimezone(VN).date()
        assert stored[canonical] == (
            expect["platform"], expect["type"], (ts - EPOCH) // timedelta(milliseconds=1), local_day,
            expect["duration_s"], expect["bytes"], expect["country"], expect["province"], expect["os"]), canonical


def stored_rows(running: Api, ids: list[str]) -> dict[str, tuple[Any, ...]]:
    store = running.services.store
    found = store.rows(
        "SELECT toString(event_id), platform, toString(type), toUnixTimestamp64Milli(ts), day, duration_s, bytes, "
        "country, province, os FROM events WHERE event_id IN {ids:Array(UUID)}", {"ids": ids})
    return {row[0]: tuple(row[1:]) for row in found}


def escaped(text: str) -> str:
    """`text` with every character written as a JSON escape (astral characters as a surrogate pair)."""
    units = text.encode("utf-16-be")
    return "".join(f"\\u{int.from_bytes(units[i:i + 2], 'big'):04x}" for i in range(0, len(units), 2))


def test_the_longest_event_the_grammar_accepts_fits_max_event_bytes() -> None:
    """Every field at its maximum and every string character, names included, written as a JSON escape:
    still within MAX_EVENT_BYTES and still an event, so the line cap never refuses a valid event."""
    longest = {"event_id": str(uuid.UUID(int=2**128 - 1)), "platform": "p" * MAX_PLATFORM_CHARS,
               "user": "\U0001F600" * MAX_USER_CHARS, "type": "install", "ts": "2022-03-31T17:30:00.123456789+07:00",
               "duration_s": MAX_DURATION_S, "bytes": MAX_BYTES, "country": "VN", "province": "VN-HN",
               "os": "android"}
    fully = "{" + ", ".join(f'"{escaped(name)}": ' + (f'"{escaped(value)}"' if isinstance(value, str) else str(value))
                            for name, value in longest.items()) + "}"
    event = decode(fully.encode())
    assert event.user == longest["user"] and event.platform == longest["platform"]
    assert len(fully.encode()) <= MAX_EVENT_BYTES, len(fully.encode())
