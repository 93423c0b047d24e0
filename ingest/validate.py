"""The `decode` and `validate` steps: one row's bytes to a checked `Event`, or a `Rejection` naming the field.

`decode` is msgspec's typed decoding of `ingest.rows.Event`, which alone decides whether a row fits the
grammar; when it refuses one, `explain` turns its error (which field, which rule) into a detail for the vendor,
showing the value sent. `validate` then applies the checks that need the service's state: the province list
and the clock.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from ingest.limits import (
    EARLIEST_TS,
    FUTURE_TOLERANCE,
    MAX_BYTES,
    MAX_DURATION_S,
    MAX_EVENT_BYTES,
    MAX_PLATFORM_CHARS,
    MAX_USER_CHARS,
)
from ingest.reasons import Reason, Rejection
from ingest.rows import FIELDS, REQUIRED, Event, decode_any, decode_event

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
EARLIEST_US = (EARLIEST_TS - EPOCH) // MICROSECOND
TOLERANCE_US = FUTURE_TOLERANCE // MICROSECOND

# msgspec's error messages end with the path of the value it refused: " - at `$.duration_s`".
AT_FIELD = re.compile(r" - at `\$\.(?P<field>[A-Za-z_]+)`$")
NAMED_FIELD = re.compile(r"field `(?P<field>.*)`$", re.DOTALL)

# What each field must be, as told to a vendor whose value was refused (docs/INGESTION.md has the same rules).
RULES: dict[str, str] = {
    "event_id": "must be a UUID such as '123e4567-e89b-12d3-a456-426614174000'",
    "platform": f"must be a platform id of 1 to {MAX_PLATFORM_CHARS} characters",
    "user": f"must be 1 to {MAX_USER_CHARS} characters",
    "ts": "must be an RFC 3339 timestamp with an explicit offset, such as '2022-03-31T17:30:00Z' or "
          "'2022-04-01T00:30:00+07:00'",
    "type": "must be 'session' or 'install'",
    "duration_s": f"must be between 0 and {MAX_DURATION_S}",
    "bytes": f"must be between 0 and {MAX_BYTES}",
    "country": "must be an upper-case ISO 3166-1 alpha-2 code such as 'VN'",
    "province": "must be an ISO 3166-2:VN code from the province list (GET /v1/provinces)",
    "os": "must be one of android, ios, web, other",
}
INTEGERS = frozenset(("duration_s", "bytes"))
STRINGS = frozenset(("event_id", "platform", "user", "ts", "province"))


def decode(raw: bytes, noun: str = "line") -> Event:
    """The event in `raw` (one NDJSON line or one element of a JSON array), or `Rejection`."""
    if len(raw) > MAX_EVENT_BYTES:
        raise Rejection(Reason.TOO_LARGE, f"the {noun} is {len(raw)} bytes; an event is at most {MAX_EVENT_BYTES} "
                                          "bytes", sent=None)
    try:
        return decode_event(raw)
    except msgspec.ValidationError as error:
        raise explain(str(error), raw, noun) from None
    except msgspec.DecodeError as error:
        raise Rejection(Reason.MALFORMED, f"{noun} is not valid JSON: {error}", sent=None) from None


def decode_all(raws: Sequence[bytes]) -> list[Event] | None:
    """`decode` of every row when it refuses none (the usual request), decided for them at once; else None."""
    if max(map(len, raws), default=0) > MAX_EVENT_BYTES:
        return None
    try:
        return list(map(decode_event, raws))
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def instants_us(events: Sequence[Event]) -> list[int]:
    """Each event's `ts` in epoch microseconds."""
    return [(event.ts - EPOCH) // MICROSECOND for event in events]  # no overflow: aware datetimes subtract as is


def validate(event: Event, ts_us: int, provinces: Collection[str], now_us: int) -> None:
    """Check what the grammar cannot know (the province list, the clock); `ts_us` is the event's instant."""
    if ts_us < EARLIEST_US:
        raise Rejection(Reason.INVALID_FIELD, f"ts: must not be before {EARLIEST_TS.date().isoformat()}, got "
                        f"{event.ts.isoformat()}", "ts")
    if ts_us > now_us + TOLERANCE_US:
        now = EPOCH + timedelta(microseconds=now_us)
        raise Rejection(Reason.FUTURE_TIMESTAMP, f"ts: {event.ts.isoformat()} is more than "
                        f"{int(FUTURE_TOLERANCE.total_seconds() // 60)} minutes after the server's clock "
                        f"({now.isoformat(timespec='seconds')})", "ts")
    check_province(event.province, event.country, provinces)


def check_province(province: str | None, country: str | None, provinces: Collection[str]) -> None:
    if province is None:
        return
    if province not in provinces:
        raise Rejection(Reason.INVALID_FIELD, f"province: {RULES['province']}, got {_brief(province)}", "province")
    if country not in (None, "VN"):
        raise Rejection(Reason.INVALID_FIELD, f"province: only allowed with country 'VN', got country {country!r}",
                        "province")


def all_valid(events: Sequence[Event], ts_us: Sequence[int], provinces: Collection[str], now_us: int) -> bool:
    """Whether `validate` passes every one of `events` (instants `ts_us`), decided for them at once: the earliest
    and the latest instant are in bounds, and each distinct province sent passes with its country."""
    if not ts_us:
        return True
    if min(ts_us) < EARLIEST_US or max(ts_us) > now_us + TOLERANCE_US:
        return False
    if {event.province for event in events} == {None}:  # the usual request: no province at all
        return True
    try:
        for province, country in {(event.province, event.country) for event in events}:
            check_province(province, country, provinces)
    except Rejection:
        return False
    return True


def read_sent(raw: bytes) -> Any:
    """The row as plain JSON (for the answer and the counts of a rejected row), or None when it is not JSON or
    too large to be read."""
    if len(raw) > MAX_EVENT_BYTES:
        return None
    try:
        return decode_any(raw)
    except (msgspec.DecodeError, RecursionError):
        return None


def explain(message: str, raw: bytes, noun: str = "line") -> Rejection:
    """The rejection for a row msgspec refused with `message`, showing the value sent."""
    try:
        row = decode_any(raw)
    except msgspec.DecodeError as error:  # the typed decoder stops at the first bad value, before the syntax
        return Rejection(Reason.MALFORMED, f"{noun} is not valid JSON: {error}", sent=None)
    except RecursionError:
        return Rejection(Reason.MALFORMED, f"{noun} is nested too deeply to be an event", sent=None)
    rejection = _explain(message, row)
    rejection.sent = row
    return rejection


def _explain(message: str, row: Any) -> Rejection:
    at = AT_FIELD.search(message)
    if at is None:
        named = NAMED_FIELD.search(message)
        if message.startswith("Object missing required field") and named:
            field = named.group("field")
            return Rejection(Reason.MISSING_FIELD, f"{field}: required field is missing", field)
        if message.startswith("Object contains unknown field") and named:
            field = named.group("field")
            return Rejection(Reason.INVALID_FIELD, f"{_brief(field)}: unknown field; allowed: "
                             f"{', '.join(sorted(FIELDS))}", field)
        return Rejection(Reason.MALFORMED, f"row must be a JSON object, got {_json_type(row)}")
    field = at.group("field")
    value = row.get(field) if isinstance(row, dict) else None
    if value is None and field in REQUIRED:
        return Rejection(Reason.MISSING_FIELD, f"{field}: required field is missing", field)
    if field in INTEGERS and type(value) is not int:
        return Rejection(Reason.INVALID_FIELD, f"{field}: must be a JSON integer, got {_json_type(value)}", field)
    if field in STRINGS and not isinstance(value, str):
        return Rejection(Reason.INVALID_FIELD, f"{field}: must be a JSON string, got {_json_type(value)}", field)
    if field in ("user", "platform") and isinstance(value, str):
        return Rejection(Reason.INVALID_FIELD, f"{field}: {RULES[field]}, got {len(value)}", field)
    return Rejection(Reason.INVALID_FIELD, f"{field}: {RULES.get(field, 'is not valid')}, got {_brief(value)}",
                     field)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number with a fraction"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _brief(value: Any) -> str:
    """A short, safe rendering of a bad value for an error message."""
    if isinstance(value, str):
        return repr(value[:40] + ("…" if len(value) > 40 else ""))
    if isinstance(value, dict | list):
        return _json_type(value)
    return repr(value)
