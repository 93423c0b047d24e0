"""Reading what the metrics need from the rollups (SQL in queries/sql/), and the one write those reads rely on:
counting the users of a changed month again and storing the count (`count_and_store`).

Everything comes from platform_monthly (migration 0004): per platform and month the sums of sessions,
installs, session seconds and bytes, and uniqExact states whose counts are mau(m) and the sum of dau(d) over
the month's days. The counts are stored in platform_monthly_counts with the version of the states they were
counted from (sessions + installs at that moment) and the sums of that moment (migration 0010). A month
whose stored count is of its current version is exact. A month that received events since its last count
(docs/METRICS.md, "Months still receiving events") is counted again by the request itself when that is
cheap, and otherwise answered as it was at its last count, marked provisional, until the background
refresher (`refresh_counts`, run by service/refresher.py) has counted it again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from typing import Any

from queries import disclosure
from queries.periods import Period, period_of_kind
from queries.store import Store

INLINE_RECOUNT_SIZE = 200_000
"""A request counts changed months again itself only when their years' states hold at most this many users and
(day, user) pairs together at their last counts (merging them takes a few tens of milliseconds); otherwise it
answers them as of their last count. platform_monthly is partitioned by year and a part's rows share one
granule, so counting any month again reads every state of its year, whichever platform it is."""
LAST_MONTH = date(2100, 12, 1)
"""The last month of the periods (queries.periods.LAST_YEAR): the refresher looks at every month up to it."""


@cache
def load_sql(name: str) -> str:
    """The text of queries/sql/<name>.sql."""
    return (resources.files("queries") / "sql" / f"{name}.sql").read_text(encoding="utf-8")


@dataclass
class MonthTotals:
    """One platform and month: exact integers from the rollups."""

    mau: int = 0
    dau_sum: int = 0
    sessions: int = 0
    installs: int = 0
    duration_s: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class Provisional:
    """A month answered as it was at its last count: `events_counted` of its `events_now` events then."""

    platform: str
    month: date
    counted_at: datetime
    events_counted: int
    events_now: int


@dataclass
class Usage:
    """What the rollups hold for some periods: totals per (platform, month) of the periods, installs per month
    up to the last period's end (for installs_total), and the months answered as of an earlier count."""

    months: dict[tuple[str, date], MonthTotals] = field(default_factory=dict)
    installs_by_month: dict[str, dict[date, int]] = field(default_factory=dict)
    provisional: dict[tuple[str, date], Provisional] = field(default_factory=dict)

    def month(self, platform: str, month: date) -> MonthTotals:
        return self.months.get((platform, month)) or MonthTotals()

    def platforms(self) -> set[str]:
        return {platform for platform, _ in self.months}

    def installs_up_to(self, platform: str, end: date) -> int:
        return sum(n for month, n in self.installs_by_month.get(platform, {}).items() if month <= end)

    def provisional_in(self, periods: Iterable[Period], platforms: Iterable[str] | None = None) -> list[Provisional]:
        """The provisional months of `periods` (of `platforms`, or all), by platform and month."""
        months = {month for period in periods for month in period.months}
        chosen = None if platforms is None else set(platforms)
        return [p for (pid, month), p in sorted(self.provisional.items())
                if month in months and (chosen is None or pid in chosen)]


@dataclass(frozen=True)
class _Count:
    """A stored count of a month: its version (the month's events then), users, user-days and sums, and time."""

    rows: int
    totals: MonthTotals
    counted_at: datetime

    @classmethod
    def of(cls, stored: Sequence[Any]) -> _Count:
        rows, mau, dau_sum, sessions, installs, duration_s, size, counted_at = stored
        return cls(int(rows), MonthTotals(int(mau), int(dau_sum), int(sessions), int(installs), int(duration_s),
                                          int(size)), _utc(counted_at))

    @property
    def has_sums(self) -> bool:
        """Stored with the month's sums (migration 0010): sessions + installs is its version."""
        return self.rows > 0 and self.totals.sessions + self.totals.installs == self.rows


def read_usage(store: Store, periods: Sequence[Period], platform: str | None = None, exact: bool = False) -> Usage:
    """The rollups' totals for the months of `periods`, for one platform or all, plus installs per month up to
    the last period's end.

    One query when every month's count is current. A month that received events since its last count is
    counted again in this call (`count_and_store`: two more queries) when it has no earlier count with its sums,
    when `exact`, or when its year's states are small (INLINE_RECOUNT_SIZE); otherwise it is answered as it was
    at its last count (`Usage.provisional`) until the background refresher counts it again.
    """
    wanted = {month for period in periods for month in period.months}
    usage = Usage()
    changed: dict[tuple[str, date], _Count | None] = {}
    rows = store.rows(load_sql("monthly"), {"last_month": max(wanted), "platform": platform or ""})
    for pid, month, sessions, installs, duration_s, size, event_rows, stored in rows:
        if installs:
            usage.installs_by_month.setdefault(pid, {})[month] = int(installs)
        if month not in wanted:
            continue
        counts = [_Count.of(entry) for entry in stored or ()]
        current = next((c for c in counts if c.rows == event_rows), None)
        if current is not None:
            usage.months[(pid, month)] = MonthTotals(current.totals.mau, current.totals.dau_sum, int(sessions),
                                                     int(installs), int(duration_s), int(size))
            continue
        usage.months[(pid, month)] = MonthTotals(0, 0, int(sessions), int(installs), int(duration_s), int(size))
        # versions only grow: a count of a higher version is not one of this month's states
        earlier = [c for c in counts if c.has_sums and c.rows < event_rows]
        changed[(pid, month)] = max(earlier, key=lambda c: c.rows) if earlier else None
    if changed:
        now = set(changed) if exact else _count_now(store, changed)
        for key, last in changed.items():
            if key not in now and last is not None:
                _as_of_last_count(usage, key, last)
        if now:
            count_and_store(store, now, usage)
    return usage


def _count_now(store: Store, changed: dict[tuple[str, date], _Count | None]) -> set[tuple[str, date]]:
    """The changed months a request counts itself: those without an earlier count, and those of years whose
    states are small."""
    now = {key for key, last in changed.items() if last is None}
    years = sorted({month.year for (_, month), last in changed.items() if last is not None})
    if years:
        sizes = dict(store.rows(load_sql("count_sizes"), {"years": years}))
        now |= {(pid, month) for (pid, month), last in changed.items()
                if last is not None and int(sizes.get(month.year, 0)) <= INLINE_RECOUNT_SIZE}
    return now


def _as_of_last_count(usage: Usage, key: tuple[str, date], last: _Count) -> None:
    pid, month = key
    events_now = usage.months[key].sessions + usage.months[key].installs
    usage.months[key] = last.totals
    if last.totals.installs:
        usage.installs_by_month.setdefault(pid, {})[month] = last.totals.installs
    else:
        usage.installs_by_month.get(pid, {}).pop(month, None)
    usage.provisional[key] = Provisional(pid, month, last.counted_at, last.rows, events_now)


def count_and_store(store: Store, months: set[tuple[str, date]], usage: Usage | None = None) -> int:
    """Count the users of the given (platform, month) states again, store the counts with the sums of the same
    read, and (with `usage`) put them in. Returns how many counts were stored."""
    recounted = store.rows(load_sql("monthly_stale"), {
        "platforms": sorted({pid for pid, _ in months}), "months": sorted({month for _, month in months})})
    if usage is not None:
        found = 0
        for pid, month, _, mau, dau_sum, sessions, installs, duration_s, size in recounted:
            if (pid, month) in months:
                usage.months[(pid, month)] = MonthTotals(int(mau), int(dau_sum), int(sessions), int(installs),
                                                         int(duration_s), int(size))
                if installs:
                    usage.installs_by_month.setdefault(pid, {})[month] = int(installs)
                found += 1
        if found != len(months):
            raise RuntimeError("rollup rows of platform_monthly vanished while being read; retry the request")
    counted_at = datetime.now(UTC)
    store.insert("platform_monthly_counts", [[*row, counted_at] for row in recounted],
                 ["platform", "month", "event_rows", "mau", "dau_sum", "sessions", "installs", "duration_s", "bytes",
                  "counted_at"])
    return len(recounted)


def refresh_counts(store: Store) -> int:
    """Count again every month, of every platform, that received events since its last count (the background
    refresher's write); returns how many counts were stored."""
    rows = store.rows(load_sql("monthly"), {"last_month": LAST_MONTH, "platform": ""})
    changed = {(pid, month) for pid, month, *_, event_rows, stored in rows
               if not any(entry[0] == event_rows for entry in stored or ())}
    return count_and_store(store, changed) if changed else 0


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def read_year_cells(store: Store, platform_id: str, by: str, year: int) -> disclosure.YearCells:
    """A platform's users per value of `by` and month of `year`, with its monthly users (mau by month, exact)."""
    whole_year = period_of_kind("year", year)
    rows = store.rows(load_sql("breakdown"), {"platform": platform_id, "dim": by, "first_month": whole_year.start,
                                              "last_month": whole_year.months[-1]})
    cells: dict[str, list[int]] = defaultdict(lambda: [0] * disclosure.MONTHS)
    for key, month, users in rows:
        cells[key][month.month - 1] += int(users)
    usage = read_usage(store, [whole_year], platform_id, exact=True)
    return disclosure.YearCells(year, {key: tuple(row) for key, row in cells.items() if any(row)},
                                tuple(usage.month(platform_id, month).mau for month in whole_year.months))
