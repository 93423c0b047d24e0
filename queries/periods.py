"""Reporting periods: a month (2022-03), a quarter (2022-Q1), a half year (2022-H1) or a year (2022).

Days and months are calendar days and months of the service time zone (Asia/Ho_Chi_Minh); the `day`
column of the events and rollups already is one, so a period is just a range of dates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

FIRST_YEAR = 2000
LAST_YEAR = 2100
ACCEPTED_FORMS = "YYYY-MM, YYYY-Qn (n = 1 to 4), YYYY-Hn (n = 1 or 2) or YYYY"
KINDS = ("month", "quarter", "half", "year")
MONTHS_OF_KIND = {"month": 1, "quarter": 3, "half": 6, "year": 12}

_PATTERNS = (
    (re.compile(r"^([0-9]{4})-([0-9]{2})$"), "month"),
    (re.compile(r"^([0-9]{4})-[Qq]([0-9])$"), "quarter"),
    (re.compile(r"^([0-9]{4})-[Hh]([0-9])$"), "half"),
    (re.compile(r"^([0-9]{4})$"), "year"),
)


@dataclass(frozen=True)
class Period:
    """A whole number of consecutive calendar months: `start` is its first day, `end` its last (inclusive)."""

    label: str
    kind: str
    start: date
    end: date

    @property
    def months(self) -> list[date]:
        """First days of the period's months, in order."""
        return [_add_months(self.start, i) for i in range(MONTHS_OF_KIND[self.kind])]

    @property
    def n(self) -> int:
        """Number of calendar days."""
        return (self.end - self.start).days + 1

    @property
    def k(self) -> int:
        """Number of months."""
        return MONTHS_OF_KIND[self.kind]

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.n)]

    def previous(self) -> Period:
        """The period of the same kind just before: 2022-Q1 → 2021-Q4, 2022-03 → 2022-02, 2022 → 2021."""
        return period_starting(self.kind, _add_months(self.start, -self.k))

    def year_before(self) -> Period:
        """The same period a year earlier: 2022-Q1 → 2021-Q1."""
        return period_starting(self.kind, _add_months(self.start, -12))

    def __str__(self) -> str:
        return self.label


def _add_months(first_day: date, months: int) -> date:
    index = first_day.year * 12 + first_day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def period_starting(kind: str, start: date) -> Period:
    """The period of `kind` that begins on `start` (the first day of a month that begins such a period)."""
    if kind not in MONTHS_OF_KIND:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    length = MONTHS_OF_KIND[kind]
    if start.day != 1 or (start.month - 1) % length:
        raise ValueError(f"{start.isoformat()} does not begin a {kind}")
    if kind == "month":
        label = f"{start.year:04d}-{start.month:02d}"
    elif kind == "quarter":
        label = f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"
    elif kind == "half":
        label = f"{start.year:04d}-H{(start.month - 1) // 6 + 1}"
    else:
        label = f"{start.year:04d}"
    end = _add_months(start, length) - timedelta(days=1)
    return Period(label, kind, start, end)


def period_of_kind(kind: str, year: int, index: int = 1) -> Period:
    """Month `index` (1-12), quarter (1-4), half (1-2) or the year (index 1) of `year`."""
    length = MONTHS_OF_KIND.get(kind)
    if length is None:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not 1 <= index <= 12 // length:
        raise ValueError(f"a {kind} index must be 1 to {12 // length}, got {index}")
    return period_starting(kind, date(year, (index - 1) * length + 1, 1))


def parse_period(text: str) -> Period:
    """'2022-03', '2022-Q1', '2022-H1' or '2022' to a `Period`; ValueError names the accepted forms."""
    for pattern, kind in _PATTERNS:
        match = pattern.fullmatch(text) if isinstance(text, str) else None
        if not match:
            continue
        year = int(match.group(1))
        index = int(match.group(2)) if kind != "year" else 1
        if FIRST_YEAR <= year <= LAST_YEAR and 1 <= index <= 12 // MONTHS_OF_KIND[kind]:
            return period_of_kind(kind, year, index)
        break
    shown = text[:40] if isinstance(text, str) else text
    raise ValueError(f"period must be {ACCEPTED_FORMS}, with YYYY from {FIRST_YEAR} to {LAST_YEAR}; got {shown!r}")
