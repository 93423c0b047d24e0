"""The data-quality view (GET /v1/quality): what became of the rows each vendor sent, per platform and arrival
day, from the counts the ingestion path keeps in `ingest_quality` (definitions: docs/METRICS.md, "Data quality").
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from queries.metrics import load_sql
from queries.periods import Period
from queries.store import Store

OUTCOMES = ("accepted", "duplicate", "rejected")
LATENESS = ("lt_1h", "lt_1d", "lt_7d", "older")
"""Buckets of an accepted row's arrival time minus its `ts`: under 1 hour, under 1 day, under 7 days, older."""


def _counts() -> dict[str, Any]:
    return {"received": 0, "accepted": 0, "duplicates": 0, "rejected": 0, "rejected_by_reason": {},
            "lateness": dict.fromkeys(LATENESS, 0)}


def _add(counts: dict[str, Any], outcome: str, reason: str, lateness: str, rows: int) -> None:
    counts["received"] += rows
    if outcome == "accepted":
        counts["accepted"] += rows
        if lateness:
            counts["lateness"][lateness] += rows
    elif outcome == "duplicate":
        counts["duplicates"] += rows
    else:
        counts["rejected"] += rows
        by_reason = counts["rejected_by_reason"]
        by_reason[reason] = by_reason.get(reason, 0) + rows


def month_label(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def quality(store: Store, period: Period, sealed_before: date, vendor: str | None = None,
            platform: str | None = None) -> dict[str, Any]:
    """The body of GET /v1/quality: rows received per vendor, platform and arrival day of `period`, by outcome,
    rejection reason and lateness, their totals over the period, and which of the period's months are sealed.

    `vendor` None reads every vendor (analyst and admin keys); a vendor key passes its own vendor.
    `platform` None reads every platform; rows whose platform was not the vendor's own (unknown, another
    vendor's, unreadable) have platform None. `sealed_before` is the first month still open (date.min: none
    sealed).
    """
    if vendor == "" or platform == "":
        raise ValueError("vendor and platform must be None (all) or an id, not ''")
    rows = store.rows(load_sql("quality"), {"first_day": period.start, "last_day": period.end,
                                            "vendor": vendor or "", "platform": platform or ""})
    days: dict[tuple[str, str, date], dict[str, Any]] = defaultdict(_counts)
    totals: dict[tuple[str, str], dict[str, Any]] = defaultdict(_counts)
    for row_vendor, row_platform, day, outcome, reason, lateness, count in rows:
        _add(days[(row_vendor, row_platform, day)], outcome, reason, lateness, int(count))
        _add(totals[(row_vendor, row_platform)], outcome, reason, lateness, int(count))
    return {
        "period": period.label,
        "sealed_before": month_label(sealed_before) if sealed_before > date.min else None,
        "months": [{"month": month_label(month), "sealed": month < sealed_before} for month in period.months],
        "items": [{"vendor": v, "platform": p or None, "day": day.isoformat(), **counts}
                  for (v, p, day), counts in days.items()],
        "totals": [{"vendor": v, "platform": p or None, **counts} for (v, p), counts in totals.items()],
    }
