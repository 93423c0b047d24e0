"""Period summaries: POST generates a new immutable version (admin); GETs read versions in any format."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import Response

from queries.apikeys import Principal
from queries.periods import Period, parse_period
from queries.summaries import SummaryVersion
from service.auth import admin_only, require, services
from service.context import Services
from service.summaries import summaries_of
from service.summaries.render import MEDIA_TYPES, file_manifest, filename, render

router = APIRouter(tags=["summaries"])
readers = require("admin", "analyst")

Format = Literal["json", "md", "html", "xlsx", "csv"]
Lang = Literal["vi", "en"]


def _period(text: str) -> Period:
    try:
        return parse_period(text)
    except ValueError as exc:
        raise HTTPException(422, f"period: {exc}") from None


def _answer(version: SummaryVersion, fmt: str, lang: str) -> Response:
    headers = {}
    if fmt in {"xlsx", "csv"}:
        headers["Content-Disposition"] = f'attachment; filename="{filename(version, fmt)}"'
    return Response(render(version, fmt, lang), media_type=MEDIA_TYPES[fmt], headers=headers)


def _missing(period: Period) -> HTTPException:
    return HTTPException(404, f"no summary of {period.label} yet; an admin key can make one with "
                              f"POST /v1/summaries/{period.label}")


@router.post("/v1/summaries/{period}", status_code=201)
def create_summary(period: str = Path(max_length=16), who: Principal = Depends(admin_only),
                   ctx: Services = Depends(services)) -> dict:
    version = summaries_of(ctx).generate(_period(period), "api", who.key_id)
    return {**version.meta(), "changed_figures": len(version.changes["items"])}


@router.get("/v1/summaries/{period}")
def latest_summary(period: str = Path(max_length=16), fmt: Format = Query("json", alias="format"),
                   lang: Lang = Query("vi"), _: Principal = Depends(readers),
                   ctx: Services = Depends(services)) -> Response:
    parsed = _period(period)
    version = summaries_of(ctx).get(parsed.label)
    if version is None:
        raise _missing(parsed)
    return _answer(version, fmt, lang)


@router.get("/v1/summaries/{period}/versions")
def list_versions(period: str = Path(max_length=16), _: Principal = Depends(readers),
                  ctx: Services = Depends(services)) -> dict:
    parsed = _period(period)
    items = summaries_of(ctx).versions(parsed.label)
    if not items:
        raise _missing(parsed)
    return {"period": parsed.label, "items": items}


def _version(ctx: Services, period: str, number: int) -> SummaryVersion:
    parsed = _period(period)
    version = summaries_of(ctx).get(parsed.label, number)
    if version is None:
        raise HTTPException(404, f"{parsed.label} has no summary version {number} (GET /v1/summaries/"
                                 f"{parsed.label}/versions lists them)")
    return version


@router.get("/v1/summaries/{period}/versions/{number}")
def one_version(period: str = Path(max_length=16), number: int = Path(ge=1, le=2**32 - 1),
                fmt: Format = Query("json", alias="format"), lang: Lang = Query("vi"),
                _: Principal = Depends(readers), ctx: Services = Depends(services)) -> Response:
    return _answer(_version(ctx, period, number), fmt, lang)


@router.get("/v1/summaries/{period}/versions/{number}/manifest")
def version_manifest(period: str = Path(max_length=16), number: int = Path(ge=1, le=2**32 - 1),
                     _: Principal = Depends(readers), ctx: Services = Depends(services)) -> dict:
    """What the version was made from (as its v<n>.manifest.json)."""
    version = _version(ctx, period, number)
    return file_manifest(version)


@router.get("/v1/summaries/{period}/versions/{number}/verification")
def verify_version(period: str = Path(max_length=16), number: int = Path(ge=1, le=2**32 - 1),
                   _: Principal = Depends(readers), ctx: Services = Depends(services)) -> dict:
    """The version's figures recomputed from the stored data: equal, or which figures differ."""
    version = _version(ctx, period, number)
    differences = summaries_of(ctx).verify(version)
    return {"period": version.period, "version": version.version, "equal": not differences,
            "differences": [vars(d) for d in differences]}
