"""Scheduled quarterly summaries: while `vnmeter serve` runs, make the previous quarter's summary
`summary_delay_days` days after the quarter ends (dates in the service time zone) and write its files.

The ledger (table summary_runs) makes the schedule survive restarts. The first check on a store records
the date the scheduler was enabled; from then on every quarter whose due date falls on or after that date
and on or before today is run once: a quarter missed while the service was down is run at the next check
(catch-up), and a quarter with a 'done' row is never run again. A run first claims its quarter in the
ledger, so two processes checking at once (API replicas, the CronJob) do not both run it. A run that
stopped half-way (a version stored, files not written) is finished with that same version instead of
making another one.
`vnmeter summary --previous-quarter` (cron / Kubernetes CronJob) runs the same `run_quarter`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from queries.periods import Period, period_of_kind
from queries.summaries import SummaryRuns
from service.context import Services
from service.periodic import Periodic
from service.summaries import summaries_of
from service.summaries.render import write_files

log = logging.getLogger("vnmeter")
CHECK_INTERVAL_S = 300.0
FIRST_CHECK_DELAY_S = 30.0
"""The first check waits a little after start-up so that short-lived apps (tests, one-off tools) never run one."""
COUNTED_TRIGGERS = ("schedule", "cli")


# -- due dates (pure) ---------------------------------------------------------------------------------
def quarter_containing(day: date) -> Period:
    return period_of_kind("quarter", day.year, (day.month - 1) // 3 + 1)


def due_date(quarter: Period, delay_days: int) -> date:
    """The day a quarter's summary is due: `delay_days` after its last day (Q1 with 7 days: 7 April)."""
    return quarter.end + timedelta(days=delay_days)


def latest_due_quarter(today: date, delay_days: int) -> Period:
    """The most recent quarter whose summary is due on or before `today`."""
    quarter = quarter_containing(today).previous()
    while due_date(quarter, delay_days) > today:
        quarter = quarter.previous()
    return quarter


def due_quarters(today: date, delay_days: int, enabled_on: date, done: set[str]) -> list[Period]:
    """Quarters to run now, oldest first: due between `enabled_on` and `today` (inclusive) and not done."""
    found = []
    quarter = latest_due_quarter(today, delay_days)
    while due_date(quarter, delay_days) >= enabled_on:
        if quarter.label not in done:
            found.append(quarter)
        quarter = quarter.previous()
    return found[::-1]


def local_today(now: datetime, zone: ZoneInfo) -> date:
    return now.astimezone(zone).date()


# -- one run -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunOutcome:
    period: str
    version: int
    generated: bool  # False when a version of an interrupted run (or a manual one after the due date) was reused
    files: dict[str, Path]


_RUN_LOCK = threading.Lock()


def run_quarter(ctx: Services, quarter: Period, trigger: str) -> RunOutcome | None:
    """Make (or finish) the scheduled summary of `quarter`: one version, its files, a 'done' ledger row.

    None when the quarter is already done or another process (an API replica, the CronJob) is running it.
    """
    runs = SummaryRuns(ctx.store)
    summaries = summaries_of(ctx)
    due_at = datetime.combine(due_date(quarter, ctx.settings.summary_delay_days), time(0), ctx.settings.zone)
    with _RUN_LOCK:
        run_id = runs.claim(quarter.label, trigger)
        if run_id is None:
            return None
        try:
            number = summaries.latest_made_since(quarter.label, COUNTED_TRIGGERS, due_at.astimezone(UTC))
            generated = number is None
            version = (summaries.generate(quarter, trigger, "scheduler" if trigger == "schedule" else "cli")
                       if number is None else summaries.get(quarter.label, number))
            assert version is not None
            files = write_files(version, ctx.settings.data_dir)
        except Exception as exc:
            runs.record(quarter.label, "failed", trigger, detail=f"{run_id} {type(exc).__name__}: {exc}"[:500])
            raise
        runs.record(quarter.label, "done", trigger, version.version, f"{run_id} {files.get('html', '')}")
    return RunOutcome(quarter.label, version.version, generated, files)


# -- the background thread -----------------------------------------------------------------------------
class Scheduler(Periodic):
    """Checks for due quarters every `interval_s` seconds in a daemon thread until stopped."""

    thread_name = "vnmeter-scheduler"
    task = "summary scheduler check"

    def __init__(self, ctx: Services, interval_s: float = CHECK_INTERVAL_S,
                 first_delay_s: float = FIRST_CHECK_DELAY_S):
        super().__init__(interval_s, first_delay_s)
        self.ctx = ctx

    def tick(self, now: datetime | None = None) -> list[RunOutcome]:
        """One check: run every due quarter not done yet (oldest first)."""
        settings = self.ctx.settings
        today = local_today(now or datetime.now(UTC), settings.zone)
        runs = SummaryRuns(self.ctx.store)
        enabled_on = runs.enable(today)
        outcomes = []
        for quarter in due_quarters(today, settings.summary_delay_days, enabled_on, runs.done_periods()):
            outcome = run_quarter(self.ctx, quarter, "schedule")
            if outcome is None:
                continue  # another process runs it
            log.info("scheduled summary of %s: version %d, files in %s", outcome.period, outcome.version,
                     outcome.files.get("html", ""))
            outcomes.append(outcome)
        return outcomes
