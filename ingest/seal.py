"""Sealing: destroy the pseudonym keys of every month before a given month, for good.

The watermark ("months before M are sealed") lives in `service_state`, one row per seal named
`sealed_before/YYYY-MM-DD` (the table keeps one row per name, so two seals at once both stay; the watermark
is the latest month of any row, and never moves back). A seal records its month BEFORE it drops the key
partitions, and `KeyStore` reads the watermark uncached inside every key creation, before and after
inserting its candidate key, so a key created while a seal runs is dropped by the seal or by its creator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from queries.sealing import SEALED_BEFORE, sealed_before
from queries.store import Store


@dataclass(frozen=True)
class Sealed:
    """What a seal did: the months before `sealed_before` are sealed (the later of `requested` and any
    earlier seal); `destroyed_months` are the months whose keys this seal dropped."""

    requested: date
    sealed_before: date
    destroyed_months: list[date]

    def as_dict(self) -> dict[str, str | list[str]]:
        return {"sealed_before": f"{self.sealed_before:%Y-%m}", "requested": f"{self.requested:%Y-%m}",
                "destroyed_months": [f"{month:%Y-%m}" for month in self.destroyed_months]}


def seal(store: Store, before: date) -> Sealed:
    """Seal every month before `before` (a first of month): record it, then drop the keys of every month
    before the watermark (keys left by an interrupted seal included)."""
    watermark = max(before, sealed_before(store))
    store.insert("service_state", [[f"{SEALED_BEFORE}/{before.isoformat()}", before.isoformat(), datetime.now(UTC)]],
                 ["name", "value", "updated_at"], settings=_on_every_replica(store))
    months = [row[0] for row in store.rows(
        "SELECT DISTINCT month FROM pseudonym_keys WHERE month < {m:Date} ORDER BY month", {"m": watermark})]
    destroy_keys(store, months)
    return Sealed(before, sealed_before(store), months)


def destroy_keys(store: Store, months: list[date]) -> None:
    """Drop the key partitions of these months (PARTITION BY toYYYYMM(month); the parts leave the disk within
    seconds, old_parts_lifetime = 1)."""
    for partition in sorted({month.year * 100 + month.month for month in months}):
        store.command(f"ALTER TABLE pseudonym_keys DROP PARTITION {int(partition)}")


def _on_every_replica(store: Store) -> dict[str, int] | None:
    """On a replicated `service_state` (cluster schema), the insert returns only once every replica has the
    row: a key creation that checks the watermark on any node after the seal recorded it then sees it."""
    replicas = store.rows("SELECT max(total_replicas) FROM system.replicas "
                          "WHERE database = currentDatabase() AND table = 'service_state'")
    count = int(replicas[0][0]) if replicas and replicas[0][0] else 0
    return {"insert_quorum": count} if count > 1 else None
