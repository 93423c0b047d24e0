"""Ingestion as named steps: decode → validate → check_platform → check_month → pseudonymise → dedupe+write.

Each row either reaches the writer or is rejected with one reason from `ingest.reasons.Reason`;
valid rows of a request are kept even when others are rejected. Whole-request problems raise
`ingest.decode.RequestRejected`. NDJSON lines in the plain, common form take the C fast path
(`ingest.fastpath`), which does the same steps; every other line, and every JSON-array row, takes the
Python steps below, which decide and explain it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ingest.decode import RawRow, json_array, ndjson_lines, parse_line, read
from ingest.fastpath import Scanner, StoredRow, zone_for
from ingest.pseudonymise import KeyStore, pseudonym
from ingest.reasons import Reason, Rejection
from ingest.validate import Event, validate
from ingest.vntime import local_day, month_of
from ingest.write import StoredEvent, Writer, WriteResult
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
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), fast_path: bool = True):
        self.registry = registry
        self.keys = keys
        self.writer = writer
        self.zone = zone
        self.clock = clock
        self.fast_path = fast_path
        zone_for(zone, clock())  # built once per process (about 0.3 s), not on the first request

    def ingest(self, body: bytes, content_type: str | None, content_encoding: str | None, vendor: str
               ) -> IngestResult:
        """Run every step for one request; returns once its accepted rows are stored."""
        return self.submit(body, content_type, content_encoding, vendor).result()

    def submit(self, body: bytes, content_type: str | None, content_encoding: str | None, vendor: str
               ) -> Future[IngestResult]:
        """Run the steps up to the writer; the future completes once the accepted rows are stored (the HTTP
        route awaits it without holding a worker thread, so waiting requests can form larger groups)."""
        is_ndjson, data = read(body, content_type, content_encoding)
        now = self.clock()
        provinces: Collection[str] = self.registry.provinces().keys()
        platforms = self.registry.platforms()
        open_from = self.keys.sealed_before()  # read once per request
        ready: list[StoredRow] = []
        result = IngestResult()

        def take(index: int, raw: RawRow) -> None:
            try:
                ready.append(self.steps(raw, provinces, platforms, vendor, now, open_from))
            except Rejection as rejection:
                result.rejected.append({"index": index, "event_id": _event_id(raw.value),
                                        "reason": str(rejection.reason), "detail": rejection.detail})

        if is_ndjson:
            lines = ndjson_lines(data)
            own = [platform for platform, registered in platforms.items() if registered.vendor == vendor]
            scanner = Scanner(own, provinces, open_from, now, self.zone, self.keys.key)
            fast = scanner.scan(lines) if self.fast_path else [None] * len(lines)
            for index, (line, row) in enumerate(zip(lines, fast, strict=True)):
                if row is None:
                    take(index, parse_line(line))
                else:
                    ready.append(row)
        else:
            for index, raw in enumerate(json_array(data)):
                take(index, raw)
        done: Future[IngestResult] = Future()

        def finish(written: Future[WriteResult]) -> None:
            error = written.exception()
            if error is not None:
                done.set_exception(error)
                return
            stored = written.result()
            result.accepted, result.duplicates = stored.accepted, stored.duplicates
            done.set_result(result)

        self.writer.submit(ready).add_done_callback(finish)
        return done

    def steps(self, raw: RawRow, provinces: Collection[str], platforms: Mapping[str, Platform], vendor: str,
              now: datetime, open_from: date) -> StoredRow:
        """The Python steps for one row: its stored row, or `Rejection`."""
        if raw.error is not None:
            raise Rejection(Reason.MALFORMED, raw.error)
        event = validate(raw.value, provinces, now)
        check_platform(event, platforms, vendor)
        return self.pseudonymise(event, open_from).row()

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
