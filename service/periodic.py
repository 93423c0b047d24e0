"""A task run every few seconds in a daemon thread of the service (the summary scheduler, the count refresher)."""

from __future__ import annotations

import logging
import threading
from typing import Self

log = logging.getLogger("vnmeter")


class Periodic:
    """Runs `tick()` every `interval_s` seconds, the first time after `first_delay_s`, until stopped. A failing
    tick is logged and the next one runs as planned, so that the service stays up."""

    thread_name = "vnmeter-periodic"
    task = "periodic task"

    def __init__(self, interval_s: float, first_delay_s: float):
        self.interval_s = interval_s
        self.first_delay_s = first_delay_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> object:
        raise NotImplementedError

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
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
                self.tick()
            except Exception:
                log.exception("%s failed; retrying in %.0f s", self.task, self.interval_s)
