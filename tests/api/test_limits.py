"""Limits: per-key rate limits (429 + Retry-After), request size limits (413), how many ingestion requests hold
memory at once (503 + Retry-After past the wait), and an unreachable ClickHouse server (503 + Retry-After,
/health/ready says so, /health/live stays up).

The request time limit (a slow client) is in tests/api/test_hostile.py.
"""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient

from ingest.limits import MAX_BODY_BYTES, MAX_EVENTS_PER_REQUEST
from queries.store import Store, resolve_target
from service.admission import IngestAdmission
from service.app import create_app
from service.context import Services
from service.settings import Settings
from tests.factories import ADMIN, ADMIN_KEY, bearer, event, fresh_store, ndjson, platform_body
from tests.processes import free_port


def unreachable_store(data_dir: Path) -> Store:
    """A Store on a ClickHouse server URL where nothing listens (its start-up probe skipped)."""
    target = resolve_target(f"http://default:x@127.0.0.1:{free_port()}/vnmeter", data_dir)
    with mock.patch.object(Store, "_bootstrap", lambda self: None):
        return Store(target)


@pytest.fixture
def client(chdb_dir: Path, tmp_path: Path) -> Iterator[TestClient]:
    with fresh_store(chdb_dir) as store:
        app = create_app(Settings(data_dir=tmp_path, admin_key=ADMIN_KEY, rate_limit_rps=1, rate_limit_burst=3,
                                  cache_ttl_s=0), store=store)
        with TestClient(app) as test_client:
            yield test_client


def test_rate_limit_per_key(client: TestClient) -> None:
    # burst 3, then 1 request per second: the 4th request in a row is refused, another key is not
    first = bearer(client.post("/v1/keys", json={"role": "analyst"}, headers=ADMIN).json()["key"])
    second = bearer(client.post("/v1/keys", json={"role": "analyst"}, headers=ADMIN).json()["key"])
    assert [client.get("/v1/categories", headers=first).status_code for _ in range(3)] == [200, 200, 200]
    refused = client.get("/v1/categories", headers=first)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert "rate limit" in refused.json()["error"]
    assert client.get("/v1/categories", headers=second).status_code == 200
    time.sleep(1.1)  # one token back
    assert client.get("/v1/categories", headers=first).status_code == 200
    assert client.get("/v1/categories", headers=first).status_code == 429


def test_request_size_limits(chdb_dir: Path, tmp_path: Path) -> None:
    with fresh_store(chdb_dir) as store:
        app = create_app(Settings(data_dir=tmp_path, admin_key=ADMIN_KEY, rate_limit_rps=1000,
                                  rate_limit_burst=1000), store=store)
        with TestClient(app) as client:
            vendor = bearer(client.post("/v1/keys", json={"role": "vendor", "vendor": "lv"}, headers=ADMIN).json()[
                "key"])
            assert client.put("/v1/platforms/lp", json=platform_body("lv"), headers=ADMIN).status_code == 200
            headers = {**vendor, "Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
            rows = [event(platform="lp", user=f"u{i}") for i in range(MAX_EVENTS_PER_REQUEST + 1)]
            too_many = client.post("/v1/events", content=gzip.compress(ndjson(rows)), headers=headers)
            assert too_many.status_code == 413
            assert str(MAX_EVENTS_PER_REQUEST) in too_many.json()["error"]
            just_enough = client.post("/v1/events", content=gzip.compress(ndjson(rows[:-1])), headers=headers)
            assert just_enough.status_code == 200
            assert just_enough.json()["accepted"] == MAX_EVENTS_PER_REQUEST
            oversize = b"[" + b" " * MAX_BODY_BYTES + b"]"
            too_big = client.post("/v1/events", content=oversize,
                                  headers={**vendor, "Content-Type": "application/json"})
            assert too_big.status_code == 413
            assert str(MAX_BODY_BYTES) in too_big.json()["error"]


def test_ingestion_memory_budget_gives_the_turns() -> None:
    # the default, 2,048 MiB: half of it holds 1,024 // 133 = 7 decoding turns, at most 3 are given (399 MiB);
    # the other 1,649 MiB hold 206 requests waiting for the writer at 8 MiB each
    default = IngestAdmission.for_memory(Settings().ingest_memory_mb * 1024 * 1024)
    assert (default.decoders, default.inside) == (3, 3 + 206)
    assert default.bound_bytes == (3 * 133 + 206 * 8) * 1024 * 1024
    # 1,024 MiB: 512 // 133 = 3 decoding; (1,024 - 399) // 8 = 78 waiting
    assert (IngestAdmission.for_memory(1024 * 1024 * 1024).decoders,
            IngestAdmission.for_memory(1024 * 1024 * 1024).inside) == (3, 81)
    small = IngestAdmission.for_memory(64 * 1024 * 1024)  # never less than one decoding turn and one waiting
    assert (small.decoders, small.inside) == (1, 2)
    assert Settings(ingest_memory_mb=64).ingest_memory_mb == 64
    with pytest.raises(ValueError, match="ingest_memory_mb"):
        Settings(ingest_memory_mb=63)


def test_one_decoding_turn_and_503_past_the_wait(chdb_dir: Path, tmp_path: Path) -> None:
    """One decoding turn, two requests inside: while the first is decoding, the second waits for the turn and
    the third to get in; both are answered 503 + Retry-After when the wait is over, and the first 200."""
    with fresh_store(chdb_dir) as store:
        app = create_app(Settings(data_dir=tmp_path, admin_key=ADMIN_KEY, rate_limit_rps=1000, rate_limit_burst=1000,
                                  ingest_memory_mb=64), store=store)
        with TestClient(app) as client:
            services: Services = client.app.state.services  # type: ignore[attr-defined]
            assert (services.admission.decoders, services.admission.inside) == (1, 2)
            services.admission = IngestAdmission(1, 2, wait_s=0.5)  # the same turns, a short wait
            vendor = bearer(client.post("/v1/keys", json={"role": "vendor", "vendor": "lv"}, headers=ADMIN).json()[
                "key"])
            assert client.put("/v1/platforms/lp", json=platform_body("lv"), headers=ADMIN).status_code == 200
            submit = services.ingestor.submit
            release, decoding, most = threading.Event(), [], [0]

            def held_submit(*args: Any) -> Any:
                decoding.append(args)
                most[0] = max(most[0], len(decoding))
                release.wait(60)
                decoding.pop()
                return submit(*args)

            services.ingestor.submit = held_submit  # type: ignore[method-assign]
            headers = {**vendor, "Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}

            def post(user: str) -> httpx.Response:
                return client.post("/v1/events", content=gzip.compress(ndjson([event(platform="lp", user=user)])),
                                   headers=headers)

            with ThreadPoolExecutor(3) as pool:
                first = pool.submit(post, "first")
                while not decoding:
                    time.sleep(0.01)
                later = [pool.submit(post, user) for user in ("second", "third")]
                refused = [future.result(timeout=60) for future in later]
                release.set()
                assert first.result(timeout=60).status_code == 200
            assert [r.status_code for r in refused] == [503, 503]
            for answer in refused:
                assert answer.headers["Retry-After"] == "5"
                assert "retry this request later" in answer.json()["error"]
            assert most[0] == 1
            assert first.result().json()["accepted"] == 1


def swap_store(services: Services, store: Store) -> Store:
    """Point every component of the running service at `store`; returns the one it used before."""
    before = services.store
    for component in vars(services).values():
        if getattr(component, "store", None) is before:
            component.store = store
    services.store = store
    return before


def test_unreachable_clickhouse_gives_503_and_not_ready(chdb_dir: Path, tmp_path: Path) -> None:
    with fresh_store(chdb_dir) as store:
        app = create_app(Settings(data_dir=tmp_path, admin_key=ADMIN_KEY, cache_ttl_s=0), store=store)
        with TestClient(app) as client:
            vendor = bearer(client.post("/v1/keys", json={"role": "vendor", "vendor": "lv"}, headers=ADMIN).json()[
                "key"])
            assert client.put("/v1/platforms/lp", json=platform_body("lv"), headers=ADMIN).status_code == 200
            assert client.get("/health/ready").status_code == 200
            broken = unreachable_store(tmp_path)
            good = swap_store(app.state.services, broken)
            try:
                assert client.get("/health/live").status_code == 200
                ready = client.get("/health/ready")
                assert ready.status_code == 503
                assert int(ready.headers["Retry-After"]) >= 1
                assert ready.json()["status"] == "unavailable" and ready.json()["error"]
                calls: list[tuple[str, str, dict[str, Any]]] = [
                    ("POST", "/v1/events", {"headers": vendor, "json": [event(platform="lp")]}),
                    ("GET", "/v1/platforms", {"headers": ADMIN}),
                    ("GET", "/v1/platforms/lp/metrics", {"headers": ADMIN, "params": {"period": "2022-Q1"}}),
                    ("GET", "/v1/rankings", {"headers": ADMIN, "params": {"period": "2022-Q1", "metric": "mau_avg"}}),
                    ("POST", "/v1/keys", {"headers": ADMIN, "json": {"role": "analyst"}}),
                ]
                for method, url, kwargs in calls:
                    response = client.request(method, url, **kwargs)
                    assert response.status_code == 503, (method, url, response.text)
                    assert int(response.headers["Retry-After"]) >= 1
                    assert "unavailable" in response.json()["error"]
            finally:
                swap_store(app.state.services, good)
                broken.close()
            # the store is back: so is the service, without a restart
            assert client.get("/health/ready").status_code == 200
            posted = client.post("/v1/events", json=[event(platform="lp")], headers=vendor)
            assert posted.status_code == 200 and posted.json()["accepted"] == 1


def test_service_started_while_clickhouse_is_down_stays_live(tmp_path: Path) -> None:
    """`vnmeter serve` against a ClickHouse server that does not answer yet: live, not ready, 503s."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VNMETER_")}
    env.update(VNMETER_DATA_DIR=str(tmp_path / "data"), VNMETER_ADMIN_KEY=ADMIN_KEY,
               VNMETER_CLICKHOUSE_URL=f"http://default:x@127.0.0.1:{free_port()}/vnmeter")
    script = Path(sys.executable).with_name("vnmeter")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]
    process = subprocess.Popen([*command, "serve", "--port", str(port)], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline, live = time.monotonic() + 30, None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                live = httpx.get(f"{url}/health/live", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        output = b"" if process.poll() is None else (process.stdout.read() if process.stdout else b"")
        assert live is not None and live.status_code == 200, (
            f"/health/live must answer while ClickHouse is down; the service exited with {process.poll()}: "
            f"{output.decode(errors='replace')[-500:]}")
        ready = httpx.get(f"{url}/health/ready", timeout=5)
        assert ready.status_code == 503 and int(ready.headers["Retry-After"]) >= 1
        listed = httpx.get(f"{url}/v1/platforms", headers=ADMIN, timeout=5)
        assert listed.status_code == 503 and int(listed.headers["Retry-After"]) >= 1
        events = httpx.post(f"{url}/v1/events", content=orjson.dumps([event()]), timeout=5,
                            headers={"Authorization": "Bearer some-vendor-key", "Content-Type": "application/json"})
        assert events.status_code == 503 and int(events.headers["Retry-After"]) >= 1
        assert "Traceback" not in events.text
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout:
            process.stdout.close()
