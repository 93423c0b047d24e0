"""The NDJSON fast path: rows in the plain, common form are checked, pseudonymised and serialised in C.

`Scanner.scan` answers, for each line of an NDJSON request, the stored row when the line is in the plain
form and certainly valid (ingest/_fast.c says exactly which), or None. Every None goes through the
Python steps (`validate`, `check_platform`, `pseudonymise`), which decide and explain it, so the fast
path can only be faster, never different; tests/test_ingest_fastpath.py checks it row for row. Without
the compiled module (no C compiler at install time) every line takes the Python steps.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Collection
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from ingest.countries import COUNTRY_CODES
from ingest.limits import EARLIEST_TS, FUTURE_TOLERANCE

try:
    from ingest import _fast  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - a machine without a C compiler at install time
    _fast = None

AVAILABLE = _fast is not None
StoredRow = tuple[str, str, bytes]
"""(platform, the event id's UInt128 value in decimal, the row as one JSONCompactEachRow line of
`events_ingest`). The id is text because the writer only ever compares it and splices it into its
lookup's `Array(UInt128)` literal."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
ZONE_PROBE_S = 3600
ZONE_TABLE_YEARS_AHEAD = 2


def month_index(month: date) -> int:
    return month.year * 12 + month.month - 1


def month_of_index(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


@lru_cache(maxsize=8)
def zone_table(zone: ZoneInfo, until_year: int) -> bytes:
    """The zone's UTC offsets from a day before EARLIEST_TS to the end of `until_year`, as int64 values
    [end, start_0, offset_0, start_1, offset_1, ...] in seconds since 1970 and seconds east of UTC.

    Offsets are read every hour and each change is then located to the second by bisection (tz data
    changes offsets at whole seconds and never twice within an hour)."""
    begin = int((EARLIEST_TS - timedelta(days=1) - EPOCH).total_seconds())
    end = int((datetime(until_year + 1, 1, 1, tzinfo=UTC) - EPOCH).total_seconds())

    def offset(second: int) -> int:
        delta = datetime.fromtimestamp(second, zone).utcoffset()
        assert delta is not None
        return int(delta.total_seconds())

    segments = [(begin, offset(begin))]
    previous = begin
    for probe in range(begin + ZONE_PROBE_S, end + ZONE_PROBE_S, ZONE_PROBE_S):
        probe = min(probe, end)
        current = offset(probe)
        if current != segments[-1][1]:
            low, high = previous, probe  # offset(low) is the old one, offset(high) the new one
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == current:
                    high = middle
                else:
                    low = middle
            segments.append((high, current))
        previous = probe
    values = [end] + [value for segment in segments for value in segment]
    return struct.pack(f"={len(values)}q", *values)


def zone_for(zone: ZoneInfo, now: datetime) -> bytes:
    return zone_table(zone, now.year + ZONE_TABLE_YEARS_AHEAD)


class Scanner:
    """The fast path for one request of one vendor."""

    def __init__(self, platforms: Collection[str], provinces: Collection[str], open_from: date, now: datetime,
                 zone: ZoneInfo, key_for: Callable[[str, date], bytes]):
        self.platforms = {platform: platform for platform in platforms}
        self.provinces = provinces
        self.open_from = month_index(open_from)
        self.min_us = (EARLIEST_TS - EPOCH) // MICROSECOND
        self.max_us = (now + FUTURE_TOLERANCE - EPOCH) // MICROSECOND
        self.zone = zone_for(zone, now)
        self.key_for = key_for

    def scan(self, lines: list[bytes]) -> list[StoredRow | None]:
        if _fast is None:
            return [None] * len(lines)
        result: list[StoredRow | None] = _fast.scan(
            lines, self.platforms, COUNTRY_CODES, self.provinces, self.open_from, self.min_us, self.max_us,
            self.zone, self._key)
        return result

    def _key(self, platform: str, index: int) -> bytes:
        return self.key_for(platform, month_of_index(index))
