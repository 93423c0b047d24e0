"""An analyst attacking the breakdown tables with a linear-programming solver (scipy's HiGHS).

From everything published about one platform, dimension and year (every table of the year as it was
answered, with its shown values and shares; the list of values, meaning each has a user in the year; the
platform's monthly users), build the linear system an analyst could write about the unknown monthly cells and
compute, for each hidden cell of each table, the lowest and highest value it can take. Nothing here uses
the service's own disclosure code: only the published numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linprog

from queries.periods import Period, parse_period

TOLERANCE = 1e-6


@dataclass(frozen=True)
class Published:
    """One platform and dimension over one year, as an analyst collects it."""

    year: int
    totals: Sequence[int]  # mau(m) of the 12 months, from /metrics
    tables: Mapping[str, Sequence[Mapping[str, Any]]]  # period label -> the table's items

    def all_hidden(self) -> Published:
        """The same year with every cell hidden: what the totals and the list of values alone say."""
        return Published(self.year, self.totals, {
            label: [{"key": item["key"], "mau_avg": None, "share": None, "suppressed": True} for item in items]
            for label, items in self.tables.items()})


def _slots(period: Period) -> range:
    return range(period.start.month - 1, period.start.month - 1 + period.k)


def _exact(value: float, what: str) -> int:
    rounded = round(value)
    assert abs(value - rounded) < TOLERANCE, f"{what}: {value} is not a whole number of user-months"
    return rounded


class Attack:
    """The analyst's system: unknowns x[value, month] for the months with users."""

    def __init__(self, published: Published, equality: bool):
        self.published = published
        self.keys = sorted({item["key"] or "" for items in published.tables.values() for item in items})
        self.months = [m for m in range(12) if published.totals[m] > 0]
        self.index = {(key, m): i for i, (key, m) in enumerate((k, m) for k in self.keys for m in self.months)}
        rows_eq: list[np.ndarray] = []
        rhs_eq: list[float] = []
        rows_le: list[np.ndarray] = []
        rhs_le: list[float] = []
        for label, items in published.tables.items():
            period = parse_period(label)
            period_total = sum(published.totals[m] for m in _slots(period))
            for item in items:
                key = item["key"] or ""
                if item["suppressed"]:
                    rows_le.append(-self.row(key, range(12)))  # listed: at least one user-month in the year
                    rhs_le.append(-1)
                    continue
                rows_eq.append(self.row(key, _slots(period)))
                rhs_eq.append(_exact(item["mau_avg"] * period.k, f"{label} {key} mau_avg"))
                if item["share"] is not None:  # the share gives the same cell again through the total
                    rows_eq.append(self.row(key, _slots(period)))
                    rhs_eq.append(_exact(item["share"] * period_total, f"{label} {key} share"))
        for m in self.months:  # the values' users add up to (at least) the month's users
            row = np.zeros(len(self.index))
            for key in self.keys:
                row[self.index[(key, m)]] = 1
            if equality:
                rows_eq.append(row)
                rhs_eq.append(published.totals[m])
            else:
                rows_le.append(-row)
                rhs_le.append(-published.totals[m])
        self.a_eq = np.array(rows_eq) if rows_eq else None
        self.b_eq = np.array(rhs_eq) if rhs_eq else None
        self.a_le = np.array(rows_le) if rows_le else None
        self.b_le = np.array(rhs_le) if rhs_le else None
        self.bounds = [(0, published.totals[m]) for _ in self.keys for m in self.months]

    def row(self, key: str, months: Sequence[int] | range) -> np.ndarray:
        row = np.zeros(len(self.index))
        for m in months:
            if (key, m) in self.index:
                row[self.index[(key, m)]] = 1
        return row

    def _solve(self, objective: np.ndarray) -> float | None:
        if not len(objective):
            return 0.0
        result = linprog(objective, A_ub=self.a_le, b_ub=self.b_le, A_eq=self.a_eq, b_eq=self.b_eq,
                         bounds=self.bounds, method="highs")
        return float(result.fun) if result.status == 0 else None

    def feasible(self) -> bool:
        return self._solve(np.zeros(len(self.index))) is not None

    def range(self, key: str, label: str) -> tuple[float, float]:
        """The lowest and highest user-months of `key` in the period `label`."""
        objective = self.row(key, _slots(parse_period(label)))
        low, high = self._solve(objective), self._solve(-objective)
        assert low is not None and high is not None, "the analyst's system has no solution"
        return low, -high


def hidden_cells(published: Published) -> list[tuple[str, str]]:
    """(value, period label) of every suppressed cell."""
    return [(item["key"] or "", label) for label, items in published.tables.items() for item in items
            if item["suppressed"]]
