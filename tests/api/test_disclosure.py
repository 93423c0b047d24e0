"""Disclosure control of the breakdown tables (docs/DISCLOSURE.md), attacked as an analyst would.

For a platform, dimension and year, the analyst collects every published table (12 months, 4 quarters, 2
halves, the year; JSON or CSV), the shares and the platform's monthly users, and computes with a linear
programming solver (tests/attacker.py, scipy's HiGHS) the range of every hidden cell. Every hidden cell with
fewer than k users in each month of its period (a primary cell) must keep at least [S - p, S + p]
user-months (p = k) within what the monthly users alone allow, and no hidden cell may be worked out exactly.
The analyst assumes the values' users add up exactly to the month's users when every user has one value
(the strongest relation), and at least to it otherwise (and tries the equality then too, when it fits).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queries.disclosure import YearCells, protect, year_periods
from queries.figures import Breakdown, breakdown_cells
from queries.periods import parse_period
from queries.present import breakdown_json
from tests.attacker import TOLERANCE, Attack, Published, hidden_cells
from tests.factories import ADMIN, Api, api_on_fresh_store


def is_primary(monthly: Sequence[int], label: str, threshold: int) -> bool:
    period = parse_period(label)
    counts = [monthly[m] for m in range(period.start.month - 1, period.start.month - 1 + period.k)]
    return sum(counts) > 0 and max(counts) < threshold


def check_protection(published: Published, truth: Mapping[str, Sequence[int]], threshold: int,
                     single_valued: bool) -> int:
    """Assert the protection of every hidden cell; returns how many primary cells were checked."""
    checked = 0
    for equality in ((True,) if single_valued else (False, True)):
        attack = Attack(published, equality)
        if not attack.feasible():
            assert not single_valued, "the true cells must satisfy the analyst's system"
            continue  # the analyst sees that the values' users do not add up to the totals exactly
        baseline = Attack(published.all_hidden(), equality)
        for key, label in hidden_cells(published):
            period = parse_period(label)
            value = sum(truth[key][m] for m in range(period.start.month - 1, period.start.month - 1 + period.k))
            if value == 0:
                continue
            low, high = attack.range(key, label)
            base_low, base_high = baseline.range(key, label)
            # a single figure other than the truth is no disclosure: it comes only from assuming exact sums where
            # users have several values, and it is wrong
            assert high - low > TOLERANCE or base_high - base_low <= TOLERANCE or abs(low - value) > TOLERANCE, (
                f"{label} {key!r}: hidden cell of {value} user-months worked out exactly")
            if is_primary(truth[key], label, threshold):
                need_low = max(value - threshold, base_low, 1)
                need_high = min(value + threshold, base_high)
                assert low <= need_low + TOLERANCE and high >= need_high - TOLERANCE, (
                    f"{label} {key!r} ({'=' if equality else '>='} totals): {value} user-months narrowed to "
                    f"[{low:g}, {high:g}], protection interval [{need_low:g}, {need_high:g}]")
                checked += 1
    return checked


def publish(data: YearCells, threshold: int) -> Published:
    hidden = protect(data, threshold, threshold)
    return Published(data.year, data.totals, {
        period.label: breakdown_json(Breakdown("p", period, "os", breakdown_cells(data, hidden, period)))["items"]
        for period in year_periods(data.year)})


# -- the attacks, by hand --------------------------------------------------------------------------------
def one_month(cells: dict[str, int], month: int = 3, total: int | None = None) -> YearCells:
    rows = {key: tuple(users if m == month - 1 else 0 for m in range(12)) for key, users in cells.items()}
    totals = tuple((sum(cells.values()) if total is None else total) if m == month - 1 else 0 for m in range(12))
    return YearCells(2022, rows, totals)


def test_a_hidden_cell_is_not_the_total_minus_the_shown_ones() -> None:
    # 83 users in March: android 50, ios 30, other 3. Hiding only "other" lets 83 - 50 - 30 = 3 through; the
    # next smallest value, ios, is hidden with it: ios + other = 83 - 50 = 33, so other is anything from 1
    # (it is listed) to 32 (ios is listed too), which holds [1, 3 + 10].
    data = one_month({"android": 50, "ios": 30, "other": 3})
    published = publish(data, 10)
    march = {item["key"]: item for item in published.tables["2022-03"]}
    assert march["android"] == {"key": "android", "mau_avg": 50.0, "share": 50 / 83, "suppressed": False}
    assert march["ios"]["suppressed"] and march["other"]["suppressed"]
    # the share of the shown cell gives the total (0.6024 = 50/83), which /metrics publishes anyway
    assert round(march["android"]["share"], 4) == 0.6024
    assert Attack(published, equality=True).range("other", "2022-03") == pytest.approx((1, 32))
    assert check_protection(published, data.cells, 10, single_valued=True) > 0


def test_a_hidden_month_is_not_the_quarter_minus_the_shown_months() -> None:
    # VN-HN has 20, 3 and 20 users in Q1: the quarter's 43/3 minus January and March would give February's 3.
    # VN-HN is hidden in every table of 2022 (3 < 10 in February), and VN-DN (the smaller of the others)
    # with it, so February's cell can be anything from 0 to 3 + 50.
    cells = {"VN-HN": (20, 3, 20), "VN-SG": (100, 100, 100), "VN-DN": (40, 50, 60)}
    data = YearCells(2022, {k: (*v, *[0] * 9) for k, v in cells.items()}, (160, 153, 180, *[0] * 9))
    assert protect(data, 10, 10) == {"VN-HN", "VN-DN"}
    published = publish(data, 10)
    for label in ("2022-01", "2022-02", "2022-03", "2022-Q1", "2022-H1", "2022"):
        shown = {item["key"] for item in published.tables[label] if not item["suppressed"]}
        assert shown == {"VN-SG"}, label
    assert Attack(published, equality=True).range("VN-HN", "2022-02") == pytest.approx((0, 53))
    assert check_protection(published, data.cells, 10, single_valued=True) > 0


def test_two_small_values_are_not_enough_to_hide_each_other() -> None:
    # 2 and 4 users hidden together: 6 = 2 + 4 would bound the 2 by 6 (< 2 + 10): the largest value is
    # hidden too, and everything is then only what the monthly total says.
    data = one_month({"a": 2, "b": 4, "c": 60})
    assert protect(data, 10, 10) == {"a", "b", "c"}
    assert check_protection(publish(data, 10), data.cells, 10, single_valued=True) > 0


def test_the_lone_user_of_a_month_is_never_pinned_to_its_value() -> None:
    # April has one user, with no os; the other value shows 0 in April. Hiding only '' leaves its April
    # cell at 1 - 0 = 1 exactly (the protection interval [max(1 - 3, 1), min(1 + 3, 1)] is a single
    # figure): v2 is hidden as well, and April's cell is then anything from 0 to 1.
    data = YearCells(2022, {"": (0, 0, 3, 1, *[0] * 8), "v2": (0, 0, 3, *[0] * 9)}, (0, 0, 3, 1, *[0] * 8))
    assert protect(data, 3, 3) == {"", "v2"}
    published = publish(data, 3)
    assert Attack(published, equality=True).range("", "2022-04") == pytest.approx((0, 1))
    for single_valued in (True, False):
        check_protection(published, data.cells, 3, single_valued)


def test_a_wrong_figure_from_a_wrong_assumption_is_no_disclosure() -> None:
    # Users have several values (February: 3 users, '' 3 and v3 3). An analyst who assumes exact sums works
    # February's v3 out as 3 - 3 = 0: a single figure, but not the true 3.
    data = YearCells(2022, {"": (0, 3, 0, *[0] * 9), "v2": (0, 0, 2, *[0] * 9), "v3": (0, 3, 4, *[0] * 9)},
                     (0, 3, 6, *[0] * 9))
    assert protect(data, 3, 3) == {"v2", "v3"}
    published = publish(data, 3)
    assert Attack(published, equality=True).range("v3", "2022-02") == pytest.approx((0, 0))
    assert Attack(published, equality=False).range("v3", "2022-02") == pytest.approx((0, 3))
    assert check_protection(published, data.cells, 3, single_valued=False) > 0


def test_nothing_is_hidden_when_every_cell_is_large_enough() -> None:
    data = YearCells(2022, {"a": (10, 0, 12, *[0] * 9), "b": (50, 60, 0, *[0] * 9)}, (60, 60, 12, *[0] * 9))
    assert protect(data, 10, 10) == frozenset()


# -- random years -------------------------------------------------------------------------------------------
@st.composite
def years(draw: st.DrawFn) -> tuple[YearCells, int, bool]:
    threshold = draw(st.sampled_from([3, 5, 10]))
    months = draw(st.lists(st.integers(0, 11), min_size=1, max_size=4, unique=True))
    keys = draw(st.integers(1, 5))
    users = st.one_of(st.integers(0, 3), st.integers(0, 2 * threshold), st.integers(threshold, 12 * threshold))
    cells: dict[str, tuple[int, ...]] = {}
    for n in range(keys):
        row = [draw(users) if m in months else 0 for m in range(12)]
        if any(row):
            cells["" if n == 0 else f"v{n}"] = tuple(row)
    if not cells:
        cells["v1"] = tuple(1 if m == months[0] else 0 for m in range(12))
    single_valued = draw(st.booleans())
    totals = []
    for m in range(12):
        column = [row[m] for row in cells.values()]
        # with users of several values, the month's users are between its largest cell and the cells' sum
        totals.append(sum(column) if single_valued or not any(column) else draw(st.integers(max(column),
                                                                                            sum(column))))
    return YearCells(2022, cells, tuple(totals)), threshold, single_valued


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(years())
def test_random_years_resist_the_linear_programming_attack(year: tuple[YearCells, int, bool]) -> None:
    data, threshold, single_valued = year
    check_protection(publish(data, threshold), data.cells, threshold, single_valued)


# -- through the API: JSON and CSV ---------------------------------------------------------------------------------
# p83 (os): March 2022 android 50, ios 30, no os 3 users. pq (province): VN-HN 20/3/20, VN-SG 100 each month,
# VN-DN 40/50/60 in January to March 2022. Every user has one value.
OS_MARCH = {"android": 50, "ios": 30, None: 3}
PROVINCES_Q1 = {"VN-HN": (20, 3, 20), "VN-SG": (100, 100, 100), "VN-DN": (40, 50, 60)}


def sessions(platform: str, month: int, count: int, prefix: str, **fields: Any) -> list[dict[str, Any]]:
    return [{"event_id": str(uuid.uuid4()), "platform": platform, "user": f"{prefix}-{month}-{n}",
             "ts": f"2022-{month:02d}-{1 + n % 28:02d}T10:00:00+07:00", "duration_s": 60, "bytes": 1000, **fields}
            for n in range(count)]


@pytest.fixture(scope="module")
def api(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with api_on_fresh_store(chdb_dir, tmp_path_factory.mktemp("disclosure")) as api:
        api.put_platform("p83", "v83")
        api.put_platform("pq", "vq")
        rows = []
        for os_name, count in OS_MARCH.items():
            rows += sessions("p83", 3, count, f"os-{os_name}", **({"os": os_name} if os_name else {}))
        response = api.post_events(api.vendor("v83"), rows, gzipped=True)
        assert response.json()["accepted"] == len(rows), response.text
        rows = [row for province, counts in PROVINCES_Q1.items() for month, count in enumerate(counts, start=1)
                for row in sessions("pq", month, count, province, province=province)]
        response = api.post_events(api.vendor("vq"), rows, gzipped=True)
        assert response.json()["accepted"] == len(rows), response.text
        yield api


def collect(api: Api, platform: str, by: str, csv_format: bool) -> Published:
    """Every table of 2022 and the monthly users, as an analyst downloads them."""
    tables = {}
    for period in year_periods(2022):
        params = {"period": period.label, "by": by, **({"format": "csv"} if csv_format else {})}
        response = api.client.get(f"/v1/platforms/{platform}/breakdown", params=params, headers=ADMIN)
        assert response.status_code == 200, response.text
        if csv_format:
            tables[period.label] = [
                {"key": row["key"] or None, "mau_avg": float(row["mau_avg"]) if row["mau_avg"] else None,
                 "share": float(row["share"]) if row["share"] else None, "suppressed": row["suppressed"] == "true"}
                for row in csv.DictReader(io.StringIO(response.text))]
        else:
            tables[period.label] = response.json()["items"]
    metrics = api.client.get(f"/v1/platforms/{platform}/metrics", params={"period": "2022"}, headers=ADMIN).json()
    return Published(2022, [row["mau"] for row in metrics["mau_by_month"]], tables)


def truth(monthly: Mapping[Any, Sequence[int]], first_month: int) -> dict[str, list[int]]:
    return {(key or ""): [0] * (first_month - 1) + list(counts) + [0] * (13 - first_month - len(counts))
            for key, counts in monthly.items()}


@pytest.mark.parametrize("csv_format", [False, True], ids=["json", "csv"])
def test_published_tables_resist_the_attacks(api: Api, csv_format: bool) -> None:
    published = collect(api, "p83", "os", csv_format)
    assert published.tables["2022-03"][0] == {"key": "android", "mau_avg": 50.0, "share": 50 / 83,
                                              "suppressed": False}
    assert [item["suppressed"] for item in published.tables["2022-03"]] == [False, True, True]
    assert check_protection(published, truth({k: (v,) for k, v in OS_MARCH.items()}, 3), 10, True) > 0

    published = collect(api, "pq", "province", csv_format)
    quarter = published.tables["2022-Q1"]
    assert quarter[0] == {"key": "VN-SG", "mau_avg": 100.0, "share": 300 / 493, "suppressed": False}
    assert [(item["key"], item["suppressed"]) for item in quarter[1:]] == [("VN-DN", True), ("VN-HN", True)]
    assert check_protection(published, truth(PROVINCES_Q1, 1), 10, True) > 0


def test_month_and_quarter_tables_hide_the_same_values(api: Api) -> None:
    published = collect(api, "pq", "province", csv_format=False)
    for label, items in published.tables.items():
        assert {item["key"] for item in items if item["suppressed"]} == {"VN-HN", "VN-DN"}, label


def test_the_summarys_tables_are_the_protected_ones(api: Api) -> None:
    created = api.client.post("/v1/summaries/2022-Q1", headers=ADMIN)
    assert created.status_code == 201, created.text
    figures = api.client.get("/v1/summaries/2022-Q1", headers=ADMIN).json()["figures"]
    tables = {table["platform"]: table["items"] for table in figures["os"]}
    published = collect(api, "p83", "os", csv_format=False)
    assert tables["p83"] == published.tables["2022-Q1"]
    # the analyst combines the summary's table with every table of the API
    summary_and_api = Published(2022, published.totals, {**published.tables, "2022-Q1": tables["p83"]})
    assert check_protection(summary_and_api, truth({k: (v,) for k, v in OS_MARCH.items()}, 3), 10, True) > 0
    markdown = api.client.get("/v1/summaries/2022-Q1", params={"format": "md"}, headers=ADMIN).text
    # p83's row: android 50 users in March = 50/3 a month in Q1 (17 rounded), ios and no-os hidden
    assert "| Test platform | 17 | x | x |" in markdown
