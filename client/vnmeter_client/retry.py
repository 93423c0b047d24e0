"""The retry rule: what each answer of POST /v1/events means for the batch, and how long to wait before sending
the same batch again (exponential backoff with full jitter, at least the server's `Retry-After`).

Written here rather than taken from tenacity, backoff or stamina: the package depends on httpx alone, and the
rule is a table and one formula (docs/decisions/0010-client-backoff.md).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum

import httpx


class Verdict(Enum):
    DELIVERED = "delivered"  # 200: the batch is answered; its rejected rows are reported, never sent again
    RETRY = "retry"  # the same batch, unchanged, after a backoff
    STOP = "stop"  # retrying cannot help: sending stops and the error is surfaced; the batch stays queued


RETRY_STATUSES = frozenset({408, 429})
"""Besides every 5xx: the request timed out on the server's side, or the key's request rate was exceeded."""


def verdict(status: int) -> Verdict:
    """What an HTTP status means for the batch: 200 delivered; 408, 429 and 5xx retry; anything else (400, 401,
    403, 413, 415, 404 of a wrong URL, a redirect...) stops."""
    if status == 200:
        return Verdict.DELIVERED
    if status in RETRY_STATUSES or 500 <= status <= 599:
        return Verdict.RETRY
    return Verdict.STOP


def verdict_of_error(error: httpx.HTTPError) -> Verdict:
    """Time-outs, refused or dropped connections and proxy failures retry; a request httpx cannot make at all (an
    unsupported URL scheme, an invalid header) stops."""
    if isinstance(error, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return Verdict.STOP
    if isinstance(error, httpx.TransportError):
        return Verdict.RETRY
    return Verdict.STOP


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """The wait a `Retry-After` header asks for, in seconds: whole seconds or an HTTP date (RFC 9110); None when
    the header is absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff before the n-th retry of a batch (n = 0, 1, ...): a uniformly random wait between 0 and
    min(max_s, initial_s * 2**n) ("full jitter"), but never less than what `Retry-After` asked for, itself capped
    at `max_retry_after_s`. Retries go on until the batch is answered or the client is closed."""

    initial_s: float = 0.5
    max_s: float = 30.0
    max_retry_after_s: float = 300.0

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError(f"RetryPolicy: need 0 < initial_s <= max_s, got {self.initial_s} and {self.max_s}")
        if self.max_retry_after_s < 0:
            raise ValueError(f"RetryPolicy: max_retry_after_s must be >= 0, got {self.max_retry_after_s}")

    def ceiling(self, retry: int) -> float:
        """The longest backoff before retry number `retry` (0 for the first)."""
        return min(self.max_s, self.initial_s * 2.0 ** min(retry, 64))

    def delay(self, retry: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        jittered = (rng or random).uniform(0.0, self.ceiling(retry))
        if retry_after is None:
            return jittered
        return max(jittered, min(retry_after, self.max_retry_after_s))
