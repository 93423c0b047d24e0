"""GET /v1/me (who the key is) and GET /v1/dataset (what the store holds): what the dashboard reads at sign-in."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from queries import dataset
from queries.apikeys import Principal
from service.auth import any_key, services
from service.context import Services

router = APIRouter(tags=["session"])


@router.get("/v1/me")
def me(who: Principal = Depends(any_key)) -> dict:
    return {"key_id": who.key_id, "role": who.role, "vendor": who.vendor}


@router.get("/v1/dataset")
def describe_dataset(who: Principal = Depends(any_key), ctx: Services = Depends(services)) -> dict:
    own = None if who.role != "vendor" else [p.platform_id for p in ctx.registry.platforms().values()
                                              if p.vendor == who.vendor]
    return {"demo_scale": dataset.demo_scale(ctx.store), "months": dataset.months_with_usage(ctx.store, own)}
