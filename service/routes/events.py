"""POST /v1/events (vendor keys): the ingestion API."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from ingest.decode import RequestRejected
from ingest.limits import MAX_BODY_BYTES
from queries.apikeys import Principal
from service.auth import services, vendor_only

router = APIRouter(tags=["events"])


@router.post("/v1/events")
async def post_events(request: Request, who: Principal = Depends(vendor_only)) -> Response:
    body = await read_body(request)
    assert who.vendor is not None
    result = await run_in_threadpool(services(request).ingestor.ingest, body, request.headers.get("content-type"),
                                     request.headers.get("content-encoding"), who.vendor)
    return Response(orjson.dumps(result.as_dict()), media_type="application/json")


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The body, refusing (413) as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise RequestRejected(413, f"request body is {declared} bytes; the limit is {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise RequestRejected(413, f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
