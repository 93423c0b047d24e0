"""`Client`: queue events durably, send them in gzip NDJSON batches from one background thread, retry by the rule of
`vnmeter_client.retry`, and report what the service answered."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from os import PathLike
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from vnmeter_client.events import encode, new_event, with_event_id
from vnmeter_client.queue import Batch, DurableQueue
from vnmeter_client.retry import RetryPolicy, Verdict, retry_after_s, verdict, verdict_of_error

log = logging.getLogger("vnmeter_client")

__version__ = "0.1.0"
EVENTS_PATH = "/v1/events"
MAX_BATCH_EVENTS = 10_000
"""The service's MAX_EVENTS_PER_REQUEST."""
MAX_BATCH_BYTES = 4 * 1024 * 1024
"""NDJSON bytes of one batch before compression: under the service's 5 MiB body limit even if nothing compresses."""
HEADERS = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip",
           "User-Agent": f"vnmeter-client/{__version__}"}


class SendError(Exception):
    """Sending stopped: the service refused a batch in a way that sending it again cannot fix (400, 401, 403, 413,
    415 ...), or the sender failed. The batch and every later event stay in the queue file; a new `Client` on it
    sends them once the cause is fixed (a valid key, for instance)."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Rejection:
    """One row of a batch that the service rejected (docs/INGESTION.md, "Rejection reasons"). It is reported,
    never sent again: fix the event and send it anew."""

    event: dict[str, Any]
    reason: str
    detail: str


@dataclass(frozen=True)
class BatchResult:
    """The service's answer to one batch."""

    events: int
    accepted: int
    duplicates: int
    rejected: tuple[Rejection, ...]


@dataclass
class Stats:
    """What this client saw since it was created (`Client.totals` adds up every answer of the queue file)."""

    batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    retries: int = 0
    failures: Counter[str] = field(default_factory=Counter)  # why attempts failed: "HTTP 503", "ConnectError"...


class Client:
    """Sends a vendor's events to vnmeter at `url` with the vendor key `key`.

    `track`/`send` commit each event to the queue file before returning. One background thread sends batches of
    up to `batch_size` events, or fewer once the oldest has waited `flush_interval` seconds, and retries a failed
    batch unchanged (same bytes, same event ids) with backoff until the service answers it: nothing is lost and,
    since the service keeps each (platform, event_id) once, nothing is counted twice.

    `on_rejected(rejections)` receives the rows of a batch that the service rejected; after a crash it may receive
    a batch's rejections again. `on_batch(result)` is called after each answered batch. Both run on the sender
    thread; an exception they raise is logged and ignored.
    """

    def __init__(self, url: str, key: str, *, queue: str | PathLike[str] = "vnmeter-queue.sqlite3",
                 batch_size: int = 1000, flush_interval: float = 1.0,
                 on_rejected: Callable[[list[Rejection]], None] | None = None,
                 on_batch: Callable[[BatchResult], None] | None = None,
                 retry: RetryPolicy | None = None, timeout: float = 30.0, power_safe: bool = False,
                 transport: httpx.BaseTransport | None = None):
        if urlsplit(url).scheme not in {"http", "https"} or not urlsplit(url).hostname:
            raise ValueError(f"url: must be the service's http(s) address, such as https://vnmeter.example, "
                             f"got {url!r}")
        if not key or not key.strip():
            raise ValueError("key: a vendor key is required")
        if not 1 <= batch_size <= MAX_BATCH_EVENTS:
            raise ValueError(f"batch_size: must be 1 to {MAX_BATCH_EVENTS}, got {batch_size}")
        if flush_interval < 0:
            raise ValueError(f"flush_interval: must be >= 0 seconds, got {flush_interval}")
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.retry = retry or RetryPolicy()
        self.stats = Stats()
        self._on_rejected = on_rejected
        self._on_batch = on_batch
        self._queue = DurableQueue(queue, power_safe=power_safe)
        self._http = httpx.Client(base_url=url.rstrip("/"), headers={**HEADERS, "Authorization": f"Bearer {key}"},
                                  timeout=timeout, transport=transport)
        self._wake = threading.Condition()
        self._reporting = False
        self._flushing = 0
        self._closed = False
        self._stop = threading.Event()
        self._error: SendError | None = None
        self._thread = threading.Thread(target=self._run, name="vnmeter-client-sender", daemon=True)
        self._thread.start()

    # -- queueing ------------------------------------------------------------------------------------------------
    def track(self, platform: str, user: str, ts: datetime | str, *, type: str = "session",
              duration_s: int | None = None, bytes: int | None = None, country: str | None = None,
              province: str | None = None, os: str | None = None, event_id: str | None = None) -> str:
        """Queue one event (fields as in docs/INGESTION.md); returns its event_id (a new UUIDv4 unless given)."""
        return self.send(new_event(platform, user, ts, type=type, duration_s=duration_s, bytes=bytes,
                                   country=country, province=province, os=os, event_id=event_id))

    def send(self, event: Mapping[str, Any]) -> str:
        """Queue one event given as a mapping of the API's field names; returns its event_id."""
        return self.send_many([event])[0]

    def send_many(self, events: Iterable[Mapping[str, Any]], checkpoint: tuple[str, str] | None = None
                  ) -> list[str]:
        """Queue events in one commit, with an optional (name, value) checkpoint committed with them (read it back
        with `checkpoint(name)`: where to resume reading a source after a crash); returns their event_ids."""
        if self._closed:
            raise RuntimeError("the client is closed")
        prepared = [with_event_id(event) for event in events]
        before = self._queue.waiting()
        self._queue.put([encode(event) for event in prepared], checkpoint)
        if before == 0 or self._queue.waiting() >= self.batch_size:  # a batch's timer starts, or a batch is full
            with self._wake:
                self._wake.notify_all()
        return [str(event["event_id"]) for event in prepared]

    def checkpoint(self, name: str) -> str | None:
        return self._queue.checkpoint(name)

    # -- waiting -------------------------------------------------------------------------------------------------
    def flush(self, timeout: float | None = None) -> None:
        """Send every event queued so far now, and wait until the service has answered them all. Raises SendError
        when sending stopped, TimeoutError after `timeout` seconds (the events stay queued either way)."""
        if self._closed:
            raise RuntimeError("the client is closed")
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._wake:
            target = self._queue.last_queued()
            self._flushing += 1
            self._wake.notify_all()
            try:
                while True:
                    if self._error is not None:
                        raise self._error
                    oldest = self._queue.oldest_unanswered()
                    if (oldest is None or oldest > target) and not self._reporting:
                        return
                    if not self._thread.is_alive():
                        raise SendError("the client is closed; its queued events are sent by the next client")
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        raise TimeoutError(f"{self._queue.unanswered()} events are not answered yet after "
                                           f"{timeout} s; they stay in {self._queue.path}")
                    self._wake.wait(1.0 if left is None else min(left, 1.0))
            finally:
                self._flushing -= 1

    def close(self, timeout: float | None = 10.0) -> int:
        """Flush for up to `timeout` seconds (None: until done), stop the sender and close the queue file. Returns
        how many events are left in it, to be sent by the next client on the same file."""
        if self._closed:
            return 0
        try:
            self.flush(timeout)
        except (SendError, TimeoutError) as exc:
            log.warning("vnmeter client closing with events left: %s", exc)
        self._closed = True
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        self._thread.join()
        left = self._queue.unanswered()
        self._http.close()
        self._queue.close()
        return left

    def __enter__(self) -> Client:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    @property
    def error(self) -> SendError | None:
        """Why sending stopped, or None while it goes on."""
        return self._error

    def pending(self) -> int:
        """Events queued and not yet answered by the service."""
        return self._queue.unanswered()

    def totals(self) -> dict[str, int]:
        """The service's answers to every batch ever sent from this queue file, added up (accepted, duplicates,
        rejected, rejected:<reason>)."""
        return self._queue.totals()

    # -- the sender thread ---------------------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                batch = self._next_batch()
                if batch is None or not self._deliver(batch):
                    return
        except Exception as exc:  # the queue file failed (disk full...): surface it, keep what is queued
            log.exception("vnmeter client: the sender stopped")
            self._fail(SendError(f"the sender stopped: {type(exc).__name__}: {exc}"))

    def _due(self) -> bool:
        oldest = self._queue.oldest_waiting_since()
        return self._flushing > 0 or self._queue.waiting() >= self.batch_size or (
            oldest is not None and time.time() - oldest >= self.flush_interval)

    def _next_batch(self) -> Batch | None:
        """The batch to send next; waits until one is due; None once the client closes."""
        with self._wake:
            while not self._stop.is_set():
                batch = self._queue.next_batch(self.batch_size, MAX_BATCH_BYTES, make=self._due())
                if batch is not None:
                    return batch
                self._wake.notify_all()  # a flush waiting for the queue to empty
                oldest = self._queue.oldest_waiting_since()
                self._wake.wait(None if oldest is None else max(0.0, oldest + self.flush_interval - time.time()))
        return None

    def _deliver(self, batch: Batch) -> bool:
        """Send the batch until it is answered (True), sending stops, or the client closes (False)."""
        retries = 0
        while not self._stop.is_set():
            retry_after: float | None = None
            try:
                response = self._http.post(EVENTS_PATH, content=batch.body)
            except httpx.HTTPError as exc:
                outcome, problem = verdict_of_error(exc), type(exc).__name__
                if outcome is Verdict.STOP:
                    self._fail(SendError(f"cannot send to the service: {problem}: {exc}"))
                    return False
            else:
                outcome, problem = verdict(response.status_code), f"HTTP {response.status_code}"
                if outcome is Verdict.DELIVERED:
                    answer = _answer(response, batch)
                    if answer is not None:
                        self._answered(batch, answer)
                        return True
                    outcome, problem = Verdict.RETRY, "HTTP 200 with an unreadable answer"
                elif outcome is Verdict.STOP:
                    self._fail(SendError(f"the service refused a batch with {response.status_code}: "
                                         f"{_error_text(response)}", response.status_code))
                    return False
                retry_after = retry_after_s(response.headers.get("retry-after"))
            wait = self.retry.delay(retries, retry_after)
            retries += 1
            self.stats.retries += 1
            self.stats.failures[problem] += 1
            log.info("vnmeter client: batch of %d events not answered (%s); retrying in %.2f s",
                     batch.events, problem, wait)
            if self._stop.wait(wait):
                return False
        return False

    def _answered(self, batch: Batch, answer: dict[str, Any]) -> None:
        rows = answer["rejected"]
        rejections: list[Rejection] = []
        if rows:
            lines = batch.lines()
            rejections = [Rejection(json.loads(lines[row["index"]]), str(row["reason"]), str(row["detail"]))
                          for row in rows]
            if self._on_rejected is not None:
                _call(self._on_rejected, rejections)
        counts = Counter({"accepted": answer["accepted"], "duplicates": answer["duplicates"], "rejected": len(rows)})
        counts.update(f"rejected:{r.reason}" for r in rejections)
        with self._wake:  # a flush sees the batch answered and counted at once, never answered and not yet counted
            self._queue.answered(batch, counts)
            self.stats.batches += 1
            self.stats.accepted += answer["accepted"]
            self.stats.duplicates += answer["duplicates"]
            self.stats.rejected += len(rows)
            self._reporting = True  # a flush also waits for `on_batch` of the batch it sees answered
        try:
            if self._on_batch is not None:
                _call(self._on_batch, BatchResult(batch.events, answer["accepted"], answer["duplicates"],
                                                  tuple(rejections)))
        finally:
            with self._wake:
                self._reporting = False
                self._wake.notify_all()

    def _fail(self, error: SendError) -> None:
        log.error("vnmeter client: sending stopped: %s", error)
        with self._wake:
            self._error = error
            self._wake.notify_all()


def _answer(response: httpx.Response, batch: Batch) -> dict[str, Any] | None:
    """The 200 answer if it is the service's answer to this batch (counts that cover its events), else None."""
    try:
        answer = response.json()
        rows = answer["rejected"]
        covered = int(answer["accepted"]) + int(answer["duplicates"]) + len(rows)
        indexes = [int(row["index"]) for row in rows]
    except (ValueError, KeyError, TypeError):
        return None
    if covered != batch.events or any(not 0 <= index < batch.events for index in indexes):
        return None
    return dict(answer)


def _error_text(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"])[:500]
    except (ValueError, KeyError, TypeError):
        return response.text[:500]


def _call(callback: Callable[[Any], None], argument: Any) -> None:
    try:
        callback(argument)
    except Exception:
        log.exception("vnmeter client: a callback failed (ignored)")
