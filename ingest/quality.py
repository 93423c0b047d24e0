"""What became of each row a vendor sent, as rows of `ingest_quality` (migration 0008): counted by the writer
for every request, per platform, arrival day, event month, outcome, rejection reason and lateness.

The writer inserts a group's counts beside its events under the same journal entry, so the counts are as
exact as the events: never sampled, never lost or doubled by a crash.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import msgspec

QUALITY_TABLE = "ingest_quality"
QUALITY_FORMAT = "JSONCompactEachRow"
QUALITY_COLUMNS = ("vendor", "platform", "day", "event_month", "outcome", "reason", "lateness", "token", "events")
UNKNOWN_MONTH = date(1970, 1, 1)
"""`event_month` of a rejected row whose `ts` could not be read."""

HOUR_US = 3_600_000_000
# (upper bound of arrival time minus event time, in microseconds; bucket). An event stamped up to
# FUTURE_TOLERANCE after arrival is "under an hour" late.
LATENESS = ((HOUR_US, "lt_1h"), (24 * HOUR_US, "lt_1d"), (7 * 24 * HOUR_US, "lt_7d"))
OLDER = "older"

_encode = msgspec.json.Encoder().encode


def lateness(arrival_us: int, ts_us: int) -> str:
    """The bucket of arrival time minus event time."""
    late = arrival_us - ts_us
    for bound, bucket in LATENESS:
        if late < bound:
            return bucket
    return OLDER


def lateness_of(arrival_us: int, instants_us: Sequence[int]) -> list[str]:
    """`lateness` of each instant; one bucket for all when the earliest and the latest share it (the bucket only
    moves one way as the instant does)."""
    if not instants_us:
        return []
    first, last = lateness(arrival_us, max(instants_us)), lateness(arrival_us, min(instants_us))
    if first == last:
        return [first] * len(instants_us)
    return [lateness(arrival_us, ts_us) for ts_us in instants_us]


@dataclass
class Tally:
    """One request's counts: `vendor`, arrival `day`, and its rows by outcome.

    accepted:  (platform, event month, lateness) -> rows stored
    duplicate: (platform, event month) -> rows already stored (retries)
    rejected:  (platform or '', event month, reason) -> rows refused
    """

    vendor: str
    day: date
    accepted: Counter[tuple[str, date, str]] = field(default_factory=Counter)
    duplicate: Counter[tuple[str, date]] = field(default_factory=Counter)
    rejected: Counter[tuple[str, date, str]] = field(default_factory=Counter)

    def lines(self, token: str) -> Iterable[bytes]:
        """The tally as JSONCompactEachRow lines of `ingest_quality` (QUALITY_COLUMNS), marked with the journal
        `token` of the insert group that counts them."""
        vendor, day = self.vendor, self.day.isoformat()
        for (platform, month, late), n in self.accepted.items():
            yield _encode((vendor, platform, day, month.isoformat(), "accepted", "", late, token, n))
        for (platform, month), n in self.duplicate.items():
            yield _encode((vendor, platform, day, month.isoformat(), "duplicate", "", "", token, n))
        for (platform, month, reason), n in self.rejected.items():
            yield _encode((vendor, platform, day, month.isoformat(), "rejected", reason, "", token, n))


def block(tallies: Iterable[Tally], token: str) -> bytes:
    """The `ingest_quality` insert block of a group's requests, whose journal entry is `token`."""
    return b"\n".join(line for tally in tallies for line in tally.lines(token))
