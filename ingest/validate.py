"""The `validate` step: check one row against the event schema and normalise it.

JSON types are strict: a string is not a number and a bool is not an integer. Optional fields may be
absent or null. Unknown fields reject the row. Every rejection names the field and the problem.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingest.countries import COUNTRY_CODES
from ingest.limits import EARLIEST_TS, FUTURE_TOLERANCE, MAX_BYTES, MAX_DURATION_S, MAX_USER_CHARS
from ingest.reasons import Reason, Rejection

FIELDS = frozenset(
    {"event_id", "platform", "user", "type", "ts", "duration_s", "bytes", "country", "province", "os"}
)
TYPES = ("session", "install")
OS_VALUES = frozenset({"android", "ios", "web", "other"})
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
RFC3339_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)


@dataclass(slots=True)
class Event:
    """A valid event, normalised; `user` is still the vendor's id until `pseudonymise` replaces it."""

    event_id: str
    platform: str
    user: str
    type: str
    ts: datetime
    duration_s: int
    bytes: int
    country: str
    province: str
    os: str


def validate(row: Any, provinces: Collection[str], now: datetime) -> Event:
    """Return the normalised event or raise `Rejection` with the first problem found."""
    if not isinstance(row, dict):
        raise Rejection(Reason.MALFORMED, f"row must be a JSON object, got {_json_type(row)}")
    unknown = row.keys() - FIELDS
    if unknown:
        name = sorted(unknown)[0]
        raise Rejection(Reason.INVALID_FIELD, f"{_shown(name)}: unknown field; allowed: {', '.join(sorted(FIELDS))}",
                        name)
    event_id = _required_str(row, "event_id")
    if not UUID_RE.match(event_id):
        raise Rejection(Reason.INVALID_FIELD, "event_id: must be a UUID such as "
                        "'123e4567-e89b-12d3-a456-426614174000'", "event_id")
    platform = _required_str(row, "platform")
    user = _required_str(row, "user")
    if not 1 <= len(user) <= MAX_USER_CHARS:
        raise Rejection(Reason.INVALID_FIELD, f"user: must be 1 to {MAX_USER_CHARS} characters, got {len(user)}",
                        "user")
    kind = row.get("type")
    if kind is None:
        kind = "session"
    elif kind not in TYPES:
        raise Rejection(Reason.INVALID_FIELD, f"type: must be 'session' or 'install', got {_brief(kind)}", "type")
    ts = _timestamp(_required_str(row, "ts"), now)
    duration = _integer(row, "duration_s", MAX_DURATION_S)
    size = _integer(row, "bytes", MAX_BYTES)
    country = row.get("country")
    if country is None:
        country = "VN"
    elif not isinstance(country, str) or country not in COUNTRY_CODES:
        raise Rejection(Reason.INVALID_FIELD, f"country: must be an upper-case ISO 3166-1 alpha-2 code such as "
                        f"'VN', got {_brief(country)}", "country")
    province = row.get("province")
    if province is None:
        province = ""
    elif not isinstance(province, str) or province not in provinces:
        raise Rejection(Reason.INVALID_FIELD, f"province: must be an ISO 3166-2:VN code from the province list "
                        f"(GET /v1/provinces), got {_brief(province)}", "province")
    elif country != "VN":
        raise Rejection(Reason.INVALID_FIELD, f"province: only allowed with country 'VN', got country {country!r}",
                        "province")
    os_name = row.get("os")
    if os_name is None:
        os_name = ""
    elif not isinstance(os_name, str) or os_name not in OS_VALUES:
        raise Rejection(Reason.INVALID_FIELD, f"os: must be one of android, ios, web, other, got {_brief(os_name)}",
                        "os")
    return Event(event_id.lower(), platform, user, kind, ts, duration, size, country, province, os_name)


def _required_str(row: dict[str, Any], name: str) -> str:
    value = row.get(name)
    if value is None:
        raise Rejection(Reason.MISSING_FIELD, f"{name}: required field is missing", name)
    if not isinstance(value, str):
        raise Rejection(Reason.INVALID_FIELD, f"{name}: must be a JSON string, got {_json_type(value)}", name)
    return value


def _integer(row: dict[str, Any], name: str, maximum: int) -> int:
    value = row.get(name)
    if value is None:
        return 0
    if type(value) is not int:
        raise Rejection(Reason.INVALID_FIELD, f"{name}: must be a JSON integer, got {_json_type(value)}", name)
    if not 0 <= value <= maximum:
        raise Rejection(Reason.INVALID_FIELD, f"{name}: must be between 0 and {maximum}, got {value}", name)
    return value


def _timestamp(text: str, now: datetime) -> datetime:
    match = RFC3339_RE.match(text)
    if not match:
        raise Rejection(Reason.INVALID_FIELD, "ts: must be an RFC 3339 timestamp with an explicit offset, such as "
                        f"'2022-03-31T17:30:00Z' or '2022-04-01T00:30:00+07:00', got {_brief(text)}", "ts")
    fraction = match.group(7) or ""
    try:
        if text[10] == "T" and match.group(8) != "z" and len(fraction) <= 7:
            parsed = datetime.fromisoformat(text)  # the common form, as sent
        else:  # datetime keeps microseconds; fromisoformat wants 'T' and an upper-case 'Z'
            offset = match.group(8).upper().replace("Z", "+00:00")
            parsed = datetime.fromisoformat(f"{text[:19].replace(' ', 'T').replace('t', 'T')}{fraction[:7]}{offset}")
    except ValueError as exc:
        raise Rejection(Reason.INVALID_FIELD, f"ts: not a valid date and time: {exc}", "ts") from None
    parsed = parsed.astimezone(UTC)
    if parsed < EARLIEST_TS:
        raise Rejection(Reason.INVALID_FIELD, f"ts: must not be before {EARLIEST_TS.date().isoformat()}, got {text}",
                        "ts")
    if parsed > now + FUTURE_TOLERANCE:
        raise Rejection(Reason.FUTURE_TIMESTAMP, f"ts: {text} is more than "
                        f"{int(FUTURE_TOLERANCE.total_seconds() // 60)} minutes after the server's clock "
                        f"({now.isoformat(timespec='seconds')})", "ts")
    return parsed


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


def _shown(name: str) -> str:
    return repr(name[:40] + ("…" if len(name) > 40 else ""))
