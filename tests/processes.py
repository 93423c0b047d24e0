"""`vnmeter` run as a person runs it, for the system tests: its command, an environment of its own, a free
port, and the service in the background (`serving`, or `ServiceProcess` to kill and restart it)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

VNMETER = str(Path(sys.executable).parent / "vnmeter")
SERVICE_ADMIN_KEY = "crash-test-admin-key-0123456789abcdef"


def environment(data_dir: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("VNMETER_")}
    env["VNMETER_DATA_DIR"] = str(data_dir)
    return env


def vnmeter(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([VNMETER, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def free_port() -> int:
    """A loopback port nothing listens on, and one no other test worker picks: under pytest-xdist worker N of
    W takes only ports whose half is N modulo W (a port freed here may be bound by a service a moment later).
    The half, because Linux gives bind() with port 0 ports of one parity only (the other is kept for connect())."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port // 2 % workers == worker:
            return port


@contextmanager
def serving(env: dict[str, str], cwd: Path, log: Path, umask: int = -1) -> Iterator[str]:
    """`vnmeter serve` in the background until it answers /health/live; killed on exit whatever happens.
    `umask` is the one it starts with (-1: this process's)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as output:
        process = subprocess.Popen([VNMETER, "serve", "--port", str(port)], env=env, cwd=cwd, stdout=output,
                                   stderr=subprocess.STDOUT, umask=umask)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"vnmeter serve exited with {process.returncode}: {log.read_text()}"
            try:
                if httpx.get(f"{url}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"vnmeter serve did not start: {log.read_text()}"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


class ServiceProcess:
    """`vnmeter serve` as a child process on a fixed data directory and port."""

    def __init__(self, data_dir: Path, port: int, log_dir: Path, admin_key: str = SERVICE_ADMIN_KEY,
                 ready_timeout_s: float = 60.0):
        self.data_dir = data_dir
        self.admin_key = admin_key
        self.ready_timeout_s = ready_timeout_s
        self.port = port
        self.log_dir = log_dir
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0
        self.start_seconds: list[float] = []

    def command(self) -> list[str]:
        script = Path(sys.executable).with_name("vnmeter")
        base = [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]
        return [*base, "serve", "--host", "127.0.0.1", "--port", str(self.port)]

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VNMETER_")}
        # the chDB backend of clickhouse-connect hands each insert block over in a temporary file, which a
        # SIGKILL leaves behind: keep those inside the data directory, where the privacy check reads them too
        tmp = self.data_dir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        env.update(VNMETER_DATA_DIR=str(self.data_dir), VNMETER_ADMIN_KEY=self.admin_key, TMPDIR=str(tmp),
                   VNMETER_RATE_LIMIT_RPS="10000", VNMETER_RATE_LIMIT_BURST="100000")
        self.starts += 1
        began = time.monotonic()
        with (self.log_dir / "stdout.log").open("ab") as out, (self.log_dir / "stderr.log").open("ab") as err:
            self.process = subprocess.Popen(self.command(), env=env, cwd=self.log_dir, stdout=out, stderr=err)
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"vnmeter serve exited with {self.process.returncode}: {self.output()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=2).status_code == 200:
                    self.start_seconds.append(round(time.monotonic() - began, 1))
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"vnmeter serve was not ready within {self.ready_timeout_s} s: {self.output()[-2000:]}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def output(self) -> str:
        return "".join((self.log_dir / name).read_text(errors="replace")
                       for name in ("stdout.log", "stderr.log") if (self.log_dir / name).exists())
