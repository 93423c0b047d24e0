"""The whole-request shortcuts of the pipeline's steps give each row what its per-row rule gives it: the local day
and month of a request's instants (against zoneinfo itself, in a zone with daylight saving time as well), and
their lateness buckets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.limits import EARLIEST_TS
from ingest.quality import HOUR_US, lateness, lateness_of
from ingest.vntime import Calendar

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NOW = datetime(2026, 12, 4, tzinfo=UTC)
CALENDARS = {name: Calendar(ZoneInfo(name), NOW) for name in ("Asia/Ho_Chi_Minh", "Europe/Berlin")}
FIRST_US = (EARLIEST_TS - EPOCH) // timedelta(microseconds=1)
LAST_US = (datetime(2028, 12, 31, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
# instants clustered around a few points (a request's events are usually close together) or anywhere in range
around = st.sampled_from([FIRST_US, (datetime(2022, 3, 27, 1, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1),
                          (datetime(2022, 1, 31, 17, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)])
instant = st.one_of(st.integers(FIRST_US, LAST_US),
                    st.builds(lambda base, step: min(max(base + step, FIRST_US), LAST_US), around,
                              st.integers(-3 * 3_600_000_000, 3 * 3_600_000_000)))


def local_date(zone: str, ts_us: int) -> date:
    return (EPOCH + timedelta(microseconds=ts_us)).astimezone(ZoneInfo(zone)).date()


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(CALENDARS)), st.lists(instant, min_size=1, max_size=50))
def test_days_and_months_of_a_request_are_each_instants_own(zone: str, instants: list[int]) -> None:
    calendar = CALENDARS[zone]
    days = calendar.days(instants)
    assert [calendar.date_of(day) for day in days] == [local_date(zone, ts_us) for ts_us in instants]
    assert calendar.months(days) == [local_date(zone, ts_us).replace(day=1) for ts_us in instants]


def test_instants_across_a_change_of_offset_take_each_their_own() -> None:
    """Berlin moved from +01:00 to +02:00 at 2022-03-27 01:00 UTC: 23:30 UTC the day before is still the 26th
    there, 22:30 UTC on the 27th is already the 28th."""
    calendar = CALENDARS["Europe/Berlin"]
    before = (datetime(2022, 3, 26, 22, 30, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
    after = (datetime(2022, 3, 27, 22, 30, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
    assert [calendar.date_of(day) for day in calendar.days([before, after])] == [date(2022, 3, 26), date(2022, 3, 28)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(-2 * 24 * HOUR_US, 10 * 24 * HOUR_US), min_size=1, max_size=50))
def test_lateness_of_a_request_is_each_rows_own(late_by: list[int]) -> None:
    arrival = 2_000_000_000_000_000
    instants = [arrival - late for late in late_by]
    assert lateness_of(arrival, instants) == [lateness(arrival, ts_us) for ts_us in instants]


def test_empty_columns_stay_empty() -> None:
    calendar = CALENDARS["Asia/Ho_Chi_Minh"]
    assert (calendar.days([]), calendar.months([]), lateness_of(0, [])) == ([], [], [])
