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
from collections.abc import Iterable
from datetime import date

from ingest.reasons import Reason, Rejection
from ingest.seal import destroy_keys, sealed_before
from queries.cache import Cached
from queries.store import Store

KEY_BYTES = 32
PSEUDONYM_BYTES = 16
PlatformMonth = tuple[str, date]
# The earliest candidate of each (platform, month) asked for (the platforms and months asked for may form pairs
# that were not: the caller keeps the ones it asked for).
WINNERS_SQL = ("SELECT platform, month, argMin(key, (created_at, key)) FROM pseudonym_keys "
               "WHERE platform IN {platforms:Array(String)} AND month IN {months:Array(Date)} GROUP BY platform, month")
CREATE_KEYS_SQL = ("INSERT INTO pseudonym_keys (platform, month, key, created_at) "
                   "SELECT candidate.1, candidate.2, unhex(candidate.3), now64(6) FROM (SELECT arrayJoin(arrayZip("
                   "{platforms:Array(String)}, {months:Array(Date)}, {keys:Array(String)})) AS candidate)")


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
        """The key of one (platform, month); raises the `month_sealed` rejection when the month is sealed."""
        found = self.keys([(platform, month)])[(platform, month)]
        if isinstance(found, Rejection):
            raise found
        return found

    def keys(self, pairs: Iterable[PlatformMonth]) -> dict[PlatformMonth, bytes | Rejection]:
        """The key of each (platform, month), or the `month_sealed` rejection of a sealed month. The keys not
        cached are loaded or created together, in one round of queries whatever their number (a request of a
        new month names every platform it carries, and a round costs about as much as one key)."""
        found: dict[PlatformMonth, bytes | Rejection] = {}
        missing = []
        for pair in pairs:
            cached = self._keys.get(pair)
            if cached is None:
                missing.append(pair)
            else:
                found[pair] = cached
        if not missing:
            return found
        # the cached watermark refuses most sealed months without a query. Read before taking `_lock`: reloading
        # it takes the watermark cache's lock and then `_lock`, so the other order could deadlock
        sealed = self.sealed_before()
        for pair in missing:
            if pair[1] < sealed:
                found[pair] = month_sealed(pair[1], sealed)
        with self._lock:
            wanted = [pair for pair in missing if pair not in found and pair not in self._keys]
            if wanted:
                for pair, value in self._load_or_create(wanted).items():  # reads the watermark from storage again
                    found[pair] = value
                    if not isinstance(value, Rejection):
                        self._keys[pair] = value
            for pair in missing:
                if pair not in found:
                    found[pair] = self._keys[pair]
        return found

    def _load_or_create(self, pairs: list[PlatformMonth]) -> dict[PlatformMonth, bytes | Rejection]:
        """The keys of these (platform, month)s; created if missing. Several processes may race to create one:
        each inserts a candidate stamped by the server's clock and then every one of them uses the earliest
        candidate.

        The watermark is read from storage before and after inserting the candidates: a seal records its
        watermark before dropping keys, so a candidate inserted after that drop is seen by the second read
        and destroyed here, and one inserted before it is dropped by the seal."""
        answer: dict[PlatformMonth, bytes | Rejection] = {}
        watermark = sealed_before(self.store)
        open_pairs = []
        for pair in pairs:
            if pair[1] < watermark:
                answer[pair] = month_sealed(pair[1], watermark)
            else:
                open_pairs.append(pair)
        winners = self._winners(open_pairs)
        created = [pair for pair in open_pairs if pair not in winners]
        if created:
            self.store.command(CREATE_KEYS_SQL, {
                "platforms": [platform for platform, _ in created], "months": [month for _, month in created],
                "keys": [secrets.token_hex(KEY_BYTES) for _ in created]})
            watermark = sealed_before(self.store)
            destroy_keys(self.store, sorted({month for _, month in created if month < watermark}))
            winners.update(self._winners([pair for pair in created if pair[1] >= watermark]))
        vanished = [pair for pair in open_pairs if pair not in winners]
        if vanished:  # sealed since: by the seal of the second read, or by one after it
            watermark = sealed_before(self.store)
            for pair in vanished:
                if pair[1] >= watermark:
                    raise RuntimeError(f"the pseudonym key of {pair[0]} {pair[1]:%Y-%m} vanished")
                answer[pair] = month_sealed(pair[1], watermark)
        answer.update(winners)
        return answer

    def _winners(self, pairs: list[PlatformMonth]) -> dict[PlatformMonth, bytes]:
        """The earliest candidate key of each of these (platform, month)s that has one."""
        if not pairs:
            return {}
        rows = self.store.rows(WINNERS_SQL, {"platforms": sorted({platform for platform, _ in pairs}),
                                             "months": sorted({month for _, month in pairs})})
        wanted = set(pairs)
        return {(platform, month): value.encode("latin-1") if isinstance(value, str) else bytes(value)
                for platform, month, value in rows if (platform, month) in wanted}
