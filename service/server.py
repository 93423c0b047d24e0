"""The HTTP server of `vnmeter serve`: uvicorn (httptools), with limits on what a client can hold before its
request reaches the application.

uvicorn's httptools protocol buffers a request's head (request line and headers) without limit and starts
no timer on a new connection; its `limit_concurrency` answers 503 only once a head is complete, so idle
connections are never counted, and `h11_max_incomplete_event_size` applies to the h11 protocol only
(docs/decisions/0012-server-limits.md). `LimitedHttp` adds, per connection:

- `max_head_bytes`: a head longer than this is answered 431 and the connection closed;
- `head_timeout_s`: the whole head must arrive within this time of the connection's start (or of the first
  byte of a later request on it); otherwise 408 (nothing when no byte came) and the connection is closed;
- a cap on open connections: a connection over it is answered 503 with `Retry-After` and closed at once, so
  it frees its file descriptor.

The health probes have a listener in a process of their own (`service.health`), which the cap and the load of
this one cannot reach. The body's size and time limits are the application's (`service.limits.RequestLimits`).
"""

from __future__ import annotations

import asyncio
import http
import logging
import resource
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("vnmeter")

MAX_HEAD_BYTES = 16 * 1024
"""Request line and headers; a vendor's request needs well under 1 KiB (h11's default limit is 16 KiB too)."""
HEAD_TIMEOUT_S = 10.0
"""Seconds to send a whole head; idle keep-alive connections close after 5 s (`timeout_keep_alive`) anyway."""
HEALTH_CONNECTIONS = 32
"""Connections the health listener keeps open at once (probes open one at a time)."""
RESERVED_FILES = 1024
"""File descriptors kept for everything but client connections: chDB's data parts, the journal, logs."""
RETRY_AFTER_S = 1

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]
Tick = Callable[[int], Awaitable[None]]


@dataclass
class ServerLimits:
    max_connections: int
    head_timeout_s: float = HEAD_TIMEOUT_S
    max_head_bytes: int = MAX_HEAD_BYTES
    open: int = 0


def answer(status: int, message: str, *extra: tuple[str, str]) -> bytes:
    """A complete HTTP/1.1 response that closes the connection, with the JSON error body every answer has."""
    body = orjson.dumps({"error": message})
    lines = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}", "content-type: application/json",
             f"content-length: {len(body)}", "connection: close", *(f"{name}: {value}" for name, value in extra)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class LimitedHttp(HttpToolsProtocol):
    """uvicorn's httptools protocol with a head size limit, a head time limit and a connection cap."""

    limits: ClassVar[ServerLimits]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_bytes = 0
        self._awaiting_head = True
        self._head_timer: asyncio.TimerHandle | None = None
        self.limits.open += 1
        if self.limits.open > self.limits.max_connections:
            self._refuse(503, f"the server holds its maximum of {self.limits.max_connections} connections; retry "
                              "shortly", ("retry-after", str(RETRY_AFTER_S)))
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        self.limits.open -= 1
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._awaiting_head:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._awaiting_head and self._head_bytes > self.limits.max_head_bytes and not self.transport.is_closing():
            self._refuse(431, f"the request line and headers are over {self.limits.max_head_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_head_timer()  # for a later request of a kept-alive connection

    def on_headers_complete(self) -> None:
        self._awaiting_head = False
        self._head_bytes = 0
        self._disarm_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._awaiting_head = True  # what comes next is the head of the next request

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.head_timeout_s, self._head_too_slow)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_bytes:
            self._refuse(408, f"the request line and headers did not arrive within {self.limits.head_timeout_s:g} s")
        else:
            self.transport.close()

    def _refuse(self, status: int, message: str, *extra: tuple[str, str]) -> None:
        self._disarm_head_timer()
        self.transport.write(answer(status, message, *extra))
        self.transport.close()


def protocol_for(limits: ServerLimits) -> type[LimitedHttp]:
    return type("LimitedHttpForServer", (LimitedHttp,), {"limits": limits})


class ListenError(Exception):
    """A port that cannot be listened on; the message says which and why."""


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
        return socket.create_server((host, port), family=family, backlog=backlog)
    except OSError as exc:
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def fit_to_open_files(limits: ServerLimits) -> None:
    """Raise this process's open-file limit as far as allowed, and lower the caps if they still cannot fit in it
    (then the server could run out of descriptors, and stop accepting, before its cap refuses anyone)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = limits.max_connections + RESERVED_FILES
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and soft < needed:
        fitting = max(16, soft - RESERVED_FILES)
        log.warning("VNMETER_MAX_CONNECTIONS=%d needs %d open files but this process may open %d (ulimit -n): "
                    "serving at most %d connections", limits.max_connections, needed, soft, fitting)
        limits.max_connections = fitting


class TickingServer(uvicorn.Server):
    """A uvicorn server that also calls `tick` on its every tick (every 100 ms, on its event loop)."""

    def __init__(self, config: uvicorn.Config, tick: Tick | None = None):
        super().__init__(config)
        self.tick = tick

    async def on_tick(self, counter: int) -> bool:
        if self.tick is not None:
            await self.tick(counter)
        return await super().on_tick(counter)


def build(app: ASGIApp, host: str, port: int, limits: ServerLimits, tick: Tick | None = None,
          **config: Any) -> tuple[TickingServer, list[socket.socket]]:
    """A uvicorn server for `app` with `limits`, and its listening socket."""
    settings = {"log_level": "info", "timeout_keep_alive": 5, **config}
    sockets = [listen(host, port)]
    return TickingServer(uvicorn.Config(app, http=protocol_for(limits), **settings), tick), sockets


def serve(app: ASGIApp, host: str, port: int, limits: ServerLimits, tick: Tick | None = None) -> None:
    fit_to_open_files(limits)
    server, sockets = build(app, host, port, limits, tick)
    try:
        server.run(sockets=sockets)
    finally:
        for sock in sockets:
            sock.close()
