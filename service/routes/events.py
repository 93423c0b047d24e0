"""POST /v1/events (vendor keys): the ingestion API. Body size and time limits are enforced for every
endpoint by `service.limits.RequestLimits`; `ingest.decode` checks them again for direct callers."""

from __future__ import annotations

import asyncio

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from queries.apikeys import Principal
from service.auth import services, vendor_only

router = APIRouter(tags=["events"])


@router.post("/v1/events")
async def post_events(request: Request, who: Principal = Depends(vendor_only)) -> Response:
    body = await request.body()
    assert who.vendor is not None
    pending = await run_in_threadpool(services(request).ingestor.submit, body, request.headers.get("content-type"),
                                      request.headers.get("content-encoding"), who.vendor)
    result = await asyncio.wrap_future(pending)  # waits for the writer without holding a worker thread
    return Response(orjson.dumps(result.as_dict()), media_type="application/json")
