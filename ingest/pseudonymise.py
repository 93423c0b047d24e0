"""The `pseudonymise` step and its key store.

A user's id becomes keyed BLAKE2b-128 of the id, with a random 32-byte key per (platform, calendar
month in the service time zone). The same person is one pseudonym within a month of one platform,
and pseudonyms cannot be linked across months or platforms. `seal(before)` destroys the keys of
earlier months; after that no one, the service included, can recompute those pseudonyms, and
events for those months are refused (`month_sealed`).
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from datetime import UTC, date, datetime

from ingest.reasons import Reason, Rejection
from queries.cache import Cached
from queries.store import Store

SEALED_BEFORE = "sealed_before"
KEY_BYTES = 32
PSEUDONYM_BYTES = 16


def pseudonym(user: str, key: bytes) -> str:
    """The user's pseudonym for one key, as 32 hex digits (stored as FixedString(16) bytes)."""
    return hashlib.blake2b(user.encode(), key=key, digest_size=PSEUDONYM_BYTES).hexdigest()


class KeyStore:
    """Pseudonym keys by (platform, month): created on first use, cached, destroyed by sealing."""

    def __init__(self, store: Store, ttl_s: float = 5.0):
        self.store = store
        self._keys: dict[tuple[str, date], bytes] = {}
        self._lock = threading.RLock()
        self._sealed: Cached[date] = Cached(self._load_sealed_before, ttl_s)

    def _load_sealed_before(self) -> date:
        value = self.store.rows(
            "SELECT argMax(value, updated_at) FROM service_state WHERE name = {n:String}", {"n": SEALED_BEFORE}
        )
        text = value[0][0] if value else ""
        sealed = date.fromisoformat(text) if text else date.min
        with self._lock:
            for platform_month in [k for k in self._keys if k[1] < sealed]:
                del self._keys[platform_month]
        return sealed

    def sealed_before(self) -> date:
        """The first month that is still open; events of earlier months are refused."""
        return self._sealed.get()

    def check_open(self, month: date) -> None:
        sealed = self.sealed_before()
        if month < sealed:
            raise Rejection(Reason.MONTH_SEALED, f"ts: month {month:%Y-%m} is sealed (months before "
                            f"{sealed:%Y-%m} no longer accept events)", "ts")

    def key(self, platform: str, month: date) -> bytes:
        cached = self._keys.get((platform, month))
        if cached is not None:
            return cached
        with self._lock:
            cached = self._keys.get((platform, month))
            if cached is None:
                self.check_open(month)  # sealing empties the cache, so a sealed month always lands here
                cached = self._load_or_create(platform, month)
                self._keys[(platform, month)] = cached
            return cached

    def _load_or_create(self, platform: str, month: date) -> bytes:
        """The month's key; created if missing. Several processes may race to create it: each inserts a
        candidate stamped by the server's clock and then every one of them uses the earliest candidate."""
        params = {"p": platform, "m": month}
        winner = ("SELECT argMin(key, (created_at, key)) FROM pseudonym_keys "
                  "WHERE platform = {p:String} AND month = {m:Date} HAVING count() > 0")
        found = self.store.rows(winner, params)
        if not found:
            self.store.command(
                "INSERT INTO pseudonym_keys (platform, month, key, created_at) "
                "SELECT {p:String}, {m:Date}, unhex({k:String}), now64(6)",
                {**params, "k": secrets.token_hex(KEY_BYTES)},
            )
            found = self.store.rows(winner, params)
        value = found[0][0]
        return value.encode("latin-1") if isinstance(value, str) else bytes(value)

    def seal(self, before: date) -> list[date]:
        """Destroy the keys of every month before `before`; returns the months whose keys were dropped."""
        with self._lock:
            months = [row[0] for row in self.store.rows(
                "SELECT DISTINCT month FROM pseudonym_keys WHERE month < {m:Date} ORDER BY month", {"m": before})]
            self.store.insert("service_state", [[SEALED_BEFORE, max(before, self.sealed_before()).isoformat(),
                                                 datetime.now(UTC)]], ["name", "value", "updated_at"])
            for partition in sorted({m.year * 100 + m.month for m in months}):
                self.store.command(f"ALTER TABLE pseudonym_keys DROP PARTITION {int(partition)}")
            for platform_month in [k for k in self._keys if k[1] < before]:
                del self._keys[platform_month]
        self._sealed.invalidate()
        return months
