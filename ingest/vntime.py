"""Calendar days and months in the service time zone (VNMETER_TIMEZONE, Asia/Ho_Chi_Minh by default)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo


def local_day(ts: datetime, zone: ZoneInfo) -> date:
    """The calendar day of an aware instant in `zone`: 2022-03-31T17:30Z is 2022-04-01 in Vietnam."""
    return ts.astimezone(zone).date()


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
