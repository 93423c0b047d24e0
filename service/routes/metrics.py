"""Metrics endpoints: platform metrics and breakdowns, rankings, Vietnamese vs foreign, overview.

Thin: parse and check the query, call `queries.metrics` (typed results), answer its JSON form
(`queries.present`) or (`?format=csv`) CSV.
Analyst and admin keys read everything; a vendor key reads only its own platforms' metrics and breakdowns.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import Response

from queries import metrics, present
from queries.apikeys import Principal
from queries.periods import Period, parse_period
from service.auth import any_key, require, services
from service.context import Services

router = APIRouter(tags=["metrics"])
analyst_or_admin = require("analyst", "admin")
FORMATS = ("json", "csv")
T = TypeVar("T")

PERIOD_HELP = "YYYY-MM, YYYY-Qn, YYYY-Hn or YYYY (calendar of Asia/Ho_Chi_Minh)"
FORMAT_HELP = "json (default) or csv"


def _checked(call: Callable[[], T]) -> T:
    """Run `call`, turning a ValueError (bad period, metric, filter ...) into 422 with its message."""
    try:
        return call()
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


def _period(text: str) -> Period:
    return _checked(lambda: parse_period(text))


def _format(text: str) -> str:
    return _checked(lambda: metrics.check_choice("format", text, FORMATS))


def _own_platform(platform_id: str, who: Principal, ctx: Services) -> None:
    """404 for an unregistered platform; 403 when a vendor key asks about another vendor's platform."""
    platform = ctx.registry.platform(platform_id)
    if platform is None:
        raise HTTPException(404, f"no platform with id {platform_id[:64]!r}")
    if who.role == "vendor" and platform.vendor != who.vendor:
        raise HTTPException(403, f"platform {platform_id!r} belongs to another vendor; a vendor key reads only "
                                 f"its own platforms")


def _csv(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]],
         body: dict[str, Any] | None = None) -> Response:
    """CSV of `rows`; months answered as of an earlier count (the JSON's "provisional") are named in the
    X-Provisional-Months header as platform:YYYY-MM, comma-separated."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else _cell(value) for value in row])
    headers = {"Content-Disposition": f'attachment; filename="{filename}.csv"'}
    if body and body.get("provisional"):
        headers["X-Provisional-Months"] = ",".join(f"{p['platform']}:{p['month']}" for p in body["provisional"])
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value) if isinstance(value, float) else str(value)


@router.get("/v1/platforms/{platform_id}/metrics")
def platform_metrics(platform_id: str, period: str = Query(description=PERIOD_HELP),
                     format: str = Query("json", description=FORMAT_HELP),
                     who: Principal = Depends(any_key), ctx: Services = Depends(services)) -> Any:
    parsed, fmt = _period(period), _format(format)
    _own_platform(platform_id, who, ctx)
    body = present.platform_metrics_json(metrics.platform_metrics(ctx.store, ctx.registry, platform_id, parsed))
    if fmt == "csv":
        return _csv(f"{platform_id}-{parsed.label}-mau", ["month", "mau"],
                    ([row["month"], row["mau"]] for row in body["mau_by_month"]), body)
    return body


@router.get("/v1/platforms/{platform_id}/breakdown")
def platform_breakdown(platform_id: str, period: str = Query(description=PERIOD_HELP),
                       by: str = Query(description="province, country or os"),
                       format: str = Query("json", description=FORMAT_HELP),
                       who: Principal = Depends(any_key), ctx: Services = Depends(services)) -> Any:
    parsed, fmt = _period(period), _format(format)
    _checked(lambda: metrics.check_choice("by", by, metrics.BREAKDOWN_DIMENSIONS))
    _own_platform(platform_id, who, ctx)
    body = present.breakdown_json(metrics.breakdown(ctx.store, platform_id, parsed, by, ctx.settings.min_cell_users))
    if fmt == "csv":
        return _csv(f"{platform_id}-{parsed.label}-{by}", ["key", "mau_avg", "share", "suppressed"],
                    ([i["key"], i["mau_avg"], i["share"], i["suppressed"]] for i in body["items"]))
    return body


@router.get("/v1/rankings")
def rankings(period: str = Query(description=PERIOD_HELP),
             metric: str = Query(description=f"one of {', '.join(metrics.METRICS)}"),
             category: str | None = None, origin: str = Query("all", description="vn, foreign or all"),
             kind: str | None = Query(None, description="app or web"), limit: int | None = Query(None, ge=1),
             format: str = Query("json", description=FORMAT_HELP),
             _: Principal = Depends(analyst_or_admin), ctx: Services = Depends(services)) -> Any:
    parsed, fmt = _period(period), _format(format)
    body = present.ranking_json(_checked(lambda: metrics.rankings(ctx.store, ctx.registry, parsed, metric,
                                                                  category=category, origin=origin, kind=kind,
                                                                  limit=limit)))
    if fmt == "csv":
        columns = ["rank", "platform", "name", "origin", "category", "kind", "value", "yoy"]
        return _csv(f"rankings-{parsed.label}-{metric}", columns,
                    ([item[c] for c in columns] for item in body["items"]), body)
    return body


@router.get("/v1/compare/origin")
def compare_origin(period: str = Query(description=PERIOD_HELP), category: str = Query(),
                   metric: str = Query("mb_per_user_month", description=f"one of {', '.join(metrics.METRICS)}"),
                   top: int = Query(5, ge=1, le=1000),
                   format: str = Query("json", description=FORMAT_HELP),
                   _: Principal = Depends(analyst_or_admin), ctx: Services = Depends(services)) -> Any:
    parsed, fmt = _period(period), _format(format)
    result = _checked(lambda: metrics.compare_origin(ctx.store, ctx.registry, parsed, category, metric=metric,
                                                     top=top))
    body = present.origin_comparison_json(parsed, category, result, present.platform_names(ctx.registry.platforms()))
    if fmt == "csv":
        rows = ([origin, p["platform"], p["name"], p["mau_avg"], p["value"], body[origin]["total"],
                 body[origin]["share"]]
                for origin in ("vn", "foreign") for p in body[origin]["platforms"])
        return _csv(f"compare-{parsed.label}-{category}-{metric}",
                    ["origin", "platform", "name", "mau_avg", "value", "origin_total", "origin_share"], rows, body)
    return body


@router.get("/v1/overview")
def overview(period: str = Query(description=PERIOD_HELP),
             band_edges: str = Query(",".join(str(e) for e in metrics.DEFAULT_BAND_EDGES),
                                     description="increasing MAU thresholds separated by commas"),
             format: str = Query("json", description=FORMAT_HELP),
             _: Principal = Depends(analyst_or_admin), ctx: Services = Depends(services)) -> Any:
    parsed, fmt = _period(period), _format(format)
    edges = _checked(lambda: metrics.parse_band_edges(band_edges))
    body = present.overview_json(metrics.overview(ctx.store, ctx.registry, parsed, band_edges=edges))
    if fmt == "csv":
        rows: list[list[Any]] = [["band", band["min"], band["max"], None, band["platforms"]]
                                 for band in body["bands"]]
        rows += [["category", edges[0], None, category, count] for category, count in body["categories"].items()]
        return _csv(f"overview-{parsed.label}", ["section", "min", "max", "category", "platforms"], rows, body)
    return body
