"""Ingestion as named steps, run over the rows of a request:

    decode -> validate -> check_platform -> check_month -> pseudonymise -> dedupe_write

Each step takes the rows the steps before it passed (`Rows`, by column), adds what it works out, and takes out
the rows it refuses, each with one reason of the closed set `ingest.reasons.Reason`; valid rows of a request are
kept when others are rejected. A step decides the usual request, where every row passes, for all its rows at
once (the distinct platforms, the earliest and latest instant, ...), and otherwise applies its per-row rule to
each row; both give the same answer, the per-row rule being the definition. Whole-request problems (media type,
size, not JSON at all) raise `ingest.decode.RequestRejected` before any row is looked at.

    step            reasons                                   per-row rule
    decode          too_large, malformed, missing_field,      ingest.validate.decode (the grammar)
                    invalid_field
    validate        invalid_field, future_timestamp           ingest.validate.validate (the province list, the clock)
    check_platform  unknown_platform, platform_not_allowed    check_platform_of
    check_month     month_sealed                              check_month_of
    pseudonymise    month_sealed (sealed while the request    the stored rows: ingest.rows.stored_lines
                    ran)
    dedupe_write    - (a repeat is counted as a duplicate)    ingest.write.Writer
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import msgspec

from ingest import validate as grammar
from ingest.decode import json_array, ndjson_lines, read
from ingest.pseudonymise import PSEUDONYM_BYTES, KeyStore
from ingest.quality import UNKNOWN_MONTH, Tally, lateness_of
from ingest.reasons import UNREAD, Reason, Rejection
from ingest.rows import Accepted, Event, stored_lines
from ingest.vntime import DAY_US, Calendar
from ingest.write import Writer, WriteResult
from queries.registry import Platform, Registry

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T = TypeVar("T")


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


@dataclass
class Refused:
    """A row a step refused: its index in the request, its bytes, its event when it was decoded."""

    index: int
    raw: bytes
    event: Event | None
    rejection: Rejection


@dataclass
class Rows:
    """The rows of one request still in the pipeline, by column (position i of each list is one row), and the
    rows the steps refused."""

    indexes: list[int]  # each row's index in the request
    raws: list[bytes]
    events: list[Event] = field(default_factory=list)  # decode
    ts_us: list[int] = field(default_factory=list)  # validate: each `ts` in epoch microseconds
    days: list[int] = field(default_factory=list)  # check_month: the local day, days since 1970-01-01
    months: list[date] = field(default_factory=list)  # check_month: the local month
    refused: list[Refused] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.indexes)

    def refuse_each(self, check: Callable[[int], object]) -> None:
        """Apply a step's per-row rule (`check(position)` raises `Rejection`) to every row, and take out the rows
        it refuses."""
        refused: dict[int, Rejection] = {}
        for position in range(len(self)):
            try:
                check(position)
            except Rejection as rejection:
                refused[position] = rejection
        if not refused:
            return
        for position, refusal in refused.items():
            event = self.events[position] if self.events else None
            self.refused.append(Refused(self.indexes[position], self.raws[position], event, refusal))
        kept = [position for position in range(len(self)) if position not in refused]
        self.indexes, self.raws = _pick(self.indexes, kept), _pick(self.raws, kept)
        self.events, self.ts_us = _pick(self.events, kept), _pick(self.ts_us, kept)
        self.days, self.months = _pick(self.days, kept), _pick(self.months, kept)


def _pick(column: list[T], positions: list[int]) -> list[T]:
    """The values of `column` at `positions` (an empty column: not made by the steps so far)."""
    return [column[position] for position in positions] if column else column


def decode(rows: Rows, noun: str) -> None:
    """Each row's bytes to an `Event`."""
    events = grammar.decode_all(rows.raws)
    if events is None:
        events = []  # the events of the rows kept, in order
        rows.refuse_each(lambda position: events.append(grammar.decode(rows.raws[position], noun)))
    rows.events = events


def validate(rows: Rows, request: Request) -> None:
    """The checks that need the service's state: the province list and the clock."""
    rows.ts_us = grammar.instants_us(rows.events)
    if not grammar.all_valid(rows.events, rows.ts_us, request.provinces, request.now_us):
        rows.refuse_each(lambda position: grammar.validate(rows.events[position], rows.ts_us[position],
                                                           request.provinces, request.now_us))


def check_platform_of(event: Event, request: Request) -> None:
    registered = request.platforms.get(event.platform)
    if registered is None:
        raise Rejection(Reason.UNKNOWN_PLATFORM, f"platform: {event.platform!r} is not registered", "platform")
    if registered.vendor != request.vendor:
        raise Rejection(Reason.PLATFORM_NOT_ALLOWED,
                        f"platform: {event.platform!r} belongs to another vendor; this key may post only for "
                        f"vendor {request.vendor!r}", "platform")


def check_platform(rows: Rows, request: Request) -> None:
    """Each row's platform is registered to the request's vendor (the rule depends on the platform alone: it is
    applied once per distinct platform, and row by row only when one fails)."""
    try:
        for event in {event.platform: event for event in rows.events}.values():
            check_platform_of(event, request)
    except Rejection:
        rows.refuse_each(lambda position: check_platform_of(rows.events[position], request))


def check_month_of(month: date, request: Request, keys: KeyStore) -> None:
    if month < request.open_from:
        keys.check_open(month)  # raises month_sealed; asks the store, not the request's copy


def check_month(rows: Rows, request: Request, keys: KeyStore, calendar: Calendar) -> None:
    """Each row's day and month in the service time zone; rows of sealed months are refused."""
    rows.days = calendar.days(rows.ts_us)
    rows.months = calendar.months(rows.days)
    try:
        for month in set(rows.months):
            check_month_of(month, request, keys)
    except Rejection:
        rows.refuse_each(lambda position: check_month_of(rows.months[position], request, keys))


def pseudonymise(rows: Rows, request: Request, keys: KeyStore) -> Accepted:
    """The stored rows: each user replaced by keyed BLAKE2b-128 of the id, with the key of the event's platform
    and month (ingest.pseudonymise). A month sealed since `check_month` has no key: its rows are refused."""
    hashers: dict[tuple[str, date], Any] = {}
    sealed: dict[tuple[str, date], Rejection] = {}
    pairs = set(zip((event.platform for event in rows.events), rows.months, strict=True))
    for pair, key in keys.keys(pairs).items():
        if isinstance(key, Rejection):
            sealed[pair] = key
        else:
            hashers[pair] = hashlib.blake2b(key=key, digest_size=PSEUDONYM_BYTES)

    def has_key(position: int) -> None:
        rejection = sealed.get((rows.events[position].platform, rows.months[position]))
        if rejection is not None:
            raise rejection

    if sealed:
        rows.refuse_each(has_key)
    pseudonyms = []
    for event, month in zip(rows.events, rows.months, strict=True):
        pseudo = hashers[(event.platform, month)].copy()  # the key's block is hashed once per request
        pseudo.update(event.user.encode())
        pseudonyms.append(pseudo.hexdigest())
    return Accepted([event.platform for event in rows.events], [event.event_id.int for event in rows.events],
                    stored_lines(rows.events, pseudonyms, rows.ts_us, rows.days), rows.months,
                    lateness_of(request.now_us, rows.ts_us))


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
        rows = Rows(list(range(len(raws))), raws)
        accepted = self.steps(rows, "line" if is_ndjson else "row", request)
        result = IngestResult()
        tally = Tally(vendor, self.calendar.date_of(self.calendar.day(request.now_us)))
        # every accepted row counted as accepted: the writer moves repeats to `duplicate`
        tally.accepted = Counter(zip(accepted.platforms, accepted.months, accepted.lateness, strict=True))
        for refused in sorted(rows.refused, key=lambda refused: refused.index):
            rejection = refused.rejection
            sent = grammar.read_sent(refused.raw) if rejection.sent is UNREAD else rejection.sent  # read once
            result.rejected.append({"index": refused.index, "event_id": _event_id(sent),
                                    "reason": str(rejection.reason), "detail": rejection.detail})
            tally.rejected[(*self._attribute(sent, refused.event, request), str(rejection.reason))] += 1
        done: Future[IngestResult] = Future()

        def finish(written: Future[WriteResult]) -> None:
            error = written.exception()
            if error is not None:
                done.set_exception(error)
                return
            stored = written.result()
            result.accepted, result.duplicates = stored.accepted, stored.duplicates
            done.set_result(result)

        self.writer.submit(accepted, tally).add_done_callback(finish)
        return done

    def steps(self, rows: Rows, noun: str, request: Request) -> Accepted:
        """The steps before `dedupe_write`: the stored form of the rows they accept; `rows.refused` holds the
        others."""
        decode(rows, noun)
        validate(rows, request)
        check_platform(rows, request)
        check_month(rows, request, self.keys, self.calendar)
        return pseudonymise(rows, request, self.keys)

    def request(self, vendor: str) -> Request:
        now = self.clock()
        now_us = (now - EPOCH) // grammar.MICROSECOND
        if now_us + 366 * DAY_US > self.calendar.until_us:  # a service running for years: extend the table
            self.calendar = Calendar(self.zone, now)
        return Request(vendor, self.registry.platforms(), self.registry.provinces().keys(), now_us,
                       self.keys.sealed_before())

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
