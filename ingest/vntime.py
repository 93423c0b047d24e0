"""Calendar days and months in the service time zone (VNMETER_TIMEZONE, Asia/Ho_Chi_Minh by default)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from ingest.limits import EARLIEST_TS

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_DAY = EPOCH.date()
DAY_US = 86_400_000_000
PROBE_S = 3600
YEARS_AHEAD = 2


def month_of(day: date) -> date:
    return day.replace(day=1)


def parse_month(text: str) -> date:
    """'YYYY-MM' to the first day of that month; ValueError names the accepted form."""
    try:
        year, month = text.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError
        return date(int(year), int(month), 1)
    except ValueError:
        raise ValueError(f"month must look like YYYY-MM, got {text!r}") from None


class Calendar:
    """The local day of instants given in epoch microseconds, for every instant the ingestion accepts.

    zoneinfo is the source of truth: its UTC offsets are read every hour from a day before EARLIEST_TS to the
    end of the year after next, and each change is located to the second by bisection (zone data changes
    offsets at whole seconds, never twice within an hour). A day is then one bisection and one division
    instead of a zone conversion per event."""

    def __init__(self, zone: ZoneInfo, now: datetime):
        self.zone = zone
        begin = int((EARLIEST_TS - timedelta(days=1) - EPOCH).total_seconds())
        end = int((datetime(now.year + YEARS_AHEAD + 1, 1, 1, tzinfo=UTC) - EPOCH).total_seconds())
        self.until_us = end * 1_000_000
        starts, offsets = [begin], [self._offset(begin)]
        previous = begin
        for probe in range(begin + PROBE_S, end + PROBE_S, PROBE_S):
            probe = min(probe, end)
            current = self._offset(probe)
            if current != offsets[-1]:
                low, high = previous, probe
                while high - low > 1:
                    middle = (low + high) // 2
                    if self._offset(middle) == current:
                        high = middle
                    else:
                        low = middle
                starts.append(high)
                offsets.append(current)
            previous = probe
        self._starts_us = [second * 1_000_000 for second in starts]
        self._offsets_us = [offset * 1_000_000 for offset in offsets]
        self._months: dict[int, date] = {}

    def _offset(self, second: int) -> int:
        delta = datetime.fromtimestamp(second, self.zone).utcoffset()
        assert delta is not None
        return int(delta.total_seconds())

    def day(self, ts_us: int) -> int:
        """Days since 1970-01-01 of the local calendar day of `ts_us` (from EARLIEST_TS to `until_us`)."""
        return (ts_us + self._offsets_us[self._interval(ts_us)]) // DAY_US

    def _interval(self, ts_us: int) -> int:
        """The index of the offset in force at `ts_us`."""
        if not self._starts_us[0] <= ts_us < self.until_us:
            raise ValueError(f"instant {ts_us} us is outside the calendar's range")
        return bisect.bisect_right(self._starts_us, ts_us) - 1

    def days(self, instants_us: Sequence[int]) -> list[int]:
        """`day` of each instant; one offset for all when they fall between the same two offset changes (in
        Asia/Ho_Chi_Minh, every instant since 1975)."""
        if not instants_us:
            return []
        index = self._interval(min(instants_us))
        if index != self._interval(max(instants_us)):
            return [self.day(ts_us) for ts_us in instants_us]
        offset = self._offsets_us[index]
        return [(ts_us + offset) // DAY_US for ts_us in instants_us]

    def date_of(self, day: int) -> date:
        """The date of day number `day`."""
        return EPOCH_DAY + timedelta(days=day)

    def month(self, day: int) -> date:
        """The first day of the month holding day number `day`."""
        month = self._months.get(day)
        if month is None:
            month = self._months[day] = self.date_of(day).replace(day=1)
        return month

    def months(self, days: Sequence[int]) -> list[date]:
        """`month` of each day."""
        month_of = {day: self.month(day) for day in set(days)}
        return [month_of[day] for day in days]
