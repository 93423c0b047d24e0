"""The background refresher: counts again, shortly after they receive events, the users of the months whose
stored count is no longer current (`queries.rollups.refresh_counts`), so that requests answer them from a
current count instead of counting them on the request path (docs/METRICS.md, "Months still receiving events").
"""

from __future__ import annotations

from queries.rollups import refresh_counts
from queries.store import Store
from service.periodic import Periodic

REFRESH_INTERVAL_S = 5.0
"""How long after its events a changed month is counted again at the latest (plus the count's own time)."""
FIRST_REFRESH_DELAY_S = 5.0
"""The first pass waits a little after start-up, so that short-lived apps (tests, one-off tools) run none."""


class CountRefresher(Periodic):
    """Counts the changed months again every `interval_s` seconds in a daemon thread until stopped."""

    thread_name = "vnmeter-count-refresher"
    task = "counting changed months again"

    def __init__(self, store: Store, interval_s: float = REFRESH_INTERVAL_S,
                 first_delay_s: float = FIRST_REFRESH_DELAY_S):
        super().__init__(interval_s, first_delay_s)
        self.store = store

    def tick(self) -> int:
        return refresh_counts(self.store)
