"""Events as POST /v1/events takes them (docs/INGESTION.md, "The event"), each with its `event_id` fixed when it is
created, so that every later attempt to send it is the same event to the service."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

FIELDS = ("event_id", "platform", "user", "type", "ts", "duration_s", "bytes", "country", "province", "os")


def timestamp(ts: datetime | str) -> str:
    """`ts` as the API takes it: an aware datetime in RFC 3339 to the millisecond; a string as it is."""
    if isinstance(ts, str):
        return ts
    if not isinstance(ts, datetime):
        raise TypeError(f"ts: must be a datetime or an RFC 3339 string, got {type(ts).__name__}")
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ValueError(f"ts: a datetime needs a time zone (such as datetime.now(UTC)), got the naive {ts}")
    return ts.isoformat(timespec="milliseconds")


def new_event(platform: str, user: str, ts: datetime | str, *, type: str = "session",
              duration_s: int | None = None, bytes: int | None = None, country: str | None = None,
              province: str | None = None, os: str | None = None, event_id: str | None = None) -> dict[str, Any]:
    """One event with a new UUIDv4 `event_id` (unless one is given); fields left at None are not sent. The keyword
    names are the API's field names (`type` and `bytes` included)."""
    event: dict[str, Any] = {"event_id": event_id or str(uuid.uuid4()), "platform": platform, "user": user,
                             "type": type, "ts": timestamp(ts)}
    optional = {"duration_s": duration_s, "bytes": bytes, "country": country, "province": province, "os": os}
    event.update({name: value for name, value in optional.items() if value is not None})
    return event


def with_event_id(event: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `event` that has an `event_id`: its own, or a new UUIDv4 when it has none (or null). A datetime
    `ts` becomes its RFC 3339 text. Other fields are sent as they are: the service checks them, row by row."""
    if not isinstance(event, Mapping):
        raise TypeError(f"an event must be a mapping of field names to values, got {type(event).__name__}")
    copy = dict(event)
    if copy.get("event_id") is None:
        copy["event_id"] = str(uuid.uuid4())
    if isinstance(copy.get("ts"), datetime):
        copy["ts"] = timestamp(copy["ts"])
    return copy


def encode(event: Mapping[str, Any]) -> bytes:
    """One NDJSON line (without its newline); ValueError for what JSON cannot hold (NaN, infinities)."""
    try:
        return json.dumps(event, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except TypeError as exc:
        raise TypeError(f"an event must hold only JSON values: {exc}") from None
