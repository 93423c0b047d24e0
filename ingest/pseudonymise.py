"""The `pseudonymise` step and its key store.

A user's id becomes keyed BLAKE2b-128 of the id, with a random 32-byte key per (platform, calendar
month in the service time zone). The same person is one pseudonym within a month of one platform,
and pseudonyms cannot be linked across months or platforms. Sealing (`ingest.seal`) destroys the keys of
earlier months; after that no one, the service included, can recompute those pseudonyms, and events for
those months are refused (`month_sealed`). The key store only hands keys out: it never creates a key for a
month once a seal of that month has begun, whatever its cache says.
"""

from __future__ import annotations

import secrets
import threading
from datetime import date

from ingest.reasons import Reason, Rejection
from ingest.seal import destroy_keys, sealed_before
from queries.cache import Cached
from queries.store import Store

KEY_BYTES = 32
PSEUDONYM_BYTES = 16


def month_sealed(month: date, watermark: date) -> Rejection:
    return Rejection(Reason.MONTH_SEALED, f"ts: month {month:%Y-%m} is sealed (months before "
                     f"{watermark:%Y-%m} no longer accept events)", "ts")


class KeyStore:
    """Pseudonym keys by (platform, month): created on first use and cached; the watermark is cached too."""

    def __init__(self, store: Store, ttl_s: float = 5.0):
        self.store = store
        self._keys: dict[tuple[str, date], bytes] = {}
        self._lock = threading.RLock()
        self._sealed: Cached[date] = Cached(self._load_sealed_before, ttl_s)

    def _load_sealed_before(self) -> date:
        sealed = sealed_before(self.store)
        with self._lock:
            for platform_month in [k for k in self._keys if k[1] < sealed]:
                del self._keys[platform_month]
        return sealed

    def sealed_before(self) -> date:
        """The first month that is still open (cached); events of earlier months are refused."""
        return self._sealed.get()

    def refresh(self) -> None:
        """Read the watermark now and forget the keys of sealed months (after this process sealed)."""
        self._sealed.invalidate()
        self._sealed.get()

    def check_open(self, month: date) -> None:
        sealed = self.sealed_before()
        if month < sealed:
            raise month_sealed(month, sealed)

    def key(self, platform: str, month: date) -> bytes:
        cached = self._keys.get((platform, month))
        if cached is not None:
            return cached
        # the cached watermark refuses most sealed months without a query. Read before taking `_lock`: reloading
        # it takes the watermark cache's lock and then `_lock`, so the other order could deadlock
        self.check_open(month)
        with self._lock:
            cached = self._keys.get((platform, month))
            if cached is None:
                cached = self._load_or_create(platform, month)  # reads the watermark from storage again
                self._keys[(platform, month)] = cached
            return cached

    def _load_or_create(self, platform: str, month: date) -> bytes:
        """The month's key; created if missing. Several processes may race to create it: each inserts a
        candidate stamped by the server's clock and then every one of them uses the earliest candidate.

        The watermark is read from storage before and after inserting a candidate: a seal records its
        watermark before dropping keys, so a candidate inserted after that drop is seen by the second read
        and destroyed here, and one inserted before it is dropped by the seal."""
        self._refuse_if_sealed(month)
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
            watermark = sealed_before(self.store)
            if month < watermark:
                destroy_keys(self.store, [month])
                raise month_sealed(month, watermark)
            found = self.store.rows(winner, params)
            if not found:  # a seal dropped it since
                self._refuse_if_sealed(month)
                raise RuntimeError(f"the pseudonym key of {platform} {month:%Y-%m} vanished")
        value = found[0][0]
        return value.encode("latin-1") if isinstance(value, str) else bytes(value)

    def _refuse_if_sealed(self, month: date) -> None:
        watermark = sealed_before(self.store)
        if month < watermark:
            raise month_sealed(month, watermark)
