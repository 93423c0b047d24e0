"""Every RFC 3339 form the grammar accepts maps to the same instant as written; the forms it refuses name the
field; instants the zone arithmetic could overflow are refused as rows, never as a whole request."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from ingest.reasons import Reason, Rejection
from ingest.validate import EPOCH, MICROSECOND, decode, instants_us, validate

NOW = datetime(2030, 1, 1, tzinfo=UTC)
NOW_US = (NOW - EPOCH) // MICROSECOND
INSTANT = datetime(2022, 3, 31, 17, 30, 0, tzinfo=UTC)


def row(ts: str) -> bytes:
    return orjson.dumps({"event_id": "123e4567-e89b-12d3-a456-426614174000", "platform": "zalo", "user": "u",
                         "ts": ts})


def parsed(ts: str) -> datetime:
    event = decode(row(ts))
    validate(event, instants_us([event])[0], (), NOW_US)
    return event.ts


@pytest.mark.parametrize(("ts", "expected"), [
    ("2022-03-31T17:30:00Z", INSTANT),
    ("2022-03-31T17:30:00z", INSTANT),
    ("2022-03-31t17:30:00Z", INSTANT),
    ("2022-03-31 17:30:00Z", INSTANT),
    ("2022-04-01T00:30:00+07:00", INSTANT),
    ("2022-03-31T12:30:00-05:00", INSTANT),
    ("2022-03-31T17:30:00.5Z", INSTANT.replace(microsecond=500_000)),
    ("2022-03-31T17:30:00.123456Z", INSTANT.replace(microsecond=123_456)),
    # more than microseconds: rounded to the nearest microsecond (msgspec's parser)
    ("2022-03-31T17:30:00.1234564Z", INSTANT.replace(microsecond=123_456)),
    ("2022-03-31T17:30:00.1234565Z", INSTANT.replace(microsecond=123_457)),
    ("2022-03-31T17:29:59.9999996+00:00", INSTANT),
    # an offset without its colon is read as one
    ("2022-04-01T00:30:00+0700", INSTANT),
])
def test_accepted_forms_are_the_written_instant(ts: str, expected: datetime) -> None:
    assert parsed(ts) == expected


@pytest.mark.parametrize("ts", [
    "2022-03-31T17:30:00",         # no offset
    "2022-03-31",                  # no time
    "2022-02-30T00:00:00Z",        # no such day
    "2022-03-31T24:00:00Z",
    "2022-03-31T17:30:60Z",        # leap seconds are not datetimes
    "2022-03-31T17:30:00+24:00",
    "2022-03-31T17:30:00.Z",
    "20220331T173000Z",
    "2022-03-31T17:30:00Z\n",      # a whole-string match: no trailing newline
    " 2022-03-31T17:30:00Z",
    "2022-03-31T17:30:00+07",
])
def test_refused_forms_name_the_field(ts: str) -> None:
    with pytest.raises(Rejection) as refused:
        parsed(ts)
    assert refused.value.field == "ts"
    assert refused.value.reason == Reason.INVALID_FIELD
    assert refused.value.detail.startswith("ts: ")


@pytest.mark.parametrize(("ts", "reason"), [
    ("9999-12-31T23:59:59-23:59", Reason.FUTURE_TIMESTAMP),  # 10000-01-01 in UTC: past datetime's range
    ("0001-01-01T00:00:00+23:59", Reason.INVALID_FIELD),  # 0000-12-31 in UTC
    ("9999-12-31T23:59:59.999999+00:00", Reason.FUTURE_TIMESTAMP),
])
def test_instants_outside_datetimes_range_are_row_rejections(ts: str, reason: Reason) -> None:
    with pytest.raises(Rejection) as refused:
        parsed(ts)
    assert (refused.value.reason, refused.value.field) == (reason, "ts")
