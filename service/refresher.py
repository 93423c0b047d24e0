"""The background refresher: counts again, shortly after they receive events, the users of the months whose
stored count is no longer current (`queries.rollups.refresh_counts`), so that requests answer them from a
current count instead of counting them on the request path (docs/METRICS.md, "Months still receiving events").
"""

from __future__ import annotations

import logging
import threading

from queries.rollups import refresh_counts
from queries.store import Store

log = logging.getLogger("vnmeter")
REFRESH_INTERVAL_S = 2.0
"""How long after its events a changed month is counted again at the latest (plus the count's own time)."""
FIRST_REFRESH_DELAY_S = 5.0
"""The first pass waits a little after start-up, so that short-lived apps (tests, one-off tools) run none."""


class CountRefresher:
    """Runs `refresh_counts` every `interval_s` seconds in a daemon thread until stopped."""

    def __init__(self, store: Store, interval_s: float = REFRESH_INTERVAL_S,
                 first_delay_s: float = FIRST_REFRESH_DELAY_S):
        self.store = store
        self.interval_s = interval_s
        self.first_delay_s = first_delay_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> CountRefresher:
        self._thread = threading.Thread(target=self._loop, name="vnmeter-count-refresher", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def _loop(self) -> None:
        wait = self.first_delay_s
        while not self._stop.wait(wait):
            wait = self.interval_s
            try:
                refresh_counts(self.store)
            except Exception:  # keep the service up; the next pass counts what this one could not
                log.exception("counting changed months again failed; retrying in %.0f s", self.interval_s)
