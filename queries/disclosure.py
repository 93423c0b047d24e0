"""Statistical disclosure control of the breakdown tables: which values are hidden (rule: docs/DISCLOSURE.md).

A breakdown cell is the users of one platform with one value of a dimension (province, country, os) in one
month; the tables of a longer period add up the months. The tables of one calendar year (12 months, 4
quarters, 2 halves and the year) are therefore sums of the same monthly cells and are protected together:
one pattern per platform, dimension and year, the same for every table of that year.

Primary cells: a cell with fewer than `threshold` users in every month of its period (and some user).
The pattern hides whole values ("rows"): a value with a primary cell in any table of the year is hidden in
every table of that year, and more values are hidden, smallest yearly total first, until every primary
cell is protected: the range an analyst can compute for it from everything published about the platform
and dimension (the shown values, the platform's monthly users, the list of values) is at least
[S - p, S + p] user-months (S = mau_avg x months), within what the monthly users alone allow.

The ranges have a closed form (derivation in docs/DISCLOSURE.md); tests/api/test_disclosure.py checks every
pattern against ranges computed independently with a linear-programming solver.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from queries.periods import Period, period_of_kind

MONTHS = 12
DEFAULT_MIN_CELL_USERS = 10
"""k: the default of VNMETER_MIN_CELL_USERS, the threshold and the protection of the breakdown tables."""


@cache
def year_periods(year: int) -> tuple[Period, ...]:
    """The 19 periods whose tables are sums of `year`'s monthly cells: months, quarters, halves, the year."""
    return tuple(period_of_kind(kind, year, index)
                 for kind, count in (("month", 12), ("quarter", 4), ("half", 2), ("year", 1))
                 for index in range(1, count + 1))


def month_slots(period: Period) -> range:
    """The 0-based positions (January = 0) of the period's months inside its year."""
    first = period.start.month - 1
    return range(first, first + period.k)


@dataclass(frozen=True)
class YearCells:
    """One platform and dimension over one calendar year: users per value and month, and the platform's
    monthly active users (its published totals). Values without any user in the year are left out."""

    year: int
    cells: Mapping[str, Sequence[int]]  # value -> 12 monthly user counts ('' = no value given)
    totals: Sequence[int]  # the platform's mau(m), 12 months

    def cell(self, key: str, period: Period) -> int:
        """The value's users summed over the period's months (user-months; mau_avg = this / k)."""
        row = self.cells[key]
        return sum(row[i] for i in month_slots(period))

    def year_total(self, key: str) -> int:
        return sum(self.cells[key])


@dataclass(frozen=True)
class Range:
    """What an analyst can work out about one hidden cell, in user-months: low <= cell <= high."""

    low: int
    high: int


def remainder(data: YearCells, hidden: frozenset[str]) -> list[int]:
    """Per month, the platform's users minus the shown values' users: what the hidden values share."""
    return [data.totals[m] - sum(row[m] for key, row in data.cells.items() if key not in hidden)
            for m in range(MONTHS)]


def hidden_range(data: YearCells, hidden: frozenset[str], period: Period,
                 left: Sequence[int] | None = None) -> Range:
    """The range of any hidden value's cell in `period`, for an analyst who knows the shown values' cells,
    the monthly totals, that the values' users add up to each month's total, and that every listed value
    has at least one user in the year (the same for every hidden value: they are interchangeable).
    `left` is `remainder(data, hidden)` when already computed."""
    return _range(len(hidden), period, remainder(data, hidden) if left is None else left)


def baseline_range(data: YearCells, period: Period) -> Range:
    """The same range when every value is hidden: what the monthly totals and the list of values alone say."""
    return _range(len(data.cells), period, data.totals)


def _range(hidden_values: int, period: Period, left: Sequence[int]) -> Range:
    slots = month_slots(period)
    inside = sum(left[m] for m in slots)  # the hidden values' users in the period, all together
    outside = sum(left) - inside
    if hidden_values == 1:
        return Range(inside, inside)
    # Highest: the value takes everything hidden in the period, except one user-month for each other hidden
    # value that cannot have its one user-month of the year outside the period.
    forced = max(0, hidden_values - 1 - outside)
    # Lowest: the other values take everything in the period; the value's own user-month of the year has to
    # be inside the period only when nothing hidden is outside it.
    return Range(max(0, 1 - outside), inside - forced)


def required_range(value: int, protection: int, baseline: Range) -> Range:
    """The protection interval of a primary cell of `value` user-months: its range must reach at least
    `protection` user-months above and below it, within the baseline; showing that a listed value is not
    empty (at least one user-month) is allowed, but never a single figure where the baseline is wider:
    a lone user of a month whose total is 1 must still be one of two possible values."""
    low, high = max(value - protection, baseline.low, 1), min(value + protection, baseline.high)
    if low == high and baseline.low < baseline.high:
        return Range(low, high + 1) if high < baseline.high else Range(low - 1, high)
    return Range(low, high)


def is_primary(row: Sequence[int], period: Period, threshold: int) -> bool:
    """Fewer than `threshold` users in every month of the period, and at least one user."""
    counts = [row[m] for m in month_slots(period)]
    return any(counts) and max(counts) < threshold


def primary_cells(data: YearCells, threshold: int) -> list[tuple[str, Period]]:
    """Every primary cell of the year's tables, as (value, period)."""
    return [(key, period) for period in year_periods(data.year) for key in sorted(data.cells)
            if is_primary(data.cells[key], period, threshold)]


def unprotected(data: YearCells, hidden: frozenset[str], primary: Sequence[tuple[str, Period]],
                protection: int) -> Period | None:
    """The period of the first primary cell whose range is narrower than its protection interval, or None."""
    left = remainder(data, hidden)
    for key, period in primary:
        found = hidden_range(data, hidden, period, left)
        needed = required_range(data.cell(key, period), protection, baseline_range(data, period))
        if found.low > needed.low or found.high < needed.high:
            return period
    return None


def protect(data: YearCells, threshold: int, protection: int) -> frozenset[str]:
    """The values to hide in every table of the year.

    Every value with a primary cell, then, while a primary cell is not protected, the shown value with the
    smallest yearly total (ties by key) among those that widen that cell's range, or the smallest of all
    when none does. Hiding every value always protects (the ranges are then the baseline), so this ends.
    """
    primary = primary_cells(data, threshold)
    hidden = frozenset(key for key, _ in primary)
    while (period := unprotected(data, hidden, primary, protection)) is not None:
        left = remainder(data, hidden)
        before = _range(len(hidden), period, left).high
        shown = sorted((key for key in data.cells if key not in hidden), key=lambda k: (data.year_total(k), k))
        widening = [key for key in shown
                    if _range(len(hidden) + 1, period, [a + b for a, b in zip(left, data.cells[key], strict=True)]
                              ).high > before]
        hidden = hidden | {(widening or shown)[0]}
    return hidden
