"""Usage metrics of platforms over periods, read from the rollups (definitions: docs/METRICS.md).

ClickHouse answers exact integers per platform and month: the sum of dau(d) over the month's days,
mau(m), session and install counts, session seconds and bytes. Every figure is then one exact
fraction of those integers, computed here with `Fraction` and turned into a float only for the answer,
so a figure is the float nearest to its definition. A figure without a denominator is None.

Everything comes from platform_monthly (migration 0004): mau(m) is the count of its `users` state and
the sum of dau(d) over the month's days the count of its (day, user) `user_days` state. Those counts are
stored with the version of the states they were counted from and used only while it is current;
otherwise they are counted again now and stored for the next request.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Any

from queries import disclosure
from queries.periods import Period, period_of_kind
from queries.registry import CATEGORIES, KINDS, ORIGINS, Registry
from queries.store import Store

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


@cache
def load_sql(name: str) -> str:
    """The text of queries/sql/<name>.sql."""
    return (resources.files("queries") / "sql" / f"{name}.sql").read_text(encoding="utf-8")


# -- reading the rollups --------------------------------------------------------------------------------

@dataclass
class MonthTotals:
    """One platform and month: exact integers from the rollups."""

    mau: int = 0
    dau_sum: int = 0
    sessions: int = 0
    installs: int = 0
    duration_s: int = 0
    bytes: int = 0


@dataclass
class Usage:
    """What the rollups hold for some periods: totals per (platform, month) of the periods, and installs per
    month up to the last period's end (for installs_total)."""

    months: dict[tuple[str, date], MonthTotals] = field(default_factory=dict)
    installs_by_month: dict[str, dict[date, int]] = field(default_factory=dict)

    def month(self, platform: str, month: date) -> MonthTotals:
        return self.months.get((platform, month)) or MonthTotals()

    def platforms(self) -> set[str]:
        return {platform for platform, _ in self.months}

    def installs_up_to(self, platform: str, end: date) -> int:
        return sum(n for month, n in self.installs_by_month.get(platform, {}).items() if month <= end)


def read_usage(store: Store, periods: Sequence[Period], platform: str | None = None) -> Usage:
    """The rollups' totals for the months of `periods`, for one platform or all, plus installs per month
    up to the last period's end.

    One query when every mau/dau count of those months is current; two more (a recount and its write)
    when some are missing or stale. The number of queries does not depend on the number of platforms.
    """
    wanted = {month for period in periods for month in period.months}
    usage = Usage()
    stale: set[tuple[str, date]] = set()
    rows = store.rows(load_sql("monthly"), {"last_month": max(wanted), "platform": platform or ""})
    for pid, month, sessions, installs, duration_s, size, _, mau, dau_sum, counted in rows:
        if installs:
            usage.installs_by_month.setdefault(pid, {})[month] = int(installs)
        if month not in wanted:
            continue
        usage.months[(pid, month)] = MonthTotals(int(mau or 0), int(dau_sum or 0), int(sessions), int(installs),
                                                 int(duration_s), int(size))
        if not counted:
            stale.add((pid, month))
    if stale:
        _recount(store, stale, usage)
    return usage


def _recount(store: Store, stale: set[tuple[str, date]], usage: Usage) -> None:
    """Count the users of the stale (platform, month) states, use the counts and store them."""
    recounted = store.rows(load_sql("monthly_stale"), {
        "platforms": sorted({pid for pid, _ in stale}), "months": sorted({month for _, month in stale})})
    found = 0
    for pid, month, _, mau, dau_sum in recounted:
        if (pid, month) in stale:
            totals = usage.months[(pid, month)]
            totals.mau, totals.dau_sum = int(mau), int(dau_sum)
            found += 1
    if found != len(stale):
        raise RuntimeError("rollup rows of platform_monthly vanished while being read; retry the request")
    store.insert("platform_monthly_counts", [list(row) for row in recounted],
                 ["platform", "month", "event_rows", "mau", "dau_sum"])


# -- figures of one platform and period ------------------------------------------------------------------

def _ratio(numerator: int | Fraction, denominator: int | Fraction | None) -> Fraction | None:
    if not denominator:
        return None
    return Fraction(numerator) / Fraction(denominator)


def relative_change(value: Value, before: Value) -> Fraction | None:
    """(value - before) / before; None when either is missing or `before` is 0."""
    if value is None or before is None or before == 0:
        return None
    return (Fraction(value) - before) / before


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
        "stickiness": _ratio(dau_sum * k, n * mau_sum),
        "minutes_per_user_day": _ratio(duration_s, 60 * dau_sum),
        "mb_per_user_month": sum(per_month_mb, Fraction(0)) / len(per_month_mb) if per_month_mb else None,
        "hours_per_user_month": _ratio(duration_s, 3600 * mau_sum),
        "sessions": sessions,
        "sessions_per_month": Fraction(sessions, k),
        "installs": sum(totals.installs for _, totals in months),
        "installs_total": usage.installs_up_to(platform, period.end),
        "penetration": _ratio(peak, smartphone_users) if smartphone_users else None,
    }
    return Figures(platform, period, tuple((month, totals.mau) for month, totals in months), peak_month, values,
                   duration_s)


def _smartphone_users(registry: Registry, platform_id: str) -> int | None:
    platform = registry.platform(platform_id)
    if platform is None or platform.province is None:
        return None
    province = registry.provinces().get(platform.province)
    return province.smartphone_users if province else None


# -- JSON ------------------------------------------------------------------------------------------------

def as_json(value: Value) -> float | int | None:
    """An exact value as it goes into JSON: a count stays an int, a fraction becomes the nearest float."""
    if isinstance(value, Fraction):
        return float(value)
    return value


def _month_label(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def _figures_json(figures: Figures, previous: Figures, year_before: Figures) -> dict[str, Any]:
    body: dict[str, Any] = {
        "platform": figures.platform,
        "period": figures.period.label,
        "mau_by_month": [{"month": _month_label(month), "mau": mau} for month, mau in figures.mau_by_month],
    }
    for metric in METRICS:
        body[metric] = as_json(figures[metric])
        if metric == "mau_peak":
            body["mau_peak_month"] = _month_label(figures.mau_peak_month)
    body["yoy"] = {m: as_json(relative_change(figures[m], year_before[m])) for m in CHANGE_METRICS}
    body["prev"] = {m: as_json(relative_change(figures[m], previous[m])) for m in CHANGE_METRICS}
    return body


# -- public API ------------------------------------------------------------------------------------------

def platform_metrics(store: Store, registry: Registry, platform_id: str, period: Period) -> dict[str, Any]:
    """The body of GET /v1/platforms/{id}/metrics: every metric over `period`, with yoy and prev changes."""
    previous, year_before = period.previous(), period.year_before()
    usage = read_usage(store, [period, previous, year_before], platform_id)
    users = _smartphone_users(registry, platform_id)
    figures = [compute_figures(platform_id, p, usage, users) for p in (period, previous, year_before)]
    return _figures_json(*figures)


def all_figures(store: Store, registry: Registry, periods: Sequence[Period]) -> list[dict[str, Figures]]:
    """For each of `periods`, the figures of every platform the rollups hold for any of them,
    with a constant number of queries."""
    usage = read_usage(store, periods)
    result: list[dict[str, Figures]] = []
    for period in periods:
        result.append({pid: compute_figures(pid, period, usage, _smartphone_users(registry, pid))
                       for pid in sorted(usage.platforms())})
    return result


def _active(figures: dict[str, Figures]) -> dict[str, Figures]:
    """The platforms with sessions in the period."""
    return {pid: f for pid, f in figures.items() if f.had_sessions}


def all_platform_metrics(store: Store, registry: Registry, period: Period) -> dict[str, dict[str, Any]]:
    """platform_metrics for every platform with sessions in `period`, keyed by platform id."""
    current, previous, year_before = all_figures(store, registry, [period, period.previous(), period.year_before()])
    return {pid: _figures_json(f, previous[pid], year_before[pid]) for pid, f in _active(current).items()}


def check_choice(name: str, value: str, allowed: Iterable[str]) -> str:
    """`value` if it is one of `allowed`, else ValueError naming the allowed values."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name}: unknown value {value[:40]!r}; one of: {', '.join(allowed)}")
    return value


def _exact_sort_key(figures: Figures, metric: str) -> tuple[Fraction, str]:
    value = figures[metric]
    assert value is not None
    return -Fraction(value), figures.platform


def rankings(store: Store, registry: Registry, period: Period, metric: str, category: str | None = None,
             origin: str = "all", kind: str | None = None, limit: int | None = None) -> dict[str, Any]:
    """Registered platforms with sessions in `period` and a value of `metric`, highest first, ties by id."""
    check_choice("metric", metric, METRICS)
    check_choice("origin", origin, ORIGIN_FILTERS)
    if category is not None:
        check_choice("category", category, CATEGORIES)
    if kind is not None:
        check_choice("kind", kind, KIND_FILTERS)
    if limit is not None and limit < 1:
        raise ValueError(f"limit: must be at least 1, got {limit}")
    current, year_before = all_figures(store, registry, [period, period.year_before()])
    registered = registry.platforms()
    ranked = []
    for pid, figures in _active(current).items():
        platform = registered.get(pid)
        if platform is None or figures[metric] is None:
            continue
        if (category is not None and platform.category != category) or (kind is not None and platform.kind != kind):
            continue
        if origin != "all" and platform.origin != origin:
            continue
        ranked.append(figures)
    ranked.sort(key=lambda f: _exact_sort_key(f, metric))
    items = []
    for rank, figures in enumerate(ranked[:limit] if limit is not None else ranked, start=1):
        platform = registered[figures.platform]
        before = year_before.get(figures.platform)
        items.append({
            "rank": rank, "platform": platform.platform_id, "name": platform.name, "origin": platform.origin,
            "category": platform.category, "kind": platform.kind, "value": as_json(figures[metric]),
            "yoy": as_json(relative_change(figures[metric], before[metric] if before else None)),
        })
    return {"period": period.label, "metric": metric, "items": items}


def compare_from_figures(figures: Iterable[Figures], origins: dict[str, str], names: dict[str, str],
                         metric: str, top: int) -> dict[str, Any]:
    """The top `top` of `figures` by mau_avg (ties by id), `metric` summed per origin; shares and ratio."""
    chosen = sorted(figures, key=lambda f: _exact_sort_key(f, "mau_avg"))[:top]
    totals: dict[str, Fraction] = {}
    body: dict[str, Any] = {}
    for origin in ORIGINS:
        members = [f for f in chosen if origins[f.platform] == origin]
        values = [f[metric] for f in members]
        totals[origin] = sum((Fraction(v) for v in values if v is not None), Fraction(0))
        body[origin] = {
            "platforms": [{"platform": f.platform, "name": names[f.platform], "mau_avg": as_json(f["mau_avg"]),
                           "value": as_json(f[metric])} for f in members],
            "total": as_json(totals[origin]),
        }
    grand_total = totals["vn"] + totals["foreign"]
    for origin in ORIGINS:
        body[origin]["share"] = as_json(_ratio(totals[origin], grand_total))
    body["ratio_vn_to_foreign"] = as_json(_ratio(totals["vn"], totals["foreign"]))
    return body


def compare_origin(store: Store, registry: Registry, period: Period, category: str,
                   metric: str = "mb_per_user_month", top: int = 5) -> dict[str, Any]:
    """The category's top platforms by mau_avg, with `metric` summed per origin (Vietnamese vs foreign)."""
    check_choice("category", category, CATEGORIES)
    check_choice("metric", metric, METRICS)
    if top < 1:
        raise ValueError(f"top: must be at least 1, got {top}")
    (current,) = all_figures(store, registry, [period])
    registered = registry.platforms()
    in_category = [f for pid, f in _active(current).items()
                   if pid in registered and registered[pid].category == category]
    body = compare_from_figures(in_category, {pid: p.origin for pid, p in registered.items()},
                                {pid: p.name for pid, p in registered.items()}, metric, top)
    return {"period": period.label, "category": category, "metric": metric, **body}


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


def overview(store: Store, registry: Registry, period: Period,
             band_edges: Sequence[int] = DEFAULT_BAND_EDGES) -> dict[str, Any]:
    """The Vietnamese platforms with sessions in `period`: counts by size band and category, hours, share."""
    check_band_edges(band_edges)
    (current,) = all_figures(store, registry, [period])
    registered = registry.platforms()
    active = _active(current)
    vietnamese = [f for pid, f in active.items() if pid in registered and registered[pid].origin == "vn"]
    mau_avgs = [Fraction(f["mau_avg"] or 0) for f in vietnamese]
    bounds = [0, *band_edges]
    bands = []
    for i, low in enumerate(bounds):
        high = bounds[i + 1] if i + 1 < len(bounds) else None
        count = sum(1 for m in mau_avgs if m >= low and (high is None or m < high))
        bands.append({"min": low, "max": high, "platforms": count})
    categories: dict[str, int] = {}
    for category in CATEGORIES:
        count = sum(1 for f in vietnamese
                    if registered[f.platform].category == category and Fraction(f["mau_avg"] or 0) >= band_edges[0])
        if count:
            categories[category] = count
    duration_s = sum(f.duration_s for f in vietnamese)
    mau_month_sum = sum(mau for f in vietnamese for _, mau in f.mau_by_month)
    all_mau = sum((Fraction(f["mau_avg"] or 0) for f in active.values()), Fraction(0))
    vn_mau = sum(mau_avgs, Fraction(0))
    return {
        "period": period.label,
        "platforms_active": len(vietnamese),
        "mau_total": as_json(vn_mau),
        "bands": bands,
        "categories": categories,
        "hours_per_user_month": as_json(_ratio(duration_s, 3600 * mau_month_sum)),
        "share_of_users": as_json(_ratio(vn_mau, all_mau)),
    }


def read_year_cells(store: Store, platform_id: str, by: str, year: int) -> disclosure.YearCells:
    """A platform's users per value of `by` and month of `year`, with its monthly users (mau by month)."""
    whole_year = period_of_kind("year", year)
    rows = store.rows(load_sql("breakdown"), {"platform": platform_id, "dim": by, "first_month": whole_year.start,
                                              "last_month": whole_year.months[-1]})
    cells: dict[str, list[int]] = defaultdict(lambda: [0] * disclosure.MONTHS)
    for key, month, users in rows:
        cells[key][month.month - 1] += int(users)
    usage = read_usage(store, [whole_year], platform_id)
    return disclosure.YearCells(year, {key: tuple(row) for key, row in cells.items() if any(row)},
                                tuple(usage.month(platform_id, month).mau for month in whole_year.months))


def breakdown_items(data: disclosure.YearCells, hidden: frozenset[str], period: Period) -> list[dict[str, Any]]:
    """The period's table: every value with users in the year, shown ones first (largest first, ties by key),
    then the hidden ones by key, so that their order says nothing about their size."""
    platform_mau_sum = sum(data.totals[m] for m in disclosure.month_slots(period))
    shown, hidden_items = [], []
    for key in data.cells:
        label = key or None  # '' is stored when the event gave no value
        if key in hidden:
            hidden_items.append({"key": label, "mau_avg": None, "share": None, "suppressed": True})
            continue
        users = data.cell(key, period)
        mau_avg = Fraction(users, period.k)
        shown.append((mau_avg, {"key": label, "mau_avg": as_json(mau_avg),
                                "share": as_json(_ratio(users, platform_mau_sum)), "suppressed": False}))
    shown.sort(key=lambda item: (-item[0], item[1]["key"] is None, item[1]["key"] or ""))
    hidden_items.sort(key=lambda item: (item["key"] is None, item["key"] or ""))
    return [item for _, item in shown] + hidden_items


def breakdown(store: Store, registry: Registry, platform_id: str, period: Period, by: str,
              min_cell_users: int) -> dict[str, Any]:
    """Users of one platform by province, country or os: each value's mau_avg and its share of the platform's
    mau_avg, with the values the year's disclosure pattern hides suppressed (docs/DISCLOSURE.md; the
    protection is `min_cell_users` user-months)."""
    check_choice("by", by, BREAKDOWN_DIMENSIONS)
    if min_cell_users < 1:
        raise ValueError(f"min_cell_users: must be at least 1, got {min_cell_users}")
    data = read_year_cells(store, platform_id, by, period.start.year)
    hidden = disclosure.protect(data, threshold=min_cell_users, protection=min_cell_users)
    return {"platform": platform_id, "period": period.label, "by": by,
            "items": breakdown_items(data, hidden, period)}
