"""Ingestion as named steps, run for every row of a request:

    decode -> validate -> check_platform -> check_month -> pseudonymise -> dedupe_write

Each step either passes the row on or raises `Rejection` with one reason of the closed set
`ingest.reasons.Reason`; valid rows of a request are kept when others are rejected. Whole-request problems
(media type, size, not JSON at all) raise `ingest.decode.RequestRejected` before any row is looked at.

    step            reasons
    decode          malformed, missing_field, invalid_field   (ingest.validate.decode: the grammar)
    validate        invalid_field, future_timestamp           (the province list, the clock)
    check_platform  unknown_platform, platform_not_allowed
    check_month     month_sealed
    pseudonymise    -                                         (the stored row: ingest.rows)
    dedupe_write    - (a repeat is counted as a duplicate)    (ingest.write.Writer)
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from ingest import validate as grammar
from ingest.decode import json_array, ndjson_lines, read
from ingest.pseudonymise import PSEUDONYM_BYTES, KeyStore
from ingest.quality import UNKNOWN_MONTH, Tally, lateness
from ingest.reasons import UNREAD, Reason, Rejection
from ingest.rows import Event, StoredRow, stored_line
from ingest.vntime import DAY_US, Calendar
from ingest.write import Writer, WriteResult
from queries.registry import Platform, Registry

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
QUALITY_KEY = itemgetter(0, 3, 4)  # a stored row's (platform, month, lateness)


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


@dataclass
class Request:
    """What the steps need to know of one request, read once when it arrives."""

    vendor: str
    platforms: Mapping[str, Platform]
    provinces: Collection[str]
    now_us: int
    open_from: date  # the first month that is not sealed
    hashers: dict[tuple[str, date], Any] = field(default_factory=dict)  # keyed BLAKE2b, per platform-month


def check_platform(event: Event, request: Request) -> None:
    registered = request.platforms.get(event.platform)
    if registered is None:
        raise Rejection(Reason.UNKNOWN_PLATFORM, f"platform: {event.platform!r} is not registered", "platform")
    if registered.vendor != request.vendor:
        raise Rejection(Reason.PLATFORM_NOT_ALLOWED,
                        f"platform: {event.platform!r} belongs to another vendor; this key may post only for "
                        f"vendor {request.vendor!r}", "platform")


def check_month(month: date, request: Request, keys: KeyStore) -> None:
    if month < request.open_from:
        keys.check_open(month)  # raises month_sealed; asks the store, not the request's copy


def pseudonymise(event: Event, ts_us: int, day: int, month: date, request: Request, keys: KeyStore) -> StoredRow:
    """The stored row: the user replaced by keyed BLAKE2b-128 of the id, with the key of the event's platform
    and month (ingest.pseudonymise), and every optional field given its stored default."""
    hasher = request.hashers.get((event.platform, month))
    if hasher is None:
        hasher = hashlib.blake2b(key=keys.key(event.platform, month), digest_size=PSEUDONYM_BYTES)
        request.hashers[(event.platform, month)] = hasher
    pseudo = hasher.copy()  # the key's block is hashed once per request, not once per event
    pseudo.update(event.user.encode())
    line = stored_line(event.platform, event.event_id, pseudo.hexdigest(), event.type or "session", ts_us // 1000,
                       day, event.duration_s or 0, event.bytes or 0, event.country or "VN", event.province or "",
                       event.os or "")
    return event.platform, event.event_id.int, line, month, lateness(request.now_us, ts_us)


class Ingestor:
    """Runs the steps for one request on behalf of one vendor."""

    def __init__(self, registry: Registry, keys: KeyStore, writer: Writer, zone: ZoneInfo,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.registry = registry
        self.keys = keys
        self.writer = writer
        self.zone = zone
        self.clock = clock
        self.calendar = Calendar(zone, clock())  # about 0.3 s, once per process

    def ingest(self, body: bytes, content_type: str | None, content_encoding: str | None, vendor: str
               ) -> IngestResult:
        """Run every step for one request; returns once its accepted rows are stored."""
        return self.submit(body, content_type, content_encoding, vendor).result()

    def submit(self, body: bytes, content_type: str | None, content_encoding: str | None, vendor: str
               ) -> Future[IngestResult]:
        """Run the steps up to the writer; the future completes once the accepted rows are stored (the HTTP
        route awaits it without holding a worker thread, so waiting requests can form larger groups)."""
        is_ndjson, data = read(body, content_type, content_encoding)
        raws = ndjson_lines(data) if is_ndjson else json_array(data)
        request = self.request(vendor)
        noun = "line" if is_ndjson else "row"
        rows: list[StoredRow] = []
        result = IngestResult()
        tally = Tally(vendor, self.calendar.date_of(self.calendar.day(request.now_us)))
        for index, raw in enumerate(raws):
            event = None
            try:
                event = grammar.decode(raw, noun)
                rows.append(self.accept(event, request))
            except Rejection as rejection:
                sent = grammar.read_sent(raw) if rejection.sent is UNREAD else rejection.sent  # read once
                result.rejected.append({"index": index, "event_id": _event_id(sent), "reason": str(rejection.reason),
                                        "detail": rejection.detail})
                tally.rejected[(*self._attribute(sent, event, request), str(rejection.reason))] += 1
        tally.accepted = Counter(map(QUALITY_KEY, rows))  # the writer moves repeats to `duplicate`
        done: Future[IngestResult] = Future()

        def finish(written: Future[WriteResult]) -> None:
            error = written.exception()
            if error is not None:
                done.set_exception(error)
                return
            stored = written.result()
            result.accepted, result.duplicates = stored.accepted, stored.duplicates
            done.set_result(result)

        self.writer.submit(rows, tally).add_done_callback(finish)
        return done

    def request(self, vendor: str) -> Request:
        now = self.clock()
        now_us = (now - EPOCH) // grammar.MICROSECOND
        if now_us + 366 * DAY_US > self.calendar.until_us:  # a service running for years: extend the table
            self.calendar = Calendar(self.zone, now)
        return Request(vendor, self.registry.platforms(), self.registry.provinces().keys(), now_us,
                       self.keys.sealed_before())

    def accept(self, event: Event, request: Request) -> StoredRow:
        """The steps after `decode` for one event: its stored row, or `Rejection`."""
        ts_us = grammar.validate(event, request.provinces, request.now_us)
        check_platform(event, request)
        day = self.calendar.day(ts_us)
        month = self.calendar.month(day)
        check_month(month, request, self.keys)
        return pseudonymise(event, ts_us, day, month, request, self.keys)

    def _attribute(self, sent: Any, event: Event | None, request: Request) -> tuple[str, date]:
        """A rejected row's platform (when it is one of the vendor's own) and event month, as far as they can be
        read (`sent`: the row as plain JSON), for `ingest_quality`."""
        platform: Any
        ts: datetime | None
        if event is not None:
            platform, ts = event.platform, event.ts
        else:
            platform = sent.get("platform") if isinstance(sent, dict) else None
            try:
                ts = msgspec.convert(sent.get("ts"), datetime) if isinstance(sent, dict) else None
            except msgspec.ValidationError:
                ts = None
        registered = request.platforms.get(platform) if isinstance(platform, str) else None
        own = platform if registered is not None and registered.vendor == request.vendor else ""
        assert isinstance(own, str)
        month = UNKNOWN_MONTH
        if isinstance(ts, datetime) and ts.tzinfo is not None:
            with suppress(ValueError):  # outside the instants the ingestion accepts: no month
                month = self.calendar.month(self.calendar.day((ts - EPOCH) // grammar.MICROSECOND))
        return own, month


def _event_id(sent: Any) -> str | None:
    """The row's event_id as sent, for the answer (rejected rows only)."""
    if isinstance(sent, dict):
        event_id = sent.get("event_id")
        if isinstance(event_id, str):
            return event_id[:64]
    return None
