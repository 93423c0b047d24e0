"""The summary scheduler: due dates in Vietnam time, and under frozen time across restarts no due quarter is
skipped or run twice; an interrupted run is finished with its own version; the cron command is idempotent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

from queries.periods import parse_period
from queries.store import Store
from queries.summaries import Summaries, SummaryRuns
from service import scheduler
from service.scheduler import Scheduler, due_date, due_quarters, latest_due_quarter
from tests.api.test_summaries import session
from tests.factories import running_api

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def test_due_dates() -> None:
    assert due_date(parse_period("2022-Q1"), 7) == date(2022, 4, 7)
    assert due_date(parse_period("2022-Q4"), 7) == date(2023, 1, 7)
    assert due_date(parse_period("2022-Q2"), 0) == date(2022, 6, 30)
    assert latest_due_quarter(date(2022, 4, 6), 7).label == "2021-Q4"
    assert latest_due_quarter(date(2022, 4, 7), 7).label == "2022-Q1"
    assert latest_due_quarter(date(2022, 4, 1), 0).label == "2022-Q1"
    assert latest_due_quarter(date(2022, 1, 1), 90).label == "2021-Q3"  # 2021-Q4 is due on 31 March 2022


def test_due_quarters_run_once_from_the_day_the_scheduler_was_enabled() -> None:
    assert due_quarters(date(2022, 4, 6), 7, date(2022, 4, 1), set()) == []
    assert [q.label for q in due_quarters(date(2022, 4, 7), 7, date(2022, 4, 1), set())] == ["2022-Q1"]
    assert due_quarters(date(2022, 4, 7), 7, date(2022, 4, 1), {"2022-Q1"}) == []
    # Down from May to late October: Q2 (due 7 July) and Q3 (due 7 October) are both caught up, oldest first.
    assert [q.label for q in due_quarters(date(2022, 10, 20), 7, date(2022, 4, 1), {"2022-Q1"})] == \
        ["2022-Q2", "2022-Q3"]
    # A quarter due on the day the scheduler is enabled is run; one due the day before is not.
    assert [q.label for q in due_quarters(date(2022, 4, 7), 7, date(2022, 4, 7), set())] == ["2022-Q1"]
    assert due_quarters(date(2022, 4, 8), 7, date(2022, 4, 8), set()) == []


def at(year: int, month: int, day: int, hour: int = 12, minute: int = 0) -> datetime:
    """An instant given by its Vietnam wall-clock time."""
    return datetime(year, month, day, hour, minute, tzinfo=VN)


def test_restarts_never_skip_or_double_a_due_run(store: Store, tmp_path: Path) -> None:
    with running_api(store, tmp_path) as api:
        api.put_platform("zalo", "vng", name="Zalo")
        rows = [session("zalo", f"u{n}", date(2022, month, 1 + n)) for month in range(1, 10) for n in range(3)]
        assert api.post_events(api.vendor("vng"), rows).json()["accepted"] == 27
        ctx = api.services
        summaries, runs = Summaries(ctx.store, ctx.registry), SummaryRuns(ctx.store)

        with time_machine.travel(at(2022, 4, 1), tick=False):
            assert Scheduler(ctx).tick() == []  # first check: enabled today; 2021-Q4 was due before that
        assert runs.enabled_on() == date(2022, 4, 1)
        # 23:59 on 6 April in Vietnam (16:59 UTC): not due yet.
        with time_machine.travel(at(2022, 4, 6, 23, 59), tick=False):
            assert Scheduler(ctx).tick() == []
        # 00:30 on 7 April in Vietnam is still 6 April in UTC: due, in the service's time zone.
        with time_machine.travel(at(2022, 4, 7, 0, 30), tick=False):
            assert datetime.now(UTC).date() == date(2022, 4, 6)
            outcomes = Scheduler(ctx).tick()  # a restarted service: a new scheduler on the same store
        assert [(o.period, o.version, o.generated) for o in outcomes] == [("2022-Q1", 1, True)]
        assert outcomes[0].files["html"] == (tmp_path / "summaries" / "2022-Q1" / "v1.html").resolve()
        for ext in ("html", "md", "xlsx", "json"):
            assert (tmp_path / "summaries" / "2022-Q1" / f"v1.{ext}").is_file()
        stored = json.loads((tmp_path / "summaries" / "2022-Q1" / "v1.json").read_text())
        assert stored["trigger"] == "schedule" and stored["created_at"].startswith("2022-04-06T17:30:00")

        for moment in (at(2022, 4, 7, 0, 31), at(2022, 4, 8), at(2022, 7, 6, 23, 59)):
            with time_machine.travel(moment, tick=False):
                assert Scheduler(ctx).tick() == []  # restarts on later days: nothing doubled
        # Down from July 6 to October 20: Q2 and Q3 both ran late, nothing skipped.
        with time_machine.travel(at(2022, 10, 20), tick=False):
            late = Scheduler(ctx).tick()
        assert [(o.period, o.version) for o in late] == [("2022-Q2", 1), ("2022-Q3", 1)]
        with time_machine.travel(at(2022, 10, 21), tick=False):
            assert Scheduler(ctx).tick() == []
        for period in ("2022-Q1", "2022-Q2", "2022-Q3"):
            assert [v["version"] for v in summaries.versions(period)] == [1]
        assert runs.done_periods() == {"2022-Q1", "2022-Q2", "2022-Q3"}
        assert runs.enabled_on() == date(2022, 4, 1)


def test_an_interrupted_run_is_finished_with_its_own_version(store: Store, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    with running_api(store, tmp_path, summary_delay_days=3) as api:
        api.put_platform("zalo", "vng", name="Zalo")
        assert api.post_events(api.vendor("vng"), [session("zalo", "u1", date(2022, 12, 5))]).json()["accepted"] == 1
        ctx = api.services
        with time_machine.travel(at(2022, 12, 1), tick=False):
            Scheduler(ctx).tick()
        # A summary made by hand before the due date is a preview: it does not count as the scheduled one.
        with time_machine.travel(at(2022, 12, 20), tick=False):
            assert Summaries(ctx.store, ctx.registry).generate(parse_period("2022-Q4"), "cli", "cli").version == 1

        def fail(*args: object, **kwargs: object) -> None:
            raise OSError("disk full")

        monkeypatch.setattr(scheduler, "write_files", fail)
        with time_machine.travel(at(2023, 1, 3, 9), tick=False), pytest.raises(OSError, match="disk full"):
            Scheduler(ctx).tick()  # 3 days after 31 December: version 2 stored, its files not written
        monkeypatch.undo()
        with time_machine.travel(at(2023, 1, 3, 9, 5), tick=False):
            outcomes = Scheduler(ctx).tick()
        assert [(o.period, o.version, o.generated) for o in outcomes] == [("2022-Q4", 2, False)]
        assert [(v["version"], v["trigger"]) for v in Summaries(ctx.store, ctx.registry).versions("2022-Q4")] == \
            [(1, "cli"), (2, "schedule")]
        statuses = ctx.store.rows("SELECT toString(status), version FROM summary_runs WHERE period = '2022-Q4' "
                                  "ORDER BY at, status")
        assert statuses == [("started", 0), ("failed", 0), ("started", 0), ("done", 2)]


def test_the_background_thread_checks_and_stops(store: Store, tmp_path: Path) -> None:
    with running_api(store, tmp_path) as api:
        thread = Scheduler(api.services, interval_s=0.05, first_delay_s=0).start()
        try:
            for _ in range(200):
                if SummaryRuns(api.services.store).enabled_on() is not None:
                    break
                time.sleep(0.05)
        finally:
            thread.stop()
        assert SummaryRuns(api.services.store).enabled_on() == datetime.now(VN).date()
        assert thread._thread is not None and not thread._thread.is_alive()


def test_cron_command_is_idempotent(tmp_path: Path) -> None:
    """`vnmeter summary --previous-quarter` in its own process (its own chDB directory)."""
    env = {**os.environ, "VNMETER_DATA_DIR": str(tmp_path), "VNMETER_ADMIN_KEY": "c" * 40}
    command = [sys.executable, "-m", "service.cli", "summary", "--previous-quarter"]
    expected = latest_due_quarter(datetime.now(VN).date(), 7).label
    first = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"vnmeter: summary of {expected} version 1: ")
    assert (tmp_path / "summaries" / expected / "v1.html").is_file()
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert second.returncode == 0, second.stderr
    assert second.stdout == f"vnmeter: the summary of {expected} is already made; nothing to do\n"
    assert not (tmp_path / "summaries" / expected / "v2.html").exists()


def test_claims_let_one_process_run_a_quarter(store: Store) -> None:
    """Two processes checking at once (API replicas, the CronJob): the earliest live claim runs, the other yields."""
    first, second = SummaryRuns(store), SummaryRuns(store)
    winner = first.claim("2022-Q1", "schedule")
    assert winner is not None
    assert second.claim("2022-Q1", "cli") is None  # the first claim is live: yield
    first.record("2022-Q1", "failed", "schedule", detail=f"{winner} OSError: disk full")
    retry = second.claim("2022-Q1", "cli")  # the failed run no longer holds the quarter
    assert retry is not None and retry != winner
    time.sleep(1.2)
    lapsed = first.claim("2022-Q1", "schedule", lease_s=1)  # the retry died without a word: its lease lapsed
    assert lapsed is not None
    second.record("2022-Q1", "done", "schedule", 1, detail=lapsed)
    assert first.claim("2022-Q1", "schedule") is None  # done: never again
    statuses = Counter(row[0] for row in store.rows("SELECT toString(status) FROM summary_runs"))
    assert statuses == {"started": 5, "yielded": 2, "failed": 1, "done": 1}
