"""The figures as the API answers them in JSON and summaries store them: a count stays an int, a fraction becomes
the nearest float (nothing is rounded), months are written YYYY-MM. A result with months answered as of an
earlier count (docs/METRICS.md, "Months still receiving events") says so under "provisional"; the key is absent
when every figure is counted from all stored events."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date
from fractions import Fraction
from typing import Any

from queries.figures import (
    CHANGE_METRICS,
    METRICS,
    Breakdown,
    Comparison,
    Figures,
    Overview,
    PeriodFigures,
    Ranking,
    Value,
    compare,
    relative_change,
)
from queries.periods import Period
from queries.registry import ORIGINS, Platform
from queries.rollups import Provisional


def as_json(value: Value) -> float | int | None:
    """An exact value as it goes into JSON: a count stays an int, a fraction becomes the nearest float."""
    if isinstance(value, Fraction):
        return float(value)
    return value


def month_label(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def _with_provisional(body: dict[str, Any], provisional: Iterable[Provisional]) -> dict[str, Any]:
    listed = [{"platform": p.platform, "month": month_label(p.month),
               "counted_at": p.counted_at.astimezone(UTC).isoformat(timespec="milliseconds"),
               "events_counted": p.events_counted, "events_now": p.events_now} for p in provisional]
    if listed:
        body["provisional"] = listed
    return body


def figures_json(figures: Figures, previous: Figures, year_before: Figures) -> dict[str, Any]:
    """The body of GET /v1/platforms/{id}/metrics without its provisional months."""
    body: dict[str, Any] = {
        "platform": figures.platform,
        "period": figures.period.label,
        "mau_by_month": [{"month": month_label(month), "mau": mau} for month, mau in figures.mau_by_month],
    }
    for metric in METRICS:
        body[metric] = as_json(figures[metric])
        if metric == "mau_peak":
            body["mau_peak_month"] = month_label(figures.mau_peak_month)
    body["yoy"] = {m: as_json(relative_change(figures[m], year_before[m])) for m in CHANGE_METRICS}
    body["prev"] = {m: as_json(relative_change(figures[m], previous[m])) for m in CHANGE_METRICS}
    return body


def platform_metrics_json(result: PeriodFigures) -> dict[str, Any]:
    return _with_provisional(figures_json(result.current, result.previous, result.year_before), result.provisional)


def ranking_json(result: Ranking) -> dict[str, Any]:
    items = [{"rank": item.rank, "platform": item.platform.platform_id, "name": item.platform.name,
              "origin": item.platform.origin, "category": item.platform.category, "kind": item.platform.kind,
              "value": as_json(item.value), "yoy": as_json(item.yoy)} for item in result.items]
    return _with_provisional({"period": result.period.label, "metric": result.metric, "items": items},
                             result.provisional)


def comparison_json(result: Comparison, names: Mapping[str, str]) -> dict[str, Any]:
    """The vn and foreign sides (platforms in order with their mau_avg and value, total, share) and the ratio."""
    body: dict[str, Any] = {}
    for origin in ORIGINS:
        side = result.sides[origin]
        body[origin] = {
            "platforms": [{"platform": f.platform, "name": names[f.platform], "mau_avg": as_json(f["mau_avg"]),
                           "value": as_json(f[result.metric])} for f in side.platforms],
            "total": as_json(side.total),
            "share": as_json(side.share),
        }
    body["ratio_vn_to_foreign"] = as_json(result.ratio_vn_to_foreign)
    return _with_provisional(body, result.provisional)


def origin_comparison_json(period: Period, category: str, result: Comparison,
                           names: Mapping[str, str]) -> dict[str, Any]:
    """The body of GET /v1/compare/origin (and a summary's data share)."""
    return {"period": period.label, "category": category, "metric": result.metric, **comparison_json(result, names)}


def compare_from_figures(figures: Iterable[Figures], origins: Mapping[str, str], names: Mapping[str, str],
                         metric: str, top: int) -> dict[str, Any]:
    """`comparison_json` of `compare`: the top `top` by mau_avg, `metric` summed per origin."""
    return comparison_json(compare(figures, origins, metric, top), names)


def overview_json(result: Overview) -> dict[str, Any]:
    return _with_provisional({
        "period": result.period.label,
        "platforms_active": result.platforms_active,
        "mau_total": as_json(result.mau_total),
        "bands": [{"min": band.low, "max": band.high, "platforms": band.platforms} for band in result.bands],
        "categories": dict(result.categories),
        "hours_per_user_month": as_json(result.hours_per_user_month),
        "share_of_users": as_json(result.share_of_users),
    }, result.provisional)


def breakdown_json(result: Breakdown) -> dict[str, Any]:
    return {"platform": result.platform, "period": result.period.label, "by": result.by,
            "items": [{"key": c.key, "mau_avg": as_json(c.mau_avg), "share": as_json(c.share),
                       "suppressed": c.suppressed} for c in result.cells]}


def platform_names(platforms: Mapping[str, Platform]) -> dict[str, str]:
    return {pid: p.name for pid, p in platforms.items()}
