"""The row types of ingestion and their serialisation: `Event` (an event as a vendor sends it, the one grammar
of every field) and the stored row (an accepted event as the writer inserts it into `events_ingest`).

`Event` is decoded by msgspec in strict mode: JSON types are not coerced (a string is not a number, a bool is
not an integer), unknown fields are refused, and each field is parsed to its canonical value (a `uuid.UUID`, an
aware `datetime`) with its limits checked while decoding. The checks that need the service's state (the
province list, the clock, the registry, the sealed months) are the pipeline's later steps.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Literal

import msgspec
from msgspec import Meta

from ingest.countries import COUNTRY_CODES
from ingest.limits import MAX_BYTES, MAX_DURATION_S, MAX_PLATFORM_CHARS, MAX_USER_CHARS

if TYPE_CHECKING:
    Country = str
else:  # msgspec checks membership while decoding; mypy cannot read a Literal built from a set
    Country = Literal[tuple(sorted(COUNTRY_CODES))]
Os = Literal["android", "ios", "web", "other"]
EventType = Literal["session", "install"]


class Event(msgspec.Struct, forbid_unknown_fields=True):
    """One event as sent. Optional fields may be absent or null; `None` stands for "not sent".

    `ts` is an RFC 3339 date-time with an explicit offset (`Z`, `z` or `±HH:MM`; `T`, `t` or a space between
    date and time); fractions beyond the microsecond are rounded to it (msgspec's parser)."""

    event_id: uuid.UUID
    platform: Annotated[str, Meta(min_length=1, max_length=MAX_PLATFORM_CHARS)]
    user: Annotated[str, Meta(min_length=1, max_length=MAX_USER_CHARS)]
    ts: Annotated[datetime, Meta(tz=True)]
    type: EventType | None = None
    duration_s: Annotated[int, Meta(ge=0, le=MAX_DURATION_S)] | None = None
    bytes: Annotated[int, Meta(ge=0, le=MAX_BYTES)] | None = None
    country: Country | None = None
    province: Annotated[str, Meta(max_length=8)] | None = None
    os: Os | None = None


FIELDS: tuple[str, ...] = Event.__struct_fields__
REQUIRED: frozenset[str] = frozenset(("event_id", "platform", "user", "ts"))

decode_event = msgspec.json.Decoder(Event).decode
"""bytes of one JSON object -> `Event`; raises msgspec.DecodeError (not JSON) or msgspec.ValidationError."""

decode_any = msgspec.json.Decoder().decode
"""bytes -> plain Python values (only used to explain a refused row)."""


# -- the stored row ---------------------------------------------------------------------------------------

INGEST_TABLE = "events_ingest"
INGEST_FORMAT = "JSONCompactEachRow"
INGEST_COLUMNS = ("platform", "event_id", "user_pseudo_hex", "type", "ts_ms", "day", "duration_s", "bytes",
                  "country", "province", "os")

StoredRow = tuple[str, int, bytes, date, str]
"""One accepted event in stored form, as the writer reads it back from `Accepted`:

- platform;
- the event id's UInt128 value (what `event_keys` stores);
- the row as one JSONCompactEachRow line of `events_ingest` (INGEST_COLUMNS);
- the month of the event in the service time zone, and its lateness bucket (ingest.quality), for the counts
  of `ingest_quality`."""


@dataclass(slots=True)
class Accepted:
    """A request's accepted events in stored form, by column (the fields of `StoredRow`, row i of each list
    being event i): what the pipeline hands to the writer."""

    platforms: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    months: list[date] = field(default_factory=list)
    lateness: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


_encode = msgspec.json.Encoder().encode


def stored_lines(events: Sequence[Event], pseudonyms: Sequence[str], instants_us: Sequence[int], days: Sequence[int]
                 ) -> list[bytes]:
    """The `events_ingest` rows of accepted events (INGEST_COLUMNS, in that order), each optional field given its
    stored default: the UUID in canonical form, the user's pseudonym in hex, `ts_ms` epoch milliseconds (UTC) of
    the instant, `day` days since 1970-01-01 of the calendar day in the service time zone."""
    encode = _encode
    return [encode((event.platform, event.event_id, pseudonym, event.type or "session", ts_us // 1000, day,
                    event.duration_s or 0, event.bytes or 0, event.country or "VN", event.province or "",
                    event.os or ""))
            for event, pseudonym, ts_us, day in zip(events, pseudonyms, instants_us, days, strict=True)]
