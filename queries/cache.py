"""A value loaded from ClickHouse and kept for a short, documented time (VNMETER_CACHE_TTL_S).

In server mode any number of API processes share one ClickHouse, so what one process writes
(a revoked key, a new platform) reaches the others within the TTL; the writing process itself
invalidates at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Cached(Generic[T]):
    def __init__(self, load: Callable[[], T], ttl_s: float):
        self._load = load
        self._ttl_s = ttl_s
        self._value: T | None = None
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def get(self) -> T:
        value = self._value
        if value is not None and time.monotonic() - self._loaded_at < self._ttl_s:
            return value
        with self._lock:
            if self._value is None or time.monotonic() - self._loaded_at >= self._ttl_s:
                self._value = self._load()
                self._loaded_at = time.monotonic()
            return self._value

    def invalidate(self) -> None:
        with self._lock:
            self._value = None
