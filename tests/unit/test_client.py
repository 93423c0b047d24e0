"""The client library against a scripted fake service (httpx.MockTransport): the retry rule row by row, batches
sent byte for byte the same on every attempt and after a restart, batching by count, size and time, rejected
rows reported and never sent again, the queue file kept by one client at a time. The real service, killed and
restarted, is in tests/system/test_client_service.py."""

from __future__ import annotations

import ast
import gzip
import json
import math
import random
import sys
import threading
import time
import tomllib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import vnmeter_client.client as client_module
from vnmeter_client import Client, QueueInUse, Rejection, RetryPolicy, SendError, new_event
from vnmeter_client.retry import Verdict, retry_after_s, verdict, verdict_of_error

FAST = RetryPolicy(initial_s=0.001, max_s=0.004)
Answer = int | tuple[int, dict[str, str]] | type[Exception] | str


@dataclass
class FakeService:
    """Answers each POST with the next scripted answer, then always with `then`; "ok" is a 200 that stores every
    row, except rows whose user is "bad" (rejected invalid_field). Records every body it received and when."""

    script: list[Answer] = field(default_factory=list)
    then: Answer = "ok"
    bodies: list[bytes] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    stored: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            assert request.url.path == "/v1/events"
            assert request.headers["content-encoding"] == "gzip"
            assert request.headers["content-type"] == "application/x-ndjson"
            assert request.headers["authorization"] == "Bearer vendor-key"
            self.bodies.append(request.content)
            self.times.append(time.monotonic())
            answer = self.script.pop(0) if self.script else self.then
            if isinstance(answer, type):
                raise answer("scripted failure", request=request)  # type: ignore[call-arg]
            if isinstance(answer, int):
                return httpx.Response(answer, json={"error": f"scripted {answer}"})
            if isinstance(answer, tuple):
                return httpx.Response(answer[0], json={"error": "scripted"}, headers=answer[1])
            if answer == "garbage":
                return httpx.Response(200, text="<html>a proxy's page</html>")
            if answer == "short":
                return httpx.Response(200, json={"accepted": 0, "duplicates": 0, "rejected": []})
            return httpx.Response(200, json=self._store(rows(request.content)))

    def _store(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        accepted = duplicates = 0
        rejected = []
        for index, event in enumerate(events):
            if event["user"] == "bad":
                rejected.append({"index": index, "event_id": event["event_id"], "reason": "invalid_field",
                                 "detail": "user: scripted"})
            elif event["event_id"] in self.stored:
                duplicates += 1
            else:
                self.stored.add(event["event_id"])
                accepted += 1
        return {"accepted": accepted, "duplicates": duplicates, "rejected": rejected}

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


def rows(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(body).splitlines()]


def ids(body: bytes) -> list[str]:
    return [row["event_id"] for row in rows(body)]


@pytest.fixture
def queue(tmp_path: Path) -> Path:
    return tmp_path / "queue.sqlite3"


@pytest.fixture
def make(queue: Path) -> Iterator[Callable[..., Client]]:
    opened: list[Client] = []

    def open_client(service: FakeService, **options: Any) -> Client:
        options = {"retry": FAST, "flush_interval": 60.0, "queue": queue, **options}
        client = Client("http://vnmeter.test", "vendor-key", transport=service.transport(), **options)
        opened.append(client)
        return client

    yield open_client
    for client in opened:
        client.close(timeout=0)


def some_events(count: int, user: str = "u") -> list[dict[str, Any]]:
    return [new_event("zalo", f"{user}{n}", datetime(2022, 3, 1, 10, n % 60, tzinfo=UTC), duration_s=60)
            for n in range(count)]


# -- the retry rule ----------------------------------------------------------------------------------------------
RETRIED: list[Answer] = [(503, {"Retry-After": "0"}), 429, 500, 502, 504, 408, httpx.ConnectError,
                         httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ProxyError, "garbage", "short"]


def test_retryable_failures_resend_the_same_bytes_until_answered(make: Callable[..., Client]) -> None:
    service = FakeService(script=list(RETRIED))
    client = make(service)
    sent = client.send_many(some_events(5))
    client.flush(timeout=10)
    assert len(service.bodies) == len(RETRIED) + 1
    assert set(service.bodies) == {service.bodies[0]}, "every attempt sends the same bytes"
    assert ids(service.bodies[0]) == sent
    assert client.stats.retries == len(RETRIED)
    assert dict(client.stats.failures) == {
        "HTTP 503": 1, "HTTP 429": 1, "HTTP 500": 1, "HTTP 502": 1, "HTTP 504": 1, "HTTP 408": 1, "ConnectError": 1,
        "ReadTimeout": 1, "RemoteProtocolError": 1, "ProxyError": 1, "HTTP 200 with an unreadable answer": 2}
    assert (client.stats.batches, client.stats.accepted) == (1, 5)
    assert client.pending() == 0
    assert client.totals() == {"accepted": 5, "duplicates": 0, "rejected": 0}


@pytest.mark.parametrize("status", [400, 401, 403, 413, 415, 404, 301])
def test_refusals_stop_sending_and_keep_the_batch(make: Callable[..., Client], status: int) -> None:
    service = FakeService(script=[status])
    client = make(service)
    sent = client.send_many(some_events(3))
    with pytest.raises(SendError, match=f"refused a batch with {status}") as raised:
        client.flush(timeout=10)
    assert raised.value.status == status
    assert client.error is raised.value
    assert len(service.bodies) == 1, "never retried"
    client.send(some_events(1, "later")[0])  # queueing goes on: nothing is lost
    assert client.close(timeout=1) == 4

    # a new client on the queue file (the cause fixed) sends the refused batch unchanged, then the rest
    resumed = make(service)
    resumed.flush(timeout=10)
    assert service.bodies[1] == service.bodies[0]
    assert ids(service.bodies[1]) == sent and len(ids(service.bodies[2])) == 1
    assert resumed.totals()["accepted"] == 4


def test_retry_after_is_honoured(make: Callable[..., Client]) -> None:
    service = FakeService(script=[(503, {"Retry-After": "1"})])
    client = make(service, retry=RetryPolicy(initial_s=0.001, max_s=0.001))
    client.send_many(some_events(1))
    client.flush(timeout=10)
    assert service.times[1] - service.times[0] >= 1.0


def test_verdicts() -> None:
    assert verdict(200) is Verdict.DELIVERED
    for status in (408, 429, 500, 501, 502, 503, 504, 599):
        assert verdict(status) is Verdict.RETRY, status
    for status in (201, 204, 301, 302, 400, 401, 403, 404, 405, 413, 415, 422):
        assert verdict(status) is Verdict.STOP, status
    request = httpx.Request("POST", "http://x/v1/events")
    for error in (httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout,
                  httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError, httpx.ProxyError):
        assert verdict_of_error(error("x", request=request)) is Verdict.RETRY, error
    for error in (httpx.UnsupportedProtocol, httpx.LocalProtocolError):
        assert verdict_of_error(error("x", request=request)) is Verdict.STOP, error


def test_retry_after_header() -> None:
    now = datetime(2022, 4, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_s("5") == 5.0
    assert retry_after_s(" 0 ") == 0.0
    assert retry_after_s(format_datetime(now + timedelta(seconds=90), usegmt=True), now) == 90.0
    assert retry_after_s(format_datetime(now - timedelta(seconds=90), usegmt=True), now) == 0.0
    for unreadable in (None, "", "-1", "1.5", "soon", "Fri, 99 Foo 2022 00:00:00 GMT"):
        assert retry_after_s(unreadable, now) is None, unreadable


class Extremes(random.Random):
    """uniform(a, b) answers b: the longest wait the policy allows."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = RetryPolicy(initial_s=0.5, max_s=30.0, max_retry_after_s=300.0)
    # 0.5 * 2**n: 0.5, 1, 2, 4, 8, 16, then the cap 30
    assert [policy.delay(n, rng=Extremes()) for n in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert policy.delay(10_000, rng=Extremes()) == 30.0
    assert policy.delay(0, retry_after=5.0, rng=Extremes()) == 5.0  # at least what the server asked for
    assert policy.delay(6, retry_after=5.0, rng=Extremes()) == 30.0
    assert policy.delay(0, retry_after=10_000.0, rng=Extremes()) == 300.0  # an absurd Retry-After is capped
    rng = random.Random(17)
    waits = [policy.delay(3, rng=rng) for _ in range(2000)]
    assert 0 <= min(waits) < 0.1 and 3.9 < max(waits) <= 4.0  # full jitter: anywhere from 0 to the ceiling
    assert math.isclose(sum(waits) / len(waits), 2.0, rel_tol=0.05)
    with pytest.raises(ValueError, match="initial_s"):
        RetryPolicy(initial_s=0)


# -- rejected rows -----------------------------------------------------------------------------------------------
def test_rejected_rows_are_reported_and_never_sent_again(make: Callable[..., Client]) -> None:
    reported: list[Rejection] = []
    service = FakeService()
    client = make(service, on_rejected=reported.extend)
    events = some_events(4)
    events[2]["user"] = "bad"
    client.send_many(events)
    client.flush(timeout=10)
    assert reported == [Rejection(events[2], "invalid_field", "user: scripted")]
    assert len(service.bodies) == 1
    assert client.totals() == {"accepted": 3, "duplicates": 0, "rejected": 1, "rejected:invalid_field": 1}


def test_a_failing_callback_does_not_stop_sending(make: Callable[..., Client]) -> None:
    def explode(_: Any) -> None:
        raise RuntimeError("the vendor's callback broke")

    service = FakeService()
    client = make(service, on_rejected=explode, on_batch=explode, batch_size=2)
    events = some_events(4)
    events[0]["user"] = "bad"
    client.send_many(events)
    client.flush(timeout=10)
    assert (client.stats.batches, client.stats.accepted, client.stats.rejected) == (2, 3, 1)



def test_flush_returns_after_the_last_batch_is_counted_and_reported(make: Callable[..., Client]) -> None:
    """flush() polls about once a second; a slow `on_batch` (1.5 s) spans a poll, which before found the batch
    answered and returned while the callback was still running."""
    finished: list[int] = []

    def slow(result: Any) -> None:
        time.sleep(1.5)
        finished.append(result.accepted)

    client = make(FakeService(), on_batch=slow, batch_size=2)
    client.send_many(some_events(2))
    client.flush(timeout=10)
    assert finished == [2]
    assert (client.stats.batches, client.stats.accepted) == (1, 2)


# -- batching ----------------------------------------------------------------------------------------------------
def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_batches_by_count_then_flush(make: Callable[..., Client]) -> None:
    service = FakeService()
    client = make(service, batch_size=3)
    sent = [client.send(event) for event in some_events(7)]
    wait_for(lambda: len(service.bodies) == 2)
    time.sleep(0.2)
    assert len(service.bodies) == 2, "the 7th event waits for its batch to fill or its time to come"
    client.flush(timeout=10)
    assert [ids(body) for body in service.bodies] == [sent[:3], sent[3:6], sent[6:]]


def test_batches_by_time(make: Callable[..., Client]) -> None:
    service = FakeService()
    client = make(service, flush_interval=0.2)
    started = time.monotonic()
    client.send(some_events(1)[0])
    wait_for(lambda: len(service.bodies) == 1)
    assert time.monotonic() - started >= 0.2


def test_batches_by_size(make: Callable[..., Client], monkeypatch: pytest.MonkeyPatch) -> None:
    events = some_events(10)
    line = len(json.dumps(events[0], separators=(",", ":"))) + 1  # every event has the same length
    monkeypatch.setattr(client_module, "MAX_BATCH_BYTES", 4 * line)
    service = FakeService()
    client = make(service)
    client.send_many(events)
    client.flush(timeout=10)
    assert [len(ids(body)) for body in service.bodies] == [4, 4, 2]


# -- the queue file ----------------------------------------------------------------------------------------------
def test_queued_events_survive_a_restart_and_go_out_unchanged(make: Callable[..., Client]) -> None:
    down = FakeService(then=503)  # down for good
    client = make(down, batch_size=2)
    sent = client.send_many(some_events(5))
    wait_for(lambda: len(down.bodies) >= 3)  # the first batch (2 events) is made and retried
    assert client.close(timeout=0.2) == 5

    up = FakeService()
    with up.lock:  # the service answers nothing until the restarted queue is counted
        resumed = make(up, batch_size=2)
        assert resumed.pending() == 5
    resumed.flush(timeout=10)
    assert up.bodies[0] == down.bodies[0]
    assert [i for body in up.bodies for i in ids(body)] == sent
    assert up.stored == set(sent)


def test_one_client_per_queue_file(make: Callable[..., Client]) -> None:
    make(FakeService())
    with pytest.raises(QueueInUse, match="in use by another client"):
        make(FakeService())


def test_a_checkpoint_is_committed_with_its_events(make: Callable[..., Client]) -> None:
    down = FakeService(then=503)  # down for good
    client = make(down)
    client.send_many(some_events(3), checkpoint=("source-offset", "3"))
    assert client.checkpoint("source-offset") == "3"
    assert client.checkpoint("other") is None
    client.close(timeout=0)
    resumed = make(FakeService())
    assert (resumed.checkpoint("source-offset"), resumed.pending()) == ("3", 3)


# -- events ------------------------------------------------------------------------------------------------------
def test_events_get_their_id_when_created() -> None:
    made = new_event("zalo", "device-42", datetime(2022, 3, 31, 17, 30, tzinfo=UTC), duration_s=600,
                     bytes=2_500_000, os="android", province="VN-HN")
    assert uuid.UUID(made.pop("event_id")).version == 4
    assert made == {"platform": "zalo", "user": "device-42", "type": "session", "ts": "2022-03-31T17:30:00.000+00:00",
                    "duration_s": 600, "bytes": 2_500_000, "province": "VN-HN", "os": "android"}
    vietnam = timezone(timedelta(hours=7))
    assert new_event("zalo", "u", datetime(2022, 4, 1, 0, 30, 0, 123456, tzinfo=vietnam))["ts"] == (
        "2022-04-01T00:30:00.123+07:00")
    assert new_event("zalo", "u", "2022-03-31T17:30:00Z", event_id="my-id", type="install")["event_id"] == "my-id"
    with pytest.raises(ValueError, match="ts: a datetime needs a time zone"):
        new_event("zalo", "u", datetime(2022, 3, 31, 17, 30))


def test_send_keeps_or_adds_the_event_id(make: Callable[..., Client]) -> None:
    service = FakeService()
    client = make(service)
    given = str(uuid.uuid4())
    assert client.send({"event_id": given, "platform": "zalo", "user": "u", "ts": "2022-03-01T00:00:00Z"}) == given
    added = client.send({"platform": "zalo", "user": "u", "ts": datetime(2022, 3, 1, tzinfo=UTC), "event_id": None})
    assert uuid.UUID(added).version == 4
    with pytest.raises(ValueError):
        client.send({"platform": "zalo", "user": "u", "ts": "2022-03-01T00:00:00Z", "bytes": math.nan})
    with pytest.raises(TypeError, match="mapping"):
        client.send(["not", "an", "event"])  # type: ignore[arg-type]
    client.flush(timeout=10)
    assert rows(service.bodies[0])[1]["ts"] == "2022-03-01T00:00:00.000+00:00"
    assert ids(service.bodies[0]) == [given, added]


def test_bad_options_are_named(queue: Path) -> None:
    for url in ("vnmeter.example", "ftp://vnmeter.example", "http://"):
        with pytest.raises(ValueError, match="url"):
            Client(url, "key", queue=queue)
    with pytest.raises(ValueError, match="key"):
        Client("http://x", " ", queue=queue)
    with pytest.raises(ValueError, match="batch_size"):
        Client("http://x", "key", queue=queue, batch_size=10_001)


# -- packaging ---------------------------------------------------------------------------------------------------
CLIENT = Path(__file__).resolve().parents[2] / "client"


def test_the_client_needs_only_httpx_and_the_standard_library() -> None:
    assert tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]["dependencies"] == ["httpx>=0.27"]
    imported = set()
    for source in (CLIENT / "vnmeter_client").glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) == {"httpx", "vnmeter_client"}


def test_vnmeter_send_without_the_client_library_says_how_to_install_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from service.cli import main

    monkeypatch.setitem(sys.modules, "vnmeter_client", None)  # as after `pip install .` alone
    events = tmp_path / "events.ndjson"
    events.write_text("{}\n")
    assert main(["send", str(events), "--url", "http://vnmeter.test", "--key", "k"]) == 1
    assert "needs the client library: pip install ./client" in capsys.readouterr().err


def test_a_file_that_is_not_a_queue_is_named(tmp_path: Path) -> None:
    from vnmeter_client import QueueError

    other = tmp_path / "notes.txt"
    other.write_text("not a database, just text that is long enough to have a header " * 20)
    with pytest.raises(QueueError, match="cannot use .*notes.txt as a queue file"):
        Client("http://x", "key", queue=other)
    created = tmp_path / "new" / "folder" / "queue.sqlite3"
    Client("http://x", "key", queue=created).close(timeout=0)
    assert created.exists()
