"""Health probes and admin operations (sealing months)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from ingest.seal import seal as seal_months
from ingest.vntime import parse_month
from queries.apikeys import Principal
from service.auth import admin_only, services
from service.context import Services

router = APIRouter(tags=["admin"])


class SealIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    before: str


@router.get("/health/live")
def live() -> dict:
    return {"status": "live"}


@router.get("/health/ready")
async def ready(request: Request) -> JSONResponse:
    ctx = services(request)
    ok = await run_in_threadpool(ctx.store.ping)
    if ok:
        quarantined = await run_in_threadpool(lambda: len(ctx.writer.journal.quarantined()))
        return JSONResponse({"status": "ready", "quarantined_inserts": quarantined})
    return JSONResponse({"status": "unavailable", "error": "the data store does not answer"}, 503,
                        headers={"Retry-After": "5"})


@router.post("/v1/admin/seal")
def seal(body: SealIn, _: Principal = Depends(admin_only), ctx: Services = Depends(services)) -> dict:
    try:
        before = parse_month(body.before)
    except ValueError as exc:
        raise HTTPException(422, f"before: {exc}") from None
    sealed = seal_months(ctx.store, before)
    ctx.pseudonym_keys.refresh()
    return sealed.as_dict()
