"""Computing the figures (definitions: docs/METRICS.md) into typed results, from what the rollups hold.

Every figure is one exact fraction of the integers `queries.rollups` reads, computed with `Fraction`: nothing
here reads storage or shapes JSON (queries/present.py does). A figure without a denominator is None. Rankings,
the Vietnamese-foreign comparison, the overview and the breakdown tables are computed from figures already
made, so a summary computes each figure once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from queries import disclosure
from queries.periods import Period
from queries.registry import CATEGORIES, KINDS, ORIGINS, Platform
from queries.rollups import Provisional, Usage

METRICS: tuple[str, ...] = (
    "mau_avg", "mau_peak", "dau_avg", "stickiness", "minutes_per_user_day", "mb_per_user_month",
    "hours_per_user_month", "sessions", "sessions_per_month", "installs", "installs_total", "penetration",
)
CHANGE_METRICS: tuple[str, ...] = ("mau_avg", "minutes_per_user_day", "mb_per_user_month", "sessions_per_month")
ORIGIN_FILTERS: tuple[str, ...] = ("all", *ORIGINS)
KIND_FILTERS: tuple[str, ...] = KINDS
BREAKDOWN_DIMENSIONS: tuple[str, ...] = ("province", "country", "os")
DEFAULT_BAND_EDGES = (1_000_000, 5_000_000)

Value = Fraction | int | None


def ratio(numerator: int | Fraction, denominator: int | Fraction | None) -> Fraction | None:
    if not denominator:
        return None
    return Fraction(numerator) / Fraction(denominator)


def relative_change(value: Value, before: Value) -> Fraction | None:
    """(value - before) / before; None when either is missing or `before` is 0."""
    if value is None or before is None or before == 0:
        return None
    return (Fraction(value) - before) / before


# -- one platform over one period ----------------------------------------------------------------------
@dataclass(frozen=True)
class Figures:
    """The metrics of one platform over one period, as exact values."""

    platform: str
    period: Period
    mau_by_month: tuple[tuple[date, int], ...]
    mau_peak_month: date
    values: dict[str, Value]
    duration_s: int  # session seconds in the period (for figures over several platforms)

    def __getitem__(self, metric: str) -> Value:
        return self.values[metric]

    @property
    def had_sessions(self) -> bool:
        return bool(self.values["sessions"])


def compute_figures(platform: str, period: Period, usage: Usage, smartphone_users: int | None) -> Figures:
    """Every metric of `platform` over `period` from the rollup totals (definitions: docs/METRICS.md)."""
    months = [(month, usage.month(platform, month)) for month in period.months]
    maus = [totals.mau for _, totals in months]
    k, n = period.k, period.n
    mau_sum = sum(maus)
    dau_sum = sum(totals.dau_sum for _, totals in months)
    duration_s = sum(totals.duration_s for _, totals in months)
    sessions = sum(totals.sessions for _, totals in months)
    peak = max(maus)
    peak_month = next(month for month, totals in months if totals.mau == peak)  # earliest on a tie
    per_month_mb = [Fraction(totals.bytes, 10**6 * totals.mau) for _, totals in months if totals.mau > 0]
    values: dict[str, Value] = {
        "mau_avg": Fraction(mau_sum, k),
        "mau_peak": peak,
        "dau_avg": Fraction(dau_sum, n),
        "stickiness": ratio(dau_sum * k, n * mau_sum),
        "minutes_per_user_day": ratio(duration_s, 60 * dau_sum),
        "mb_per_user_month": sum(per_month_mb, Fraction(0)) / len(per_month_mb) if per_month_mb else None,
        "hours_per_user_month": ratio(duration_s, 3600 * mau_sum),
        "sessions": sessions,
        "sessions_per_month": Fraction(sessions, k),
        "installs": sum(totals.installs for _, totals in months),
        "installs_total": usage.installs_up_to(platform, period.end),
        "penetration": ratio(peak, smartphone_users) if smartphone_users else None,
    }
    return Figures(platform, period, tuple((month, totals.mau) for month, totals in months), peak_month, values,
                   duration_s)


@dataclass(frozen=True)
class PeriodFigures:
    """One platform's figures over a period, the previous period and the same period a year before."""

    current: Figures
    previous: Figures
    year_before: Figures
    provisional: tuple[Provisional, ...] = ()


@dataclass(frozen=True)
class FigureSet:
    """For each of some periods, the figures of every platform the rollups hold for any of them."""

    periods: tuple[Period, ...]
    by_period: tuple[dict[str, Figures], ...]
    provisional: tuple[Provisional, ...]

    def of(self, period: Period) -> dict[str, Figures]:
        return self.by_period[self.periods.index(period)]

    def active(self, period: Period) -> dict[str, Figures]:
        """The platforms with sessions in `period`."""
        return {pid: f for pid, f in self.of(period).items() if f.had_sessions}


def figure_set(usage: Usage, periods: Sequence[Period], smartphone_users: Mapping[str, int | None]) -> FigureSet:
    """Every platform's figures for each period, from one read of the rollups."""
    platforms = sorted(usage.platforms())
    by_period = tuple({pid: compute_figures(pid, period, usage, smartphone_users.get(pid)) for pid in platforms}
                      for period in periods)
    return FigureSet(tuple(periods), by_period, tuple(usage.provisional_in(periods)))


# -- checks of the request's choices ---------------------------------------------------------------------
def check_choice(name: str, value: str, allowed: Iterable[str]) -> str:
    """`value` if it is one of `allowed`, else ValueError naming the allowed values."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name}: unknown value {value[:40]!r}; one of: {', '.join(allowed)}")
    return value


def parse_band_edges(text: str) -> tuple[int, ...]:
    """'1000000,5000000' to (1000000, 5000000): positive integers in increasing order."""
    try:
        edges = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"band_edges: must be increasing positive integers separated by commas, "
                         f"such as '1000000,5000000'; got {text[:60]!r}") from None
    check_band_edges(edges)
    return edges


def check_band_edges(edges: Sequence[int]) -> None:
    if not edges or edges[0] <= 0 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ValueError(f"band_edges: must be increasing positive integers separated by commas, such as "
                         f"'1000000,5000000'; got {','.join(str(e) for e in edges)!r}")


# -- rankings ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RankedItem:
    rank: int
    platform: Platform
    value: Value
    yoy: Fraction | None


@dataclass(frozen=True)
class Ranking:
    period: Period
    metric: str
    items: tuple[RankedItem, ...]
    provisional: tuple[Provisional, ...] = ()


def _exact_sort_key(figures: Figures, metric: str) -> tuple[Fraction, str]:
    value = figures[metric]
    assert value is not None
    return -Fraction(value), figures.platform


def check_ranking(metric: str, origin: str, category: str | None, kind: str | None, limit: int | None) -> None:
    check_choice("metric", metric, METRICS)
    check_choice("origin", origin, ORIGIN_FILTERS)
    if category is not None:
        check_choice("category", category, CATEGORIES)
    if kind is not None:
        check_choice("kind", kind, KIND_FILTERS)
    if limit is not None and limit < 1:
        raise ValueError(f"limit: must be at least 1, got {limit}")


def rank(current: Mapping[str, Figures], year_before: Mapping[str, Figures], platforms: Mapping[str, Platform],
         metric: str, category: str | None = None, origin: str = "all", kind: str | None = None,
         limit: int | None = None) -> tuple[RankedItem, ...]:
    """Registered platforms of `current` with sessions and a value of `metric`, highest first, ties by id, ranked
    1, 2, 3... inside the filter; `limit` keeps the first ones."""
    ranked = [figures for pid, figures in current.items()
              if figures.had_sessions and pid in platforms and figures[metric] is not None
              and (category is None or platforms[pid].category == category)
              and (kind is None or platforms[pid].kind == kind)
              and (origin == "all" or platforms[pid].origin == origin)]
    ranked.sort(key=lambda f: _exact_sort_key(f, metric))
    items = []
    for number, figures in enumerate(ranked[:limit] if limit is not None else ranked, start=1):
        before = year_before.get(figures.platform)
        items.append(RankedItem(number, platforms[figures.platform], figures[metric],
                                relative_change(figures[metric], before[metric] if before else None)))
    return tuple(items)


# -- Vietnamese against foreign -----------------------------------------------------------------------------
@dataclass(frozen=True)
class OriginSide:
    platforms: tuple[Figures, ...]
    total: Fraction
    share: Fraction | None


@dataclass(frozen=True)
class Comparison:
    metric: str
    sides: dict[str, OriginSide]  # "vn", "foreign"
    ratio_vn_to_foreign: Fraction | None
    provisional: tuple[Provisional, ...] = ()


def check_comparison(category: str, metric: str, top: int) -> None:
    check_choice("category", category, CATEGORIES)
    check_choice("metric", metric, METRICS)
    if top < 1:
        raise ValueError(f"top: must be at least 1, got {top}")


def compare(figures: Iterable[Figures], origins: Mapping[str, str], metric: str, top: int) -> Comparison:
    """The top `top` of `figures` by mau_avg (ties by id), `metric` summed per origin; shares and ratio."""
    chosen = sorted(figures, key=lambda f: _exact_sort_key(f, "mau_avg"))[:top]
    members = {origin: tuple(f for f in chosen if origins[f.platform] == origin) for origin in ORIGINS}
    totals = {origin: sum((Fraction(v) for f in members[origin] if (v := f[metric]) is not None), Fraction(0))
              for origin in ORIGINS}
    grand_total = totals["vn"] + totals["foreign"]
    sides = {origin: OriginSide(members[origin], totals[origin], ratio(totals[origin], grand_total))
             for origin in ORIGINS}
    return Comparison(metric, sides, ratio(totals["vn"], totals["foreign"]))


# -- overview --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Band:
    low: int
    high: int | None
    platforms: int


@dataclass(frozen=True)
class Overview:
    period: Period
    platforms_active: int
    mau_total: Fraction
    bands: tuple[Band, ...]
    categories: dict[str, int]
    hours_per_user_month: Fraction | None
    share_of_users: Fraction | None
    provisional: tuple[Provisional, ...] = ()


def summarise(period: Period, active: Mapping[str, Figures], platforms: Mapping[str, Platform],
              band_edges: Sequence[int]) -> Overview:
    """The Vietnamese platforms among `active` (those with sessions): counts by size band and category, hours,
    share of users."""
    check_band_edges(band_edges)
    vietnamese = [f for pid, f in active.items() if pid in platforms and platforms[pid].origin == "vn"]
    mau_avgs = [Fraction(f["mau_avg"] or 0) for f in vietnamese]
    bounds = [0, *band_edges]
    bands = []
    for i, low in enumerate(bounds):
        high = bounds[i + 1] if i + 1 < len(bounds) else None
        bands.append(Band(low, high, sum(1 for m in mau_avgs if m >= low and (high is None or m < high))))
    categories: dict[str, int] = {}
    for category in CATEGORIES:
        count = sum(1 for f in vietnamese
                    if platforms[f.platform].category == category and Fraction(f["mau_avg"] or 0) >= band_edges[0])
        if count:
            categories[category] = count
    duration_s = sum(f.duration_s for f in vietnamese)
    mau_month_sum = sum(mau for f in vietnamese for _, mau in f.mau_by_month)
    all_mau = sum((Fraction(f["mau_avg"] or 0) for f in active.values()), Fraction(0))
    vn_mau = sum(mau_avgs, Fraction(0))
    return Overview(period, len(vietnamese), vn_mau, tuple(bands), categories,
                    ratio(duration_s, 3600 * mau_month_sum), ratio(vn_mau, all_mau))


# -- breakdown -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BreakdownCell:
    key: str | None  # None: the events gave no value
    mau_avg: Fraction | None  # None when suppressed
    share: Fraction | None
    suppressed: bool


@dataclass(frozen=True)
class Breakdown:
    platform: str
    period: Period
    by: str
    cells: tuple[BreakdownCell, ...]


def breakdown_cells(data: disclosure.YearCells, hidden: frozenset[str], period: Period) -> tuple[BreakdownCell, ...]:
    """The period's table: every value with users in the year, shown ones first (largest first, ties by key, the
    key-less one last), then the hidden ones by key, so that their order says nothing about their size."""
    platform_mau_sum = sum(data.totals[m] for m in disclosure.month_slots(period))
    shown, hidden_cells = [], []
    for key in data.cells:
        label = key or None  # '' is stored when the event gave no value
        if key in hidden:
            hidden_cells.append(BreakdownCell(label, None, None, True))
            continue
        users = data.cell(key, period)
        shown.append(BreakdownCell(label, Fraction(users, period.k), ratio(users, platform_mau_sum), False))
    shown.sort(key=lambda c: (-(c.mau_avg or 0), c.key is None, c.key or ""))
    hidden_cells.sort(key=lambda c: (c.key is None, c.key or ""))
    return (*shown, *hidden_cells)
