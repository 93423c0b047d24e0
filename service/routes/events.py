"""POST /v1/events (vendor keys): the ingestion API. Body size and time limits are enforced for every
endpoint by `service.limits.RequestLimits`; `ingest.decode` checks them again for direct callers. How many
requests may hold memory at once is `service.admission`'s business: the body is read only in a decoding turn."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ingest.pipeline import IngestResult
from queries.apikeys import Principal
from service.admission import Admitted
from service.auth import services, vendor_only

router = APIRouter(tags=["events"])


@router.post("/v1/events")
async def post_events(request: Request, who: Principal = Depends(vendor_only)) -> Response:
    ctx = services(request)
    assert who.vendor is not None
    async with ctx.admission.admit() as admitted:
        pending = await decode(request, admitted, who.vendor)
        result = await asyncio.wrap_future(pending)  # waits for the writer without holding a worker thread
    return Response(orjson.dumps(result.as_dict()), media_type="application/json")


async def decode(request: Request, admitted: Admitted, vendor: str) -> Future[IngestResult]:
    """Read, inflate and parse the body in a decoding turn; the body (not kept by the request) is freed here."""
    async with admitted.decoding():
        body = b"".join([chunk async for chunk in request.stream()])
        return await run_in_threadpool(services(request).ingestor.submit, body, request.headers.get("content-type"),
                                       request.headers.get("content-encoding"), vendor)
