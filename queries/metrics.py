"""The metrics the API answers (definitions: docs/METRICS.md): each reads the rollups once
(`queries.rollups`) and computes typed results (`queries.figures`); `queries.present` shapes them as JSON.

Reads answer a month still receiving events as of its last count when counting it again would be expensive
(the result lists such months as provisional); `exact=True` counts every changed month first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from queries import disclosure, present
from queries.figures import (
    BREAKDOWN_DIMENSIONS,
    CHANGE_METRICS,
    DEFAULT_BAND_EDGES,
    KIND_FILTERS,
    METRICS,
    ORIGIN_FILTERS,
    Breakdown,
    Comparison,
    Figures,
    FigureSet,
    Overview,
    PeriodFigures,
    Ranking,
    breakdown_cells,
    check_band_edges,
    check_choice,
    check_comparison,
    check_ranking,
    compare,
    compute_figures,
    figure_set,
    parse_band_edges,
    rank,
    relative_change,
    summarise,
)
from queries.periods import Period
from queries.present import as_json, compare_from_figures
from queries.registry import Registry
from queries.rollups import MonthTotals, Usage, load_sql, read_usage, read_year_cells
from queries.store import Store

__all__ = [  # the names tests, benchmarks and the service import from here
    "BREAKDOWN_DIMENSIONS", "CHANGE_METRICS", "DEFAULT_BAND_EDGES", "KIND_FILTERS", "METRICS", "ORIGIN_FILTERS",
    "Figures", "MonthTotals", "Usage", "all_figures", "all_platform_metrics", "as_json", "breakdown",
    "check_band_edges", "check_choice", "compare_from_figures", "compare_origin", "compute_figures", "load_sql",
    "overview", "parse_band_edges", "platform_metrics", "rankings", "read_usage", "relative_change",
]


def smartphone_users(registry: Registry) -> dict[str, int | None]:
    """Each registered platform's province's smartphone users (penetration's denominator), or None."""
    provinces = registry.provinces()
    found: dict[str, int | None] = {}
    for pid, platform in registry.platforms().items():
        province = provinces.get(platform.province) if platform.province else None
        found[pid] = province.smartphone_users if province else None
    return found


def all_figures(store: Store, registry: Registry, periods: Sequence[Period], exact: bool = False) -> FigureSet:
    """For each of `periods`, the figures of every platform the rollups hold for any of them, from one read."""
    return figure_set(read_usage(store, periods, exact=exact), periods, smartphone_users(registry))


def platform_metrics(store: Store, registry: Registry, platform_id: str, period: Period) -> PeriodFigures:
    """Every metric of one platform over `period`, the previous period and the year before."""
    periods = [period, period.previous(), period.year_before()]
    usage = read_usage(store, periods, platform_id)
    users = smartphone_users(registry).get(platform_id)
    current, previous, year_before = (compute_figures(platform_id, p, usage, users) for p in periods)
    return PeriodFigures(current, previous, year_before, tuple(usage.provisional_in(periods, [platform_id])))


def all_platform_metrics(store: Store, registry: Registry, period: Period) -> dict[str, dict[str, Any]]:
    """The metrics body of every platform with sessions in `period`, keyed by platform id."""
    figures = all_figures(store, registry, [period, period.previous(), period.year_before()])
    previous, year_before = figures.by_period[1], figures.by_period[2]
    return {pid: present.figures_json(f, previous[pid], year_before[pid]) for pid, f in figures.active(period).items()}


def rankings(store: Store, registry: Registry, period: Period, metric: str, category: str | None = None,
             origin: str = "all", kind: str | None = None, limit: int | None = None) -> Ranking:
    """Registered platforms with sessions in `period` and a value of `metric`, highest first, ties by id."""
    check_ranking(metric, origin, category, kind, limit)
    figures = all_figures(store, registry, [period, period.year_before()])
    items = rank(figures.of(period), figures.of(period.year_before()), registry.platforms(), metric, category,
                 origin, kind, limit)
    return Ranking(period, metric, items, figures.provisional)


def compare_origin(store: Store, registry: Registry, period: Period, category: str,
                   metric: str = "mb_per_user_month", top: int = 5) -> Comparison:
    """The category's top platforms by mau_avg, with `metric` summed per origin (Vietnamese vs foreign)."""
    check_comparison(category, metric, top)
    figures = all_figures(store, registry, [period])
    platforms = registry.platforms()
    in_category = [f for pid, f in figures.active(period).items()
                   if pid in platforms and platforms[pid].category == category]
    result = compare(in_category, {pid: p.origin for pid, p in platforms.items()}, metric, top)
    return Comparison(result.metric, result.sides, result.ratio_vn_to_foreign, figures.provisional)


def overview(store: Store, registry: Registry, period: Period,
             band_edges: Sequence[int] = DEFAULT_BAND_EDGES) -> Overview:
    """The Vietnamese platforms with sessions in `period`: counts by size band and category, hours, share."""
    check_band_edges(band_edges)
    figures = all_figures(store, registry, [period])
    result = summarise(period, figures.active(period), registry.platforms(), band_edges)
    return Overview(result.period, result.platforms_active, result.mau_total, result.bands, result.categories,
                    result.hours_per_user_month, result.share_of_users, figures.provisional)


def breakdown(store: Store, platform_id: str, period: Period, by: str, min_cell_users: int) -> Breakdown:
    """Users of one platform by province, country or os, with the values the year's disclosure pattern hides
    suppressed (docs/DISCLOSURE.md; the protection is `min_cell_users` user-months). Always exact."""
    check_choice("by", by, BREAKDOWN_DIMENSIONS)
    if min_cell_users < 1:
        raise ValueError(f"min_cell_users: must be at least 1, got {min_cell_users}")
    data = read_year_cells(store, platform_id, by, period.start.year)
    hidden = disclosure.protect(data, threshold=min_cell_users, protection=min_cell_users)
    return Breakdown(platform_id, period, by, breakdown_cells(data, hidden, period))
