"""Operator checks of a store, shared by the `vnmeter verify` / `vnmeter doctor` commands and the admin API:
rollups against raw events for a period, and what start-up would need to know (journal, quarantine, schema)."""

from __future__ import annotations

from typing import Any

from ingest.journal import TableJournal
from queries import consistency
from queries.periods import Period
from service.context import Services


def verify(ctx: Services, period: Period, repair: bool) -> dict[str, Any]:
    """Compare every rollup with the raw events over the months of `period`; with `repair`, rebuild what
    differs (the writer paused meanwhile) and compare again."""
    months = list(period.months)
    found = consistency.differences(ctx.store, months)
    answer: dict[str, Any] = {"period": period.label, "differences": [str(d) for d in found], "repaired": []}
    if repair and found:
        if ctx.settings.cluster:
            raise ValueError("repair: a cluster's rollups are rebuilt shard by shard; run `vnmeter verify "
                             "--repair` against each shard's single-node schema")
        with ctx.writer.paused():
            answer["repaired"] = consistency.repair(ctx.store, months)
        answer["differences_after_repair"] = [str(d) for d in consistency.differences(ctx.store, months)]
    return answer


def doctor(ctx: Services) -> dict[str, Any]:
    """What an operator should know of this store: schema level, unfinished and quarantined inserts."""
    journals = [ctx.writer.journal] if isinstance(ctx.writer.journal, TableJournal) else [
        TableJournal(ctx.store), ctx.writer.journal]
    quarantined = [q for journal in journals for q in journal.quarantined()]
    schema = ctx.store.rows("SELECT max(version) FROM schema_migrations")[0][0]
    return {
        "store": ctx.store.describe(),
        "schema_version": int(schema),
        "journal_pending": sum(len(journal.pending()) for journal in journals),
        "quarantined": [{"token": q.token, "bytes": q.bytes, "at": q.at.isoformat(timespec="seconds"),
                         "error": q.error.strip().splitlines()[0][:300] if q.error.strip() else ""}
                        for q in quarantined],
    }
