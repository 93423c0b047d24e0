"""Reconciliation: control totals a vendor declares per platform and month (`declared_totals`, migration 0009),
set against the rows that arrived for that month (`ingest_quality`) and the measured MAU (`queries.metrics`).
Definitions: docs/METRICS.md, "Reconciliation".
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from fractions import Fraction
from typing import Any

from queries import metrics
from queries.metrics import load_sql
from queries.periods import Period
from queries.quality import month_label
from queries.registry import Registry
from queries.store import Store

MAX_DECLARED = 10**15
"""Largest declared total accepted (far above any platform's events in a month; fits UInt64)."""


@dataclass(frozen=True)
class Declaration:
    platform: str
    month: date
    events: int | None
    users: int | None
    declared_by: str
    declared_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"platform": self.platform, "month": month_label(self.month), "events": self.events,
                "users": self.users, "declared_by": self.declared_by, "declared_at": _instant(self.declared_at)}


def _instant(moment: datetime) -> str:
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def declare(store: Store, platform: str, month: date, events: int | None, users: int | None,
            declared_by: str) -> Declaration:
    """Store a declaration; it replaces any earlier one of the same platform and month."""
    if events is None and users is None:
        raise ValueError("declare at least one of events and users")
    for name, value in (("events", events), ("users", users)):
        if value is not None and not 0 <= value <= MAX_DECLARED:
            raise ValueError(f"{name}: must be between 0 and {MAX_DECLARED}, got {value}")
    if month.day != 1:
        raise ValueError(f"month: must be the first day of a month, got {month.isoformat()}")
    declaration = Declaration(platform, month, events, users, declared_by, datetime.now(UTC))
    store.insert("declared_totals",
                 [[platform, month, events, users, declared_by, declaration.declared_at, time.time_ns()]],
                 ["platform", "month", "events", "users", "declared_by", "declared_at", "version"])
    return declaration


def _difference(measured: int, declared: int | None) -> dict[str, Any]:
    """measured - declared, and that difference as a share of the declared total (None without one)."""
    if declared is None:
        return {"difference": None, "share": None}
    difference = measured - declared
    return {"difference": difference, "share": float(Fraction(difference, declared)) if declared else None}


def measured_mau(store: Store, registry: Registry, period: Period) -> dict[tuple[str, date], int]:
    """mau(m) of every platform and month of `period` that has one, as the metrics define it."""
    figures = metrics.all_figures(store, registry, [period], exact=True).of(period)  # every month counted first
    return {(platform, month): mau for platform, found in figures.items() for month, mau in found.mau_by_month}


def reconciliation(store: Store, registry: Registry, period: Period, platforms: Iterable[str]) -> dict[str, Any]:
    """The body of GET /v1/reconciliation: every declaration of `platforms` for the months of `period`, against
    the rows that arrived with a `ts` in that month and against the month's measured MAU."""
    wanted = sorted(platforms)
    rows = store.rows(load_sql("reconciliation"), {"first_month": period.start, "last_month": period.months[-1],
                                                   "platforms": wanted})
    mau = measured_mau(store, registry, period) if rows else {}
    registered = registry.platforms()
    items = []
    for platform, month, events, users, declared_by, declared_at, accepted, duplicates, rejected in rows:
        accepted, duplicates, rejected = int(accepted), int(duplicates), int(rejected)
        received = accepted + duplicates + rejected
        against_accepted = _difference(accepted, events)
        month_mau = mau.get((platform, month), 0)
        owner = registered.get(platform)
        items.append({
            "platform": platform, "vendor": owner.vendor if owner else None, "month": month_label(month),
            "declared_by": declared_by, "declared_at": _instant(declared_at),
            "events": {"declared": events, "received": received, "accepted": accepted, "duplicates": duplicates,
                       "rejected": rejected, **_difference(received, events),
                       "accepted_difference": against_accepted["difference"],
                       "accepted_share": against_accepted["share"]},
            "users": {"declared": users, "measured_mau": month_mau, **_difference(month_mau, users)},
        })
    return {"period": period.label, "items": items}
