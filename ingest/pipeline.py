"""Ingestion as named steps: decode → validate → check_platform → check_month → pseudonymise → dedupe+write.

Each row either reaches the writer or is rejected with one reason from `ingest.reasons.Reason`;
valid rows of a request are kept even when others are rejected. Whole-request problems raise
`ingest.decode.RequestRejected`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ingest.decode import rows
from ingest.pseudonymise import KeyStore, pseudonym
from ingest.reasons import Reason, Rejection
from ingest.validate import Event, validate
from ingest.vntime import local_day, month_of
from ingest.write import StoredEvent, Writer
from queries.registry import Platform, Registry

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_DAY = EPOCH.date()
MILLISECOND = timedelta(milliseconds=1)


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


def check_platform(event: Event, platforms: Mapping[str, Platform], vendor: str) -> None:
    registered = platforms.get(event.platform)
    if registered is None:
        raise Rejection(Reason.UNKNOWN_PLATFORM, f"platform: {event.platform[:64]!r} is not registered", "platform")
    if registered.vendor != vendor:
        raise Rejection(Reason.PLATFORM_NOT_ALLOWED,
                        f"platform: {event.platform!r} belongs to another vendor; this key may post only for "
                        f"vendor {vendor!r}", "platform")


class Ingestor:
    """Runs the steps for one request on behalf of one vendor."""

    def __init__(self, registry: Registry, keys: KeyStore, writer: Writer, zone: ZoneInfo,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.registry = registry
        self.keys = keys
        self.writer = writer
        self.zone = zone
        self.clock = clock

    def ingest(self, body: bytes, content_type: str | None, content_encoding: str | None, vendor: str
               ) -> IngestResult:
        raw_rows = rows(body, content_type, content_encoding)
        now = self.clock()
        provinces: Collection[str] = self.registry.provinces().keys()
        platforms = self.registry.platforms()
        ready: list[StoredEvent] = []
        result = IngestResult()
        open_from = self.keys.sealed_before()  # read once per request
        for index, raw in enumerate(raw_rows):
            try:
                if raw.error is not None:
                    raise Rejection(Reason.MALFORMED, raw.error)
                event = validate(raw.value, provinces, now)
                check_platform(event, platforms, vendor)
                ready.append(self.pseudonymise(event, open_from))
            except Rejection as rejection:
                result.rejected.append({"index": index, "event_id": _event_id(raw.value),
                                        "reason": str(rejection.reason), "detail": rejection.detail})
        written = self.writer.write(ready)
        result.accepted, result.duplicates = written.accepted, written.duplicates
        return result

    def pseudonymise(self, event: Event, open_from: date) -> StoredEvent:
        """Replace the user by its pseudonym for the event's platform and month (refusing months before
        `open_from`, the first month that is not sealed)."""
        day = local_day(event.ts, self.zone)
        month = month_of(day)
        if month < open_from:
            self.keys.check_open(month)
        key = self.keys.key(event.platform, month)
        return StoredEvent(event.platform, event.event_id, int(event.event_id.replace("-", ""), 16),
                           pseudonym(event.user, key), event.type, (event.ts - EPOCH) // MILLISECOND,
                           (day - EPOCH_DAY).days, event.duration_s, event.bytes, event.country, event.province,
                           event.os)


def _event_id(value: Any) -> str | None:
    if isinstance(value, dict):
        event_id = value.get("event_id")
        if isinstance(event_id, str):
            return event_id[:64]
    return None
