"""Platform registry and reference provinces."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, ConfigDict, Field, field_validator

from queries.apikeys import Principal
from queries.registry import CATEGORIES, PLATFORM_ID, PROVINCE_CODE, VENDOR_ID, Platform, Province
from service.auth import admin_only, any_key, services
from service.context import Services

router = APIRouter(tags=["registry"])


class PlatformIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1, max_length=200)
    vendor: str = Field(pattern=VENDOR_ID.pattern)
    origin: Literal["vn", "foreign"]
    category: str = Field(json_schema_extra={"enum": list(CATEGORIES)})
    kind: Literal["app", "web"]
    province: str | None = None

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"unknown category {value[:40]!r}; one of: {', '.join(CATEGORIES)}")
        return value


class ProvinceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str = Field(min_length=1, max_length=200)
    smartphone_users: int | None = Field(None, ge=0, le=10**10)  # more than any population; fits UInt64


@router.put("/v1/platforms/{platform_id}")
def put_platform(body: PlatformIn, platform_id: str = Path(pattern=PLATFORM_ID.pattern),
                 _: Principal = Depends(admin_only), ctx: Services = Depends(services)) -> dict:
    if body.province is not None and body.province not in ctx.registry.provinces():
        raise HTTPException(422, f"province: {body.province[:20]!r} is not in the province list (GET /v1/provinces)")
    platform = Platform(platform_id, body.name, body.vendor, body.origin, body.category, body.kind, body.province)
    ctx.registry.put_platform(platform)
    return platform.as_dict()


@router.get("/v1/platforms")
def list_platforms(_: Principal = Depends(any_key), ctx: Services = Depends(services)) -> dict:
    return {"items": [p.as_dict() for p in ctx.registry.platforms().values()]}


@router.get("/v1/categories")
def list_categories(_: Principal = Depends(any_key)) -> dict:
    return {"items": [{"id": key, "label_vi": vi, "label_en": en} for key, (vi, en) in CATEGORIES.items()]}


@router.get("/v1/provinces")
def list_provinces(_: Principal = Depends(any_key), ctx: Services = Depends(services)) -> dict:
    return {"items": [{"code": p.code, "name": p.name, "smartphone_users": p.smartphone_users}
                      for p in ctx.registry.provinces().values()]}


@router.put("/v1/reference/provinces/{code}")
def put_province(body: ProvinceIn, code: str = Path(pattern=PROVINCE_CODE.pattern),
                 _: Principal = Depends(admin_only), ctx: Services = Depends(services)) -> dict:
    province = Province(code, body.name, body.smartphone_users)
    ctx.registry.put_province(province)
    return {"code": code, "name": body.name, "smartphone_users": body.smartphone_users}
