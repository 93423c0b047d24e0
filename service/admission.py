"""How many ingestion requests may hold memory at once, sized from a memory budget (VNMETER_INGEST_MEMORY_MB).

A request to POST /v1/events costs memory in two stages: while its body is read, inflated and parsed (up to
DECODE_PEAK_BYTES, for at most a few seconds), and then while its rows wait for the writer to store them (up to
KEPT_BYTES). `decoders` requests may decode at once (as many as half the budget holds, at most MAX_DECODERS),
and the rest of the budget is for requests waiting for the writer; `inside` requests may be in the route at
all (decoding or waiting). A request waits for its turn before its body is read,
so a waiting request holds no more than the server's read buffer; after WAIT_S in all it is answered 503 with
`Retry-After` and stores nothing (vendors retry, as for any 503).

The per-request figures are measured by `bench/decode_peak.py` (docs/RELIABILITY.md): the worst request shape
decoded in 117.4 MiB resident (113.6 MiB allocated: a JSON array of 2,000,000 empty arrays, the most the comma
check lets through), the largest kept 6.7 MiB (10,000 rows as msgspec leaves them: each row's stored line and
its key).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiologic
from fastapi import HTTPException

from ingest.limits import MAX_BODY_BYTES

MIB = 1024 * 1024
DECODE_PEAK_BYTES = 118 * MIB + 3 * MAX_BODY_BYTES
"""One request while decoding: the worst shape measured (117.4 MiB resident) and its body, read in chunks and
joined (twice the body), with a margin of nearly a body more; 133 MiB."""
KEPT_BYTES = 8 * MIB
"""One request's rows waiting for the writer: 6.7 MiB measured, rounded up."""
MAX_DECODERS = 3
"""Decoding holds the GIL except while inflating, so more turns at once only multiply the memory they hold and
the time each takes: under `loadtest/exhaustion.py`'s flood of the largest posts, 7 turns (half of 2,048 MiB)
had 1,295 posts answered 503 and sent again, 3 turns 66 (docs/RELIABILITY.md). The rest of the budget goes to
requests waiting for the writer."""
WAIT_S = 10.0
"""Longest wait for a turn; the body's time limit (BODY_TIMEOUT_S, from the request's start) includes it."""
RETRY_AFTER_S = 5


class IngestBusy(HTTPException):
    def __init__(self, wait_s: float):
        super().__init__(503, f"the service is ingesting as many requests as its memory allows and none finished "
                              f"within {wait_s:g} s; retry this request later", headers={"Retry-After":
                                                                                         str(RETRY_AFTER_S)})


class IngestAdmission:
    """Two counters of ingestion requests: `inside` the route, and `decoding` among them."""

    def __init__(self, decoders: int, inside: int, wait_s: float = WAIT_S):
        if not 1 <= decoders <= inside:
            raise ValueError(f"need 1 <= decoders ({decoders}) <= inside ({inside})")
        self.decoders = decoders
        self.inside = inside
        self.wait_s = wait_s
        # aiologic's semaphores work across threads and event loops (several test clients, each on a loop of its
        # own, share one app); anyio's belong to one loop, and a waiter on another one was never woken.
        self._inside = aiologic.Semaphore(inside)
        self._decoding = aiologic.Semaphore(decoders)

    @classmethod
    def for_memory(cls, budget_bytes: int, wait_s: float = WAIT_S) -> IngestAdmission:
        decoders = max(1, min(MAX_DECODERS, budget_bytes // 2 // DECODE_PEAK_BYTES))
        waiting = max(1, (budget_bytes - decoders * DECODE_PEAK_BYTES) // KEPT_BYTES)
        return cls(decoders, decoders + waiting, wait_s)

    @property
    def bound_bytes(self) -> int:
        """The most memory the admitted requests can hold at once, by the measured figures."""
        return self.decoders * DECODE_PEAK_BYTES + (self.inside - self.decoders) * KEPT_BYTES

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[Admitted]:
        """Enter the route (or 503 after the wait); yields the way to a decoding turn, by the same deadline."""
        deadline = time.monotonic() + self.wait_s
        await self._take(self._inside, deadline)
        try:
            yield Admitted(self, deadline)
        finally:
            self._inside.release()

    async def _take(self, semaphore: aiologic.Semaphore, deadline: float) -> None:
        if not await semaphore.async_acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise IngestBusy(self.wait_s)


class Admitted:
    """A request inside the route; `decoding()` holds one of the decoding turns."""

    def __init__(self, admission: IngestAdmission, deadline: float):
        self._admission = admission
        self._deadline = deadline

    @asynccontextmanager
    async def decoding(self) -> AsyncIterator[None]:
        await self._admission._take(self._admission._decoding, self._deadline)
        try:
            yield
        finally:
            self._admission._decoding.release()
