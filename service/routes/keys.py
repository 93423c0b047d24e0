"""POST /v1/keys, GET /v1/keys and DELETE /v1/keys/{id} (admin). A key is shown once, when it is created."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from queries.apikeys import Principal
from queries.registry import VENDOR_ID
from service.auth import admin_only, services
from service.context import Services

router = APIRouter(tags=["keys"])


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    role: Literal["admin", "vendor", "analyst"]
    vendor: str | None = Field(None, pattern=VENDOR_ID.pattern)

    @model_validator(mode="after")
    def _vendor_matches_role(self) -> NewKey:
        if self.role == "vendor" and not self.vendor:
            raise ValueError("a vendor key needs 'vendor'")
        if self.role != "vendor" and self.vendor is not None:
            raise ValueError(f"a {self.role} key takes no 'vendor'")
        return self


@router.post("/v1/keys", status_code=201)
def create_key(body: NewKey, _: Principal = Depends(admin_only), ctx: Services = Depends(services)) -> dict:
    key_id, key = ctx.keys.create(body.role, body.vendor)
    return {"id": key_id, "key": key, "role": body.role, "vendor": body.vendor}


@router.get("/v1/keys")
def list_keys(_: Principal = Depends(admin_only), ctx: Services = Depends(services)) -> dict:
    return {"items": ctx.keys.listing()}


@router.delete("/v1/keys/{key_id}", status_code=204)
def revoke_key(key_id: str, _: Principal = Depends(admin_only), ctx: Services = Depends(services)) -> Response:
    if not ctx.keys.revoke(key_id[:64]):
        raise HTTPException(404, f"no active key with id {key_id[:64]!r}")
    return Response(status_code=204)
