"""Reporting periods: parsing, bounds, months, day counts, the period before and the year before."""

from __future__ import annotations

from datetime import date

import pytest

from queries.periods import ACCEPTED_FORMS, Period, parse_period, period_of_kind, period_starting


@pytest.mark.parametrize(("text", "label", "kind", "start", "end", "n", "months"), [
    ("2022-03", "2022-03", "month", date(2022, 3, 1), date(2022, 3, 31), 31, [date(2022, 3, 1)]),
    ("2022-02", "2022-02", "month", date(2022, 2, 1), date(2022, 2, 28), 28, [date(2022, 2, 1)]),
    ("2024-02", "2024-02", "month", date(2024, 2, 1), date(2024, 2, 29), 29, [date(2024, 2, 1)]),  # leap year
    # 31 + 28 + 31 = 90 days
    ("2022-Q1", "2022-Q1", "quarter", date(2022, 1, 1), date(2022, 3, 31), 90,
     [date(2022, 1, 1), date(2022, 2, 1), date(2022, 3, 1)]),
    # 31 + 30 + 31 = 92 days
    ("2021-Q4", "2021-Q4", "quarter", date(2021, 10, 1), date(2021, 12, 31), 92,
     [date(2021, 10, 1), date(2021, 11, 1), date(2021, 12, 1)]),
    ("2022-q2", "2022-Q2", "quarter", date(2022, 4, 1), date(2022, 6, 30), 91,
     [date(2022, 4, 1), date(2022, 5, 1), date(2022, 6, 1)]),
    # 31 + 28 + 31 + 30 + 31 + 30 = 181 days
    ("2022-H1", "2022-H1", "half", date(2022, 1, 1), date(2022, 6, 30), 181,
     [date(2022, m, 1) for m in range(1, 7)]),
    ("2021-H2", "2021-H2", "half", date(2021, 7, 1), date(2021, 12, 31), 184,
     [date(2021, m, 1) for m in range(7, 13)]),
    ("2022", "2022", "year", date(2022, 1, 1), date(2022, 12, 31), 365, [date(2022, m, 1) for m in range(1, 13)]),
    ("2020", "2020", "year", date(2020, 1, 1), date(2020, 12, 31), 366, [date(2020, m, 1) for m in range(1, 13)]),
])
def test_parse(text: str, label: str, kind: str, start: date, end: date, n: int, months: list[date]) -> None:
    period = parse_period(text)
    assert (period.label, period.kind, period.start, period.end, period.n) == (label, kind, start, end, n)
    assert period.months == months
    assert period.k == len(months)
    assert period.days[0] == start and period.days[-1] == end and len(period.days) == n
    assert str(period) == label


@pytest.mark.parametrize(("text", "previous", "year_before"), [
    ("2022-Q1", "2021-Q4", "2021-Q1"),
    ("2022-Q3", "2022-Q2", "2021-Q3"),
    ("2022-03", "2022-02", "2021-03"),
    ("2022-01", "2021-12", "2021-01"),
    ("2022-H1", "2021-H2", "2021-H1"),
    ("2022-H2", "2022-H1", "2021-H2"),
    ("2022", "2021", "2021"),
])
def test_previous_and_year_before(text: str, previous: str, year_before: str) -> None:
    period = parse_period(text)
    assert period.previous() == parse_period(previous)
    assert period.year_before() == parse_period(year_before)
    assert period.previous().end.toordinal() + 1 == period.start.toordinal()  # adjacent, no gap


@pytest.mark.parametrize("text", [
    "", "2022-13", "2022-00", "2022-Q0", "2022-Q5", "2022-H0", "2022-H3", "22-Q1", "2022Q1", "2022-1",
    "2022-001", "1999", "2101-01", " 2022", "2022-Q1 ", "2022-W01", "2022-03-01", "٢٠٢٢",
])
def test_invalid_names_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_period(text)
    assert ACCEPTED_FORMS in str(caught.value)
    assert "YYYY-MM, YYYY-Qn" in str(caught.value) and "YYYY-Hn" in str(caught.value)


def test_helpers() -> None:
    assert period_of_kind("quarter", 2022, 4) == Period("2022-Q4", "quarter", date(2022, 10, 1), date(2022, 12, 31))
    assert period_of_kind("year", 2021) == parse_period("2021")
    assert period_starting("half", date(2022, 7, 1)).label == "2022-H2"
    with pytest.raises(ValueError):
        period_starting("quarter", date(2022, 2, 1))  # February does not begin a quarter
    with pytest.raises(ValueError):
        period_of_kind("week", 2022, 1)
    period = parse_period("2022-Q1")
    assert (period.start, period.end) == (date(2022, 1, 1), date(2022, 3, 31))
    assert hash(period) == hash(parse_period("2022-Q1"))
