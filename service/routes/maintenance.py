"""Operator checks over HTTP (admin): what `vnmeter verify` and `vnmeter doctor` do when `vnmeter serve` holds
the data directory."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict

from queries.apikeys import Principal
from queries.periods import parse_period
from service import maintenance
from service.auth import admin_only, services
from service.context import Services

router = APIRouter(tags=["admin"])


class VerifyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    period: str
    repair: bool = False


@router.post("/v1/admin/verify")
def verify(body: VerifyIn, _: Principal = Depends(admin_only), ctx: Services = Depends(services)) -> dict[str, Any]:
    try:
        return maintenance.verify(ctx, parse_period(body.period), body.repair)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.get("/v1/admin/doctor")
def doctor(_: Principal = Depends(admin_only), ctx: Services = Depends(services)) -> dict[str, Any]:
    return maintenance.doctor(ctx)
