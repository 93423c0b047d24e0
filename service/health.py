"""The health listener of `vnmeter serve --health-port`: a process of its own that answers /health/live and
/health/ready from what the service last wrote, in milliseconds, whatever the service is busy with.

In the service process a probe waits for Python's GIL, which decoding threads hold for up to seconds at a time
(orjson parsing a large JSON array, the C fast path scanning 10,000 lines), and for the event loop, which a
flood of connections keeps busy: a probe answered there took up to 3.5 s under attack
(docs/decisions/0012-server-limits.md).
So the service's event loop only writes a heartbeat on every uvicorn tick (100 ms) and, every 2 s, whether
its store answers (in a thread), into shared memory; this process answers

- /health/live: 200 `{"status": "live", "loop_lag_s": ...}` while the heartbeat is at most LIVE_WITHIN_S old,
  503 before the service has started or once its event loop has stopped running for longer;
- /health/ready: 200 while live and the store answered within READY_WITHIN_S, else 503 with `Retry-After`;

and 404 to anything else, with the same head limits as the API port and a cap of its own. It stops when the
service process is gone.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import time
from collections.abc import Callable
from typing import Any

import orjson

from service.server import HEALTH_CONNECTIONS, ListenError, Scope, ServerLimits, build

LIVE_WITHIN_S = 30.0
"""A service whose event loop has not run for this long is not live (Kubernetes then restarts it)."""
READY_WITHIN_S = 10.0
"""Ready while the store answered a check this recently."""
READY_EVERY_TICKS = 20
"""The store is checked every 20 ticks of 100 ms."""
START_WITHIN_S = 60.0
"""How long the health process may take to listen."""
RETRY_AFTER_S = 5


class SharedHealth:
    """What the service writes and the health process reads: monotonic clock readings, 0 for never. Without
    locks (one writer, whole doubles): a service killed while holding one would leave the probes hanging."""

    def __init__(self, context: Any):
        self.heartbeat: ctypes.c_double = context.RawValue(ctypes.c_double, 0.0)
        self.ready_at: ctypes.c_double = context.RawValue(ctypes.c_double, 0.0)
        self.listening = context.Event()


class Heartbeat:
    """The service's side, called on every tick of its server: beat, and check the store now and then."""

    def __init__(self, shared: SharedHealth, ready: Callable[[], bool]):
        self.shared = shared
        self.ready = ready
        self._check: asyncio.Future[None] | None = None

    async def __call__(self, tick: int) -> None:
        self.shared.heartbeat.value = time.monotonic()
        if tick % READY_EVERY_TICKS == 0 and (self._check is None or self._check.done()):
            self._check = asyncio.get_running_loop().run_in_executor(None, self._check_ready)

    def _check_ready(self) -> None:
        try:
            ready = self.ready()
        except Exception:  # a check that fails is a store that does not answer
            ready = False
        if ready:
            self.shared.ready_at.value = time.monotonic()


class HealthProcess:
    """The health listener's process, started from the service."""

    def __init__(self, host: str, port: int):
        context = multiprocessing.get_context("spawn")  # not fork: the service has threads and an engine loaded
        self.shared = SharedHealth(context)
        self.process = context.Process(target=run, args=(host, port, self.shared, os.getpid()), daemon=True,
                                       name="vnmeter-health")
        self.process.start()
        deadline = time.monotonic() + START_WITHIN_S
        while not self.shared.listening.wait(0.1):
            if not self.process.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ListenError(f"the health listener could not listen on {host}:{port} (see the lines above)")

    def heartbeat(self, ready: Callable[[], bool]) -> Heartbeat:
        return Heartbeat(self.shared, ready)

    def stop(self) -> None:
        if self.process.is_alive():
            self.process.terminate()
        self.process.join(timeout=10)


def json_response(status: int, document: dict[str, Any], *headers: tuple[bytes, bytes]
                  ) -> tuple[int, bytes, list[Any]]:
    body = orjson.dumps(document)
    return status, body, [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)), *headers]


def probe_answer(path: str, shared: SharedHealth, now: float) -> tuple[int, bytes, list[Any]]:
    """(status, body, headers) of the answer to a probe of `path` at monotonic time `now`."""
    beat, ready_at = shared.heartbeat.value, shared.ready_at.value
    lag = now - beat
    live = beat > 0 and lag <= LIVE_WITHIN_S
    if path == "/health/live":
        if live:
            return json_response(200, {"status": "live", "loop_lag_s": round(lag, 3)})
        problem = "the service is starting" if beat == 0 else f"the service's event loop has not run for {lag:.0f} s"
        return json_response(503, {"status": "not live", "error": problem})
    if path == "/health/ready":
        if live and ready_at > 0 and now - ready_at <= READY_WITHIN_S:
            return json_response(200, {"status": "ready"})
        return json_response(503, {"status": "unavailable", "error": "the data store does not answer"},
                      (b"retry-after", str(RETRY_AFTER_S).encode()))
    return json_response(404, {"error": "this port serves only /health/live and /health/ready"})


def run(host: str, port: int, shared: SharedHealth, service_pid: int) -> None:
    """The health process: serve the probes until told to stop or the service process is gone."""

    async def probes(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        status, body, headers = probe_answer(scope["path"], shared, time.monotonic())
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def orphaned(_: int) -> None:
        if os.getppid() != service_pid:
            server.should_exit = True

    server, sockets = build(probes, host, port, ServerLimits(HEALTH_CONNECTIONS), tick=orphaned,
                            log_level="warning", lifespan="off")
    shared.listening.set()
    server.run(sockets=sockets)
