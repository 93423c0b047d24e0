"""Size and time limits for the body of every request, as one ASGI middleware (`RequestLimits`).

- A body over MAX_REQUEST_BYTES answers 413, whatever the endpoint: refused from `Content-Length`
  before anything is read, or as soon as the bytes received pass the limit.
- The whole body must arrive within BODY_TIMEOUT_S seconds of the request's start. A client that
  trickles its body (slowloris) gets 408 and its connection is closed; it holds no worker meanwhile,
  because the server is asynchronous, and it cannot hold its connection longer than the limit.

Both answers are `{"error": ...}` like every other error: the limits raise `HTTPException`s from
inside `receive`, which the app's error handlers turn into JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
import orjson
from fastapi import HTTPException

from ingest.limits import MAX_BODY_BYTES

MAX_REQUEST_BYTES = MAX_BODY_BYTES
"""Largest request body of any endpoint (the same 5 MiB as POST /v1/events)."""

BODY_TIMEOUT_S = 30.0
"""Seconds a client has, from the start of its request, to send the whole body."""

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CLOSE = {"Connection": "close"}


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int, declared: str | None = None):
        size = f"is {declared} bytes" if declared else "is over the limit"
        super().__init__(413, f"request body {size}; the limit is {limit} bytes", headers=CLOSE)


class BodyTooSlow(HTTPException):
    def __init__(self, seconds: float):
        super().__init__(408, f"the request body did not arrive within {seconds:g} s; send it faster or split it",
                         headers=CLOSE)


class RequestLimits:
    """Wraps `receive` so that reading a body past its size or time limit raises 413 or 408."""

    def __init__(self, app: ASGIApp, max_bytes: int | None = None, body_timeout_s: float | None = None):
        self.app = app
        self.max_bytes = max_bytes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # module constants are read per request, so that a test can lower them
        max_bytes = self.max_bytes if self.max_bytes is not None else MAX_REQUEST_BYTES
        timeout_s = self.body_timeout_s if self.body_timeout_s is not None else BODY_TIMEOUT_S
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await _answer(send, BodyTooLarge(max_bytes, declared))
            return
        deadline = anyio.current_time() + timeout_s
        received = 0
        complete = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, complete
            if complete:
                return await receive()
            message: Message | None = None
            with anyio.move_on_after(max(0.0, deadline - anyio.current_time())):
                message = await receive()
            if message is None:
                raise BodyTooSlow(timeout_s)
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise BodyTooLarge(max_bytes)
                complete = not message.get("more_body", False)
            else:
                complete = True
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except (BodyTooLarge, BodyTooSlow) as exc:  # raised where no handler turned it into a response
            if started:
                raise
            await _answer(send, exc)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


async def _answer(send: Send, exc: HTTPException) -> None:
    body = orjson.dumps({"error": exc.detail})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
