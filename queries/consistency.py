"""The rollups against the raw events they are made from, month by month: `differences` lists where they
disagree, `repair` rebuilds what disagrees.

Each rollup is defined once, by its materialized view on `events` (migrations 0003, 0004, 0007). Both
functions read that definition from ClickHouse (`system.tables.as_select`) and run it over the raw events of
the months asked for: `differences` compares its figures (counts of the uniqExact states, sums of the
counters) with the rollup's, and `repair` rebuilds the rollup's partitions from it. The raw events themselves
are checked for repeats of one (platform, event_id), which `repair` removes first.

`repair` replaces whole partitions: it must run while nothing is inserted (at start-up before the writer
starts, or with the writer paused). Only the single-server schema is repaired; on a cluster each shard holds
its own rollups and `differences` reads them through the Distributed tables.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from queries.store import Store

SOURCE = "events"
KEYS_TABLE = "event_keys"
MONTH_COLUMNS = ("day", "month")  # the date column a rollup's months are read from


@dataclass(frozen=True)
class Difference:
    """One figure of a rollup that is not what its view computes from the raw events."""

    table: str
    key: tuple[Any, ...]
    column: str
    stored: int
    expected: int

    def __str__(self) -> str:
        key = ", ".join(str(part) for part in self.key)
        return f"{self.table} ({key}) {self.column}: stored {self.stored}, raw events give {self.expected}"


@dataclass(frozen=True)
class Rollup:
    table: str
    select: str  # the view's SELECT, reading `events`
    columns: tuple[str, ...]
    keys: tuple[str, ...]
    measures: tuple[tuple[str, str], ...]  # (column, the SQL that finalizes it over a group)
    month_column: str


def rollups(store: Store) -> list[Rollup]:
    """The aggregating tables fed by views on `events`, each with its view's SELECT and its columns."""
    found = []
    views = store.rows(
        "SELECT as_select, create_table_query FROM system.tables WHERE database = {db:String} "
        "AND engine = 'MaterializedView'", {"db": store.database})
    for select, create in views:
        target = re.search(r" TO `?[\w]+`?\.`?(\w+)`?", create)
        if target is None or not re.search(rf"FROM `?{re.escape(store.database)}`?\.`?{SOURCE}`?\b", select):
            continue
        table = target.group(1)
        columns = store.rows("SELECT name, type FROM system.columns WHERE database = {db:String} AND "
                             "table = {t:String} ORDER BY position", {"db": store.database, "t": table})
        keys, measures = [], []
        for name, kind in columns:
            if kind.startswith("AggregateFunction("):
                function = kind.split("(", 2)[1].split(",")[0].strip()
                measures.append((name, f"{function}Merge(`{name}`)"))
            elif kind.startswith("SimpleAggregateFunction("):
                function = kind.split("(", 2)[1].split(",")[0].strip()
                measures.append((name, f"{function}(`{name}`)"))
            else:
                keys.append(name)
        month_column = next((c for c in MONTH_COLUMNS if c in keys), "")
        if measures and month_column:
            found.append(Rollup(table, select, tuple(name for name, _ in columns), tuple(keys), tuple(measures),
                                month_column))
    return sorted(found, key=lambda rollup: rollup.table)


def _raw(store: Store, rollup: Rollup) -> str:
    """The view's SELECT over the raw events of the bound months ({months:Array(Date)})."""
    source = re.compile(rf"FROM `?{re.escape(store.database)}`?\.`?{SOURCE}`?\b")
    return source.sub(f"FROM (SELECT * FROM {SOURCE} WHERE toStartOfMonth(day) IN {{months:Array(Date)}}) "
                      f"AS {SOURCE}", rollup.select, count=1)


def _in_months(rollup: Rollup) -> str:
    return f"toStartOfMonth(`{rollup.month_column}`) IN {{months:Array(Date)}}"


def _figures(store: Store, rollup: Rollup, source: str, months: Sequence[date]) -> dict[tuple[Any, ...], tuple]:
    keys = ", ".join(f"`{key}`" for key in rollup.keys)
    measures = ", ".join(sql for _, sql in rollup.measures)
    rows = store.rows(f"SELECT {keys}, {measures} FROM ({source}) GROUP BY {keys}", {"months": list(months)})
    width = len(rollup.keys)
    return {tuple(row[:width]): tuple(int(v) for v in row[width:]) for row in rows}


def differences(store: Store, months: Sequence[date]) -> list[Difference]:
    """Every figure of the months' rollups that differs from what the raw events give, plus repeated events
    and events missing from the dedup index."""
    months = sorted(set(months))
    if not months:
        return []
    found: list[Difference] = []
    for platform, month, repeats in store.rows(
            "SELECT platform, toStartOfMonth(day) AS month, count() - uniqExact(event_id) FROM events "
            "WHERE month IN {months:Array(Date)} GROUP BY platform, month HAVING count() > uniqExact(event_id) "
            "ORDER BY platform, month", {"months": months}):
        found.append(Difference(SOURCE, (platform, month), "repeated events", int(repeats), 0))
    for platform, month, missing in store.rows(
            "SELECT platform, toStartOfMonth(day) AS month, count() FROM events "
            "WHERE month IN {months:Array(Date)} AND (platform, toUInt128(event_id)) NOT IN "
            "(SELECT platform, id128 FROM event_keys WHERE id128 IN (SELECT toUInt128(event_id) FROM events "
            " WHERE toStartOfMonth(day) IN {months:Array(Date)})) "
            "GROUP BY platform, month ORDER BY platform, month", {"months": months}):
        found.append(Difference(KEYS_TABLE, (platform, month), "events missing from the dedup index",
                                int(missing), 0))
    for rollup in rollups(store):
        stored = _figures(store, rollup, f"SELECT * FROM {rollup.table} WHERE {_in_months(rollup)}", months)
        expected = _figures(store, rollup, _raw(store, rollup), months)
        for key in sorted(stored.keys() | expected.keys(), key=str):
            have = stored.get(key, (0,) * len(rollup.measures))
            want = expected.get(key, (0,) * len(rollup.measures))
            for (column, _), value, right in zip(rollup.measures, have, want, strict=True):
                if value != right:
                    found.append(Difference(rollup.table, key, column, value, right))
    return found


def repair(store: Store, months: Sequence[date]) -> list[str]:
    """Make the months' raw events, dedup index and rollups agree; returns what was rebuilt. Run it only while
    nothing is inserted (see the module docstring)."""
    months = sorted(set(months))
    found = differences(store, months)
    done: list[str] = []
    repeated = sorted({d.key[1] for d in found if d.table == SOURCE})
    for month in repeated:
        partition = month.year * 100 + month.month
        _replace_partitions(store, SOURCE, [partition],
                            "SELECT * FROM events WHERE toYYYYMM(day) = {p:UInt32} "
                            "ORDER BY received_at LIMIT 1 BY platform, event_id", {"p": partition})
        done.append(f"events {month:%Y-%m}: kept the first arrival of each repeated event")
    if any(d.table == KEYS_TABLE for d in found):
        store.command(
            "INSERT INTO event_keys (platform, id128) SELECT platform, toUInt128(event_id) FROM events "
            "WHERE toStartOfMonth(day) IN {months:Array(Date)} AND (platform, toUInt128(event_id)) NOT IN "
            "(SELECT platform, id128 FROM event_keys WHERE id128 IN (SELECT toUInt128(event_id) FROM events "
            " WHERE toStartOfMonth(day) IN {months:Array(Date)}))", {"months": months})
        done.append("event_keys: added the stored events it lacked")
    for rollup in rollups(store):
        wrong = sorted({_month_of(d.key, rollup) for d in found if d.table == rollup.table} |
                       (set(repeated) & set(months)))
        if wrong:
            _rebuild(store, rollup, wrong)
            done.append(f"{rollup.table}: rebuilt {', '.join(f'{m:%Y-%m}' for m in wrong)}")
    if repeated or any(d.table not in (SOURCE, KEYS_TABLE) for d in found):
        # counts kept with a version of the states (0004): rebuilt months are counted again
        store.command("ALTER TABLE platform_monthly_counts DELETE WHERE month IN {months:Array(Date)}",
                      {"months": months}, settings={"mutations_sync": 2})
    return done


def _month_of(key: tuple[Any, ...], rollup: Rollup) -> date:
    value = key[rollup.keys.index(rollup.month_column)]
    assert isinstance(value, date)
    return value.replace(day=1)


def _rebuild(store: Store, rollup: Rollup, months: Sequence[date]) -> None:
    """Replace the partitions holding `months` of a rollup: its other months copied as they are, `months`
    computed again by its view from the raw events."""
    partition_key = store.rows("SELECT partition_key FROM system.tables WHERE database = {db:String} AND "
                               "name = {t:String}", {"db": store.database, "t": rollup.table})[0][0]
    partitions = sorted({int(store.rows(f"SELECT {partition_key} FROM (SELECT {{m:Date}} AS "
                                        f"`{rollup.month_column}`)", {"m": month})[0][0]) for month in months})
    copy = (f"SELECT * FROM {rollup.table} WHERE {partition_key} IN {{partitions:Array(UInt32)}} "
            f"AND NOT {_in_months(rollup)}")
    names = ", ".join(f"`{name}`" for name in rollup.columns)
    rebuilt = f"SELECT {names} FROM ({_raw(store, rollup)})"
    _replace_partitions(store, rollup.table, partitions, copy, {"partitions": partitions, "months": list(months)},
                        also=rebuilt, columns=names)


def _replace_partitions(store: Store, table: str, partitions: Sequence[int], select: str,
                        parameters: dict[str, Any], also: str | None = None, columns: str = "") -> None:
    """Fill a copy of `table` with `select` (and `also`, whose columns are `columns`), then swap its
    `partitions` in at once."""
    staging = f"{table}_repair"
    store.command(f"DROP TABLE IF EXISTS {staging}")
    store.command(f"CREATE TABLE {staging} AS {table}")
    try:
        store.command(f"INSERT INTO {staging} {select}", parameters)
        if also is not None:
            store.command(f"INSERT INTO {staging} ({columns}) {also}", parameters)
        for partition in partitions:
            store.command(f"ALTER TABLE {table} REPLACE PARTITION {int(partition)} FROM {staging}")
    finally:
        store.command(f"DROP TABLE IF EXISTS {staging}")
