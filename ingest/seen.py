"""The stored-id filter: a bloom filter (rbloom) of the stored event ids, on the embedded engine.

The `dedupe` step asks ClickHouse which of a group's (platform, event id) pairs are already stored. On the
embedded engine one process owns the data directory, so its writer sees every insert: a filter filled from
`event_keys` at start-up (after the journal's replay), and given every id the writer claims before that id's
insert, holds every stored id. A pair whose id the filter does not hold is certainly new and is not looked up;
the others are (a false positive, or the same id stored for another platform, costs a lookup, never a wrong
answer). A ClickHouse server may be written by several API processes, so there the writer looks every pair up.

The filter holds integers and hashes them with Python's own integer hash, which is the value modulo the
Mersenne prime 2^61 - 1 (not randomised per process). The start-up fill therefore reads each stored id
already reduced by ClickHouse (`id128 % (2^61 - 1)`, 8 bytes a row) and hands pages of them to the filter
without a Python object per id. docs/decisions/0002-stored-id-filter.md has the figures.
"""

from __future__ import annotations

import logging
import sys

from rbloom import Bloom

from queries.store import Store

log = logging.getLogger("vnmeter")

FALSE_POSITIVE_RATE = 0.01
# Room for what arrives after start-up: at least this many ids, and half the stored ones again.
MIN_HEADROOM = 8_000_000
HASH_MODULUS = sys.hash_info.modulus  # 2^61 - 1: hash(n) == n % HASH_MODULUS for every n >= 0
# A page of stored ids in the order of event_keys' key, each reduced as Python's hash reduces it (a page
# re-reads the last id of the one before: the same id may be stored for several platforms, and an id added
# twice changes nothing).
FILL_SQL = (
    "SELECT id128, toUInt64(id128 % {modulus:UInt64}) FROM event_keys "
    "WHERE id128 >= {after:UInt128} ORDER BY id128 LIMIT {page:UInt32}"
)
FILL_PAGE = 2_000_000  # rows of 24 bytes: 48 MB at a time
ROW_BYTES = 24  # UInt128 id, UInt64 reduced id


class SeenFilter:
    """Which event ids may be stored (for any platform)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.bloom = Bloom(capacity, FALSE_POSITIVE_RATE)
        self.count = 0  # ids added (an id added twice counts twice: the estimate errs on the full side)

    @classmethod
    def load(cls, store: Store) -> SeenFilter | None:
        """The filter of every id stored in `store`, or None on a server (several processes write there)."""
        if not store.target.is_embedded:
            return None
        stored = int(store.rows("SELECT count() FROM event_keys")[0][0])
        seen = cls(stored + max(stored // 2, MIN_HEADROOM))
        after = 0
        while True:
            page = store.raw_query(FILL_SQL, {"modulus": HASH_MODULUS, "after": after, "page": FILL_PAGE},
                                   fmt="RowBinary")
            words = memoryview(page).cast("Q")  # per row: the id's low and high 64 bits, the reduced id
            seen.bloom.update(words[2::3])
            if len(page) < FILL_PAGE * ROW_BYTES:
                break
            last = words[-3] | words[-2] << 64
            if last == after:  # a whole page of one id: more platforms than a page holds
                raise RuntimeError(f"event_keys holds over {FILL_PAGE:,} pairs of one id")
            after = last
        seen.count = stored
        log.info("stored-id filter: %d ids, room for %d more", stored, seen.capacity - stored)
        return seen

    @property
    def full(self) -> bool:
        """Past its capacity false positives climb: the writer then looks every pair up."""
        return self.count > self.capacity

    def add(self, ids: list[int]) -> None:
        self.bloom.update(ids)  # a list: no Python code runs while rbloom holds the filter
        was_full, self.count = self.full, self.count + len(ids)
        if self.full and not was_full:
            log.warning("stored-id filter: past its capacity of %d ids; every id is looked up until the next "
                        "start-up sizes it anew", self.capacity)

    def may_hold(self, ids: list[int]) -> list[int]:
        """The ids that may be stored: all of those that are, and about 1% of the others."""
        if self.full:
            return ids
        return list(filter(self.bloom.__contains__, ids))
