"""What a client can hold before its request reaches the app (service/server.py): the head's size and time,
and the number of connections; and the health listener's process (service/health.py), which answers from the
service's heartbeat while the API port is full.

The protocol is tried under a real uvicorn in a thread, with small limits and a trivial app; one test runs
`vnmeter serve` itself to see the limits are those it serves with."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from service.health import LIVE_WITHIN_S, READY_EVERY_TICKS, HealthProcess
from service.server import ServerLimits, build
from tests.processes import VNMETER, environment, free_port

TIMEOUT_S = 20.0  # how long a test waits for what it expects; never a figure under test


async def tiny_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers 200 with the number of body bytes it read."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = str(size).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
    await send({"type": "http.response.body", "body": body})


@contextmanager
def running(head_timeout_s: float) -> Iterator[tuple[int, ServerLimits]]:
    """(port, limits) of a running server: 4 connections, 2 KiB heads."""
    limits = ServerLimits(max_connections=4, head_timeout_s=head_timeout_s, max_head_bytes=2048)
    server, sockets = build(tiny_app, "127.0.0.1", 0, limits, log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": sockets}, daemon=True)
    thread.start()
    deadline = time.monotonic() + TIMEOUT_S
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield sockets[0].getsockname()[1], limits
    finally:
        server.should_exit = True
        thread.join(timeout=TIMEOUT_S)


@pytest.fixture
def server() -> Iterator[tuple[int, ServerLimits]]:
    """A server whose head time limit never strikes during a test."""
    with running(head_timeout_s=3 * TIMEOUT_S) as ports:
        yield ports


@pytest.fixture
def quick_server() -> Iterator[tuple[int, ServerLimits]]:
    """A server that gives 2 s for a head."""
    with running(head_timeout_s=2.0) as ports:
        yield ports


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S)


def reply(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def request(port: int, path: str = "/health/live", body: bytes = b"", *headers: str) -> bytes:
    """GET `path` (POST when there is a body) on a new connection; the whole answer."""
    with connect(port) as sock:
        method = "POST" if body else "GET"
        head = [f"{method} {path} HTTP/1.1", "Host: test", f"Content-Length: {len(body)}", "Connection: close",
                *headers]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        return reply(sock)


def test_a_head_over_the_limit_is_refused_and_a_body_is_not_a_head(server: tuple[int, ServerLimits]) -> None:
    port, _ = server
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\nX-Long: " + b"a" * 3000)  # never ends its head
        refused = reply(sock)
    assert refused.startswith(b"HTTP/1.1 431 ")
    assert refused.endswith(b'{"error":"the request line and headers are over 2048 bytes"}')
    assert request(port, "/", b"", "X-Fits: " + "a" * 1800).startswith(b"HTTP/1.1 200 ")
    answered = request(port, "/", b"x" * 300_000)
    assert answered.startswith(b"HTTP/1.1 200 ") and answered.endswith(b"\r\n\r\n300000")


def test_a_head_must_arrive_in_time_and_an_idle_connection_is_closed(
        quick_server: tuple[int, ServerLimits]) -> None:
    port, _ = quick_server
    with connect(port) as slow, connect(port) as idle:
        slow.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n")
        late = reply(slow)
        assert reply(idle) == b""  # closed without an answer: it asked nothing
    assert late.startswith(b"HTTP/1.1 408 ")
    assert late.endswith(b'{"error":"the request line and headers did not arrive within 2 s"}')


def test_the_next_request_on_a_kept_connection_has_the_same_time_limit(
        quick_server: tuple[int, ServerLimits]) -> None:
    port, _ = quick_server
    with connect(port) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        first = b""
        while not first.endswith(b"\r\n\r\n0"):
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET / HTTP/1.1\r\nHost: te")
        assert reply(sock).startswith(b"HTTP/1.1 408 ")


def test_connections_over_the_cap_are_refused_at_once(server: tuple[int, ServerLimits]) -> None:
    port, limits = server
    held = [connect(port) for _ in range(4)]
    try:
        with connect(port) as over:
            refused = reply(over)
        assert refused.startswith(b"HTTP/1.1 503 ")
        assert b"\r\nretry-after: 1\r\n" in refused
        assert refused.endswith(b'{"error":"the server holds its maximum of 4 connections; retry shortly"}')
    finally:
        for sock in held:
            sock.close()
    deadline = time.monotonic() + TIMEOUT_S
    while limits.open and time.monotonic() < deadline:
        time.sleep(0.02)
    assert limits.open == 0
    assert request(port, "/").startswith(b"HTTP/1.1 200 ")


def body_of(answer: bytes) -> Any:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), orjson.loads(body)


def test_the_health_process_answers_from_the_heartbeat() -> None:
    port = free_port()
    health = HealthProcess("127.0.0.1", port)
    try:
        assert body_of(request(port, "/health/live")) == (
            503, {"status": "not live", "error": "the service is starting"})
        store_answers = [False]
        beat = health.heartbeat(lambda: store_answers[0])
        asyncio.run(beat(1))  # a tick that is not a store check
        status, live = body_of(request(port, "/health/live"))
        assert status == 200 and live["status"] == "live" and 0 <= live["loop_lag_s"] < TIMEOUT_S
        assert body_of(request(port, "/health/ready"))[0] == 503
        store_answers[0] = True
        asyncio.run(beat(READY_EVERY_TICKS))  # checks the store, in a thread, and waits for it here
        deadline = time.monotonic() + TIMEOUT_S
        while health.shared.ready_at.value == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert body_of(request(port, "/health/ready")) == (200, {"status": "ready"})
        health.shared.heartbeat.value = time.monotonic() - 2 * LIVE_WITHIN_S  # the loop stopped a minute ago
        status, stopped = body_of(request(port, "/health/live"))
        assert (status, stopped["status"]) == (503, "not live")
        lag = re.fullmatch(r"the service's event loop has not run for (\d+) s", stopped["error"])
        assert lag and int(lag[1]) >= 2 * LIVE_WITHIN_S
        assert body_of(request(port, "/health/ready"))[0] == 503
        assert body_of(request(port, "/v1/platforms")) == (
            404, {"error": "this port serves only /health/live and /health/ready"})
    finally:
        health.stop()
    assert not health.process.is_alive()


def test_vnmeter_serve_runs_with_the_limits(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {**environment(data_dir), "VNMETER_MAX_CONNECTIONS": "16"}
    port, health_port = free_port(), free_port()
    with (tmp_path / "serve.log").open("w") as log:
        process = subprocess.Popen([VNMETER, "serve", "--port", str(port), "--health-port", str(health_port)],
                                   env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    held: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if request(health_port, "/health/ready").startswith(b"HTTP/1.1 200 "):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        with connect(port) as sock:
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: test\r\nX-Long: " + b"a" * 20_000)
            assert reply(sock).startswith(b"HTTP/1.1 431 ")
        held = [connect(port) for _ in range(16)]
        with connect(port) as over:
            assert reply(over).startswith(b"HTTP/1.1 503 ")
        assert body_of(request(health_port, "/health/ready")) == (200, {"status": "ready"})
        assert body_of(request(health_port, "/health/live"))[1]["status"] == "live"
    finally:
        for sock in held:
            sock.close()
        process.terminate()
        process.wait(timeout=30)
