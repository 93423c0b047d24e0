"""The stored-id filter: a bloom filter of the stored (platform, event id) pairs, on the embedded engine.

The `dedupe` step asks ClickHouse which of a group's pairs are already stored. On the embedded engine one
process owns the data directory, so its writer sees every insert: a filter filled from `event_keys` at
start-up (after the journal's replay), and given every pair the writer claims before that pair's insert,
holds every stored pair. A pair the filter does not hold is certainly new and is not looked up; the others
are (a false positive costs a lookup, never a wrong answer). A ClickHouse server may be written by several
API processes, so there the writer looks every pair up. The bit operations are in C (ingest/_seen.c);
without a C compiler there is no filter and every pair is looked up.
"""

from __future__ import annotations

import logging
import math

from queries.store import Store

try:
    from ingest import _seen  # type: ignore[attr-defined]
except ImportError:  # built without a C compiler
    _seen = None

log = logging.getLogger("vnmeter")

# 10 bits and 7 hashes per pair: about 1% false positives when the filter holds `capacity` pairs.
BITS_PER_PAIR = 10
HASHES = 7
# Room for what arrives after start-up: at least this many pairs, and half the stored ones again.
MIN_HEADROOM = 8_000_000
# Each stored pair's hash, computed by ClickHouse as ingest/_seen.c computes it, a page at a time in the
# order of event_keys' key (a page re-reads the last id of the one before: the same id may be stored for
# several platforms, and a pair added twice changes nothing).
FILL_SQL = (
    "SELECT id128, xxHash64(concat(platform, char(0), toString(id128))) FROM event_keys "
    "WHERE id128 >= {after:UInt128} ORDER BY id128 LIMIT {page:UInt32}"
)
FILL_PAGE = 2_000_000  # rows of 24 bytes: 48 MB at a time
ROW_BYTES = 24  # UInt128 id, UInt64 hash


class SeenFilter:
    """Which (platform, id) pairs may be stored; `id` is the UUID's UInt128 value in decimal."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.bits = math.ceil(capacity * BITS_PER_PAIR / 64) * 64
        self.bitmap = bytearray(self.bits // 8)
        self.count = 0  # pairs added (a pair added twice counts twice: the estimate errs on the full side)

    @classmethod
    def load(cls, store: Store) -> SeenFilter | None:
        """The filter of every pair stored in `store`, or None where it cannot be used (a server, or no C)."""
        if _seen is None or not store.target.is_embedded:
            return None
        stored = int(store.rows("SELECT count() FROM event_keys")[0][0])
        seen = cls(stored + max(stored // 2, MIN_HEADROOM))
        after = 0
        while True:
            page = store.client.raw_query(FILL_SQL, {"after": after, "page": FILL_PAGE}, fmt="RowBinary")
            _seen.add_hashes(seen.bitmap, HASHES, page, ROW_BYTES)
            if len(page) < FILL_PAGE * ROW_BYTES:
                break
            last = int.from_bytes(page[-ROW_BYTES:-8], "little")
            if last == after:  # a whole page of one id: more platforms than a page holds
                raise RuntimeError(f"event_keys holds over {FILL_PAGE:,} pairs of one id")
            after = last
        seen.count = stored
        log.info("stored-id filter: %d pairs, %d MB, room for %d more", stored, len(seen.bitmap) >> 20,
                 seen.capacity - stored)
        return seen

    @property
    def full(self) -> bool:
        """Past its capacity false positives climb (0.8% of new pairs at capacity, 14% at twice it): the writer
        then looks every pair up."""
        return self.count > self.capacity

    def add(self, pairs: set[tuple[str, str]]) -> None:
        assert _seen is not None
        _seen.add(self.bitmap, HASHES, pairs)
        was_full, self.count = self.full, self.count + len(pairs)
        if self.full and not was_full:
            log.warning("stored-id filter: past its capacity of %d pairs; every id is looked up until the next "
                        "start-up sizes it anew", self.capacity)

    def may_hold(self, pairs: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """The pairs that may be stored: all of those that are, and about 1% of the others."""
        assert _seen is not None
        if self.full:
            return pairs
        found: set[tuple[str, str]] = _seen.maybe(self.bitmap, HASHES, pairs)
        return found
