"""Data quality and reconciliation: GET /v1/quality, PUT /v1/platforms/{id}/declared/{YYYY-MM},
GET /v1/reconciliation. A vendor key reads and declares only for its own platforms; analyst and admin keys
read every vendor's. Definitions: docs/METRICS.md ("Data quality", "Reconciliation")."""

from __future__ import annotations

from typing import Any, Self

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from queries.apikeys import Principal
from queries.periods import Period, parse_period
from queries.quality import quality
from queries.reconciliation import MAX_DECLARED, declare, reconciliation
from queries.registry import PLATFORM_ID
from service.auth import any_key, own_platform, services, vendor_only
from service.context import Services

router = APIRouter(tags=["quality"])

PERIOD_HELP = "YYYY-MM, YYYY-Qn, YYYY-Hn or YYYY (calendar of the service time zone)"


class DeclaredIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    events: int | None = Field(None, ge=0, le=MAX_DECLARED, description="events sent with a ts in the month")
    users: int | None = Field(None, ge=0, le=MAX_DECLARED, description="distinct users active in the month")

    @model_validator(mode="after")
    def _something_declared(self) -> Self:
        if self.events is None and self.users is None:
            raise ValueError("declare at least one of events and users")
        return self


def _period(text: str, name: str = "period") -> Period:
    try:
        return parse_period(text)
    except ValueError as exc:
        raise HTTPException(422, f"{name}: {exc}") from None


def _vendor_of(who: Principal) -> str | None:
    """The vendor whose rows a key may read: its own for a vendor key, None (every vendor) otherwise."""
    return who.vendor if who.role == "vendor" else None


@router.get("/v1/quality")
def get_quality(period: str = Query(max_length=16, description=PERIOD_HELP),
                platform: str | None = Query(None, max_length=64, description="only this platform"),
                who: Principal = Depends(any_key), ctx: Services = Depends(services)) -> dict[str, Any]:
    parsed = _period(period)
    if platform is not None:
        own_platform(platform, who, ctx.registry)
    return quality(ctx.store, parsed, ctx.pseudonym_keys.sealed_before(), _vendor_of(who), platform)


@router.put("/v1/platforms/{platform_id}/declared/{month}")
def put_declared(body: DeclaredIn, platform_id: str = Path(pattern=PLATFORM_ID.pattern),
                 month: str = Path(pattern=r"^[0-9]{4}-[0-9]{2}$", description="YYYY-MM"),
                 who: Principal = Depends(vendor_only), ctx: Services = Depends(services)) -> dict[str, Any]:
    first_day = _period(month, "month").start
    own_platform(platform_id, who, ctx.registry)
    return declare(ctx.store, platform_id, first_day, body.events, body.users, who.key_id).as_dict()


@router.get("/v1/reconciliation")
def get_reconciliation(period: str = Query(max_length=16, description=PERIOD_HELP),
                       who: Principal = Depends(any_key), ctx: Services = Depends(services)) -> dict[str, Any]:
    parsed, vendor = _period(period), _vendor_of(who)
    platforms = [p.platform_id for p in ctx.registry.platforms().values() if vendor is None or p.vendor == vendor]
    return reconciliation(ctx.store, ctx.registry, parsed, platforms)
