"""Every RFC 3339 form the validator accepts maps to the same instant as written (the common form is
parsed as sent, the others are rewritten first); the forms it refuses name the field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ingest.reasons import Rejection
from ingest.validate import validate

NOW = datetime(2030, 1, 1, tzinfo=UTC)
INSTANT = datetime(2022, 3, 31, 17, 30, 0, tzinfo=UTC)


def row(ts: str) -> dict[str, str]:
    return {"event_id": "123e4567-e89b-12d3-a456-426614174000", "platform": "zalo", "user": "u", "ts": ts}


@pytest.mark.parametrize(("ts", "expected"), [
    ("2022-03-31T17:30:00Z", INSTANT),
    ("2022-03-31T17:30:00z", INSTANT),
    ("2022-03-31t17:30:00Z", INSTANT),
    ("2022-03-31 17:30:00Z", INSTANT),
    ("2022-04-01T00:30:00+07:00", INSTANT),
    ("2022-03-31T12:30:00-05:00", INSTANT),
    ("2022-03-31T17:30:00.5Z", INSTANT.replace(microsecond=500_000)),
    ("2022-03-31T17:30:00.123456Z", INSTANT.replace(microsecond=123_456)),
    # more than microseconds: the extra digits are dropped (truncated, not rounded)
    ("2022-03-31T17:30:00.1234569Z", INSTANT.replace(microsecond=123_456)),
    ("2022-03-31T17:30:00.999999999+00:00", INSTANT.replace(microsecond=999_999)),
])
def test_accepted_forms_are_the_written_instant(ts: str, expected: datetime) -> None:
    assert validate(row(ts), (), NOW).ts == expected


@pytest.mark.parametrize("ts", [
    "2022-03-31T17:30:00",         # no offset
    "2022-03-31",                  # no time
    "2022-02-30T00:00:00Z",        # no such day
    "2022-03-31T24:00:00Z",
    "2022-03-31T17:30:60Z",        # leap seconds are not datetimes
    "2022-03-31T17:30:00+24:00",
    "2022-03-31T17:30:00.Z",
    "20220331T173000Z",
])
def test_refused_forms_name_the_field(ts: str) -> None:
    with pytest.raises(Rejection) as refused:
        validate(row(ts), (), NOW)
    assert refused.value.field == "ts"
    assert refused.value.detail.startswith("ts: ")
