"""What the writer's ClickHouse steps cost, each on its own, on a fresh chDB directory with the real schema.

    python bench/writer_costs.py lookup [--stored 1000000] [--ids 32000]
    python bench/writer_costs.py lookup-layouts [--stored 1000000] [--ids 32000]
    python bench/writer_costs.py lookup-sizes [--stored 1000000] [--sizes 32000,65000,70000]
    python bench/writer_costs.py seen-fill [--stored 1000000]
    python bench/writer_costs.py insert [--rows 800000] [--groups 8000,32000,100000]
    python bench/writer_costs.py part
    python bench/writer_costs.py writer [--rows 600000] [--threads 64] [--max-rows 50000] [--stored 0] [--no-filter]

`lookup`: one dedup lookup of a group's ids against `event_keys`: the ids bound as an `Array(UInt128)`
literal (what the writer does; new ids each time, then the same ids five times), the cost of parsing
that literal alone, and the alternative that sends the ids as a binary table instead (a temporary table
of ids), with the same ids. Run it with several --stored sizes.

`lookup-layouts`: the same lookup of new ids against the dedup index before migration 0007 (`event_ids`:
ORDER BY (platform, id128), granules of 256 rows in 64 KB LZ4 blocks) and after it (`event_keys`: ORDER
BY id128, granules of 128 rows in 2-4 KB uncompressed blocks), both holding the same --stored ids.

`lookup-sizes`: one lookup (the writer's SQL) of each number of ids, with a 20 s limit: where the engine
stops keeping the IN list as a set (the reason for the writer's LOOKUP_MAX_IDS).

`seen-fill`: the stored-id filter (ingest/seen.py) filled from --stored ids as at start-up: time, size, and
the share of 100,000 new ids it passes to the lookup.

`insert`: CPU per row of inserting the same rows into `events_ingest` (and every view on it) in groups of
each size. `part`: the fixed cost of one small insert
into a plain MergeTree table, into one with three partitions, and into `events_ingest` with every view.
`writer`: the whole writer (lookup, journal, insert, two threads) in this process, fed 1,000-row requests
already in stored form by N threads: events/s, CPU per event and the mean group size, without HTTP.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest_bench import PLATFORMS, fill_event_keys, own_cpu_s  # noqa: E402 - bench/ is this script's own directory

from ingest.fastpath import StoredRow  # noqa: E402
from ingest.seen import SeenFilter  # noqa: E402
from ingest.write import GROUP_MAX_ROWS, INGEST_COLUMNS, INGEST_FORMAT, STORED_IDS_SQL, StoredEvent, Writer  # noqa: E402
from queries.migrate import migrate  # noqa: E402
from queries.store import IntArray, Store, open_store  # noqa: E402


class BoundText:
    """A parameter value sent as written (the writer's former `IntArray`): the server parses it as the
    declared type, here Array(UInt128)."""

    def __init__(self, text: str):
        self.text = text

    def __str__(self) -> str:
        return self.text


def timed(label: str, run: Callable[[], Any], repeat: int, per: int, unit: str) -> None:
    began, cpu_began = time.perf_counter(), own_cpu_s()
    for _ in range(repeat):
        run()
    wall, cpu = (time.perf_counter() - began) / repeat, (own_cpu_s() - cpu_began) / repeat
    print(f"{label:<44} {wall * 1e3:8.1f} ms wall {cpu * 1e3:8.1f} ms CPU  ({cpu / per * 1e6:.2f} us CPU per {unit})")


def fresh_store(work: Path, database: str = "vnmeter") -> Store:
    """A migrated database; chDB hosts one directory per process, so every run here shares `work`."""
    store = open_store(f"chdb://{work}", work, database)
    migrate(store)
    return store


def new_id_values(rng: random.Random, count: int) -> list[int]:
    """`count` ids not stored: version-4 UUIDs, shaped like the stored ones (a uniform 128-bit integer
    would fall outside the stored range three times in four and measure less than a real lookup)."""
    return [uuid.UUID(int=rng.getrandbits(128), version=4).int for _ in range(count)]


def new_ids(rng: random.Random, count: int) -> IntArray:
    return IntArray(new_id_values(rng, count))


# The dedup index before migration 0007, as 0002 created it, and the lookup the writer sent to it.
EVENT_IDS_0002 = ("CREATE TABLE event_ids_0002 (platform LowCardinality(String), id128 UInt128) ENGINE = MergeTree "
                  "ORDER BY (platform, id128) SETTINGS index_granularity = 256")
LOOKUP_0002 = ("SELECT platform, id128 FROM event_ids_0002 "
               "WHERE platform IN {platforms:Array(String)} AND id128 IN {ids:Array(UInt128)}")
NO_CONDITION_CACHE = {"use_query_condition_cache": 0}


def lookup_layouts(store: Store, stored: int, ids: int) -> None:
    store.command(EVENT_IDS_0002)
    fill_event_keys(store, stored)
    store.command("INSERT INTO event_ids_0002 SELECT platform, id128 FROM event_keys")
    store.command("OPTIMIZE TABLE event_ids_0002 FINAL")
    rng = random.Random(5)
    print(f"one lookup of {ids:,} new ids against {stored:,} stored ids, mean of 5 after one unmeasured:")
    for label, table, sql, params in [
        ("event_ids (0002): (platform, id128), 256 LZ4", "event_ids_0002", LOOKUP_0002, {"platforms": PLATFORMS}),
        ("event_keys (0007): id128, 128 uncompressed", "event_keys", STORED_IDS_SQL, {}),
    ]:
        store.query(sql, {**params, "ids": new_ids(rng, ids)}, settings=NO_CONDITION_CACHE)
        batches = iter([new_ids(rng, ids) for _ in range(5)])
        timed(label, lambda sql=sql, params=params, batches=batches: store.query(
            sql, {**params, "ids": next(batches)}, settings=NO_CONDITION_CACHE), 5, ids, "id")
        (index_mb, marks, disk_mb), = store.rows(
            "SELECT sum(primary_key_bytes_in_memory) / 1e6, sum(marks), sum(bytes_on_disk) / 1e6 FROM system.parts "
            "WHERE database = {db:String} AND table = {t:String} AND active", {"db": store.database, "t": table})
        print(f"{'':<44} {marks:,} granules, {disk_mb:,.0f} MB on disk, primary index {index_mb:.1f} MB in memory")


def lookup(store: Store, stored: int, ids: int) -> None:
    fill_event_keys(store, stored)
    rng = random.Random(3)
    keys = [(rng.choice(PLATFORMS), value) for value in new_id_values(rng, ids)]
    literal = BoundText("[" + ",".join(str(value) for _, value in keys) + "]")
    client = store.client
    client.command("CREATE TEMPORARY TABLE ids (id128 UInt128) ENGINE = Memory")

    def binary_ids() -> list[tuple[Any, ...]]:
        client.command("TRUNCATE TABLE ids")
        client.raw_insert("ids", ["id128"], insert_block=b"".join(v.to_bytes(16, "little") for _, v in keys),
                          fmt="RowBinary")
        return store.rows("SELECT platform, id128 FROM event_keys WHERE id128 IN (SELECT id128 FROM ids)")

    fresh = iter([new_ids(rng, ids) for _ in range(5)])
    print(f"{ids:,} ids (none stored) against {stored:,} stored ids, mean of 5:")
    # ClickHouse caches which granules a condition selected (the query condition cache): repeating the same
    # ids measures the cache; the writer looks up new ids every time
    timed("bound Array(UInt128), new ids each time", lambda: store.rows(STORED_IDS_SQL, {"ids": next(fresh)}),
          5, ids, "id")
    timed("the same ids again (condition cache)", lambda: store.rows(STORED_IDS_SQL, {"ids": literal}), 5, ids, "id")
    timed("  of which parsing the literal", lambda: store.rows(
        "SELECT length({ids:Array(UInt128)})", {"ids": literal}), 5, ids, "id")
    timed("binary table of ids, IN (SELECT ...)", binary_ids, 5, ids, "id")


def seen_fill(store: Store, stored: int) -> None:
    """How long start-up takes to fill the stored-id filter, how large it is, and what it passes."""
    fill_event_keys(store, stored)
    began, cpu_began = time.perf_counter(), own_cpu_s()
    seen = SeenFilter.load(store)
    wall, cpu = time.perf_counter() - began, own_cpu_s() - cpu_began
    assert seen is not None, "ingest/_seen.c is not built"
    rng = random.Random(6)
    probe = {(rng.choice(PLATFORMS), str(value)) for value in new_id_values(rng, 100_000)}
    began = time.perf_counter()
    passed = len(seen.may_hold(probe))
    check = time.perf_counter() - began
    print(f"stored-id filter of {stored:,} stored ids: filled in {wall:.1f} s ({cpu:.1f} s CPU), "
          f"{len(seen.bitmap) / 1e6:,.1f} MB for {seen.capacity:,} pairs; 100,000 new ids: {passed:,} passed "
          f"({passed / 1000:.2f}%), checked in {check * 1e3:.1f} ms ({check / 100_000 * 1e9:.0f} ns per id)")


def lookup_sizes(store: Store, stored: int, sizes: list[int]) -> None:
    fill_event_keys(store, stored)
    rng = random.Random(3)
    print(f"one lookup of N ids (none stored) against {stored:,} stored ids, limit 20 s:")
    for size in sizes:
        ids = new_ids(rng, size)
        began = time.perf_counter()
        try:
            store.query(STORED_IDS_SQL, {"ids": ids}, settings={"max_execution_time": 20, **NO_CONDITION_CACHE})
            outcome = "answered"
        except Exception as exc:  # noqa: BLE001 - the engine's error is the measurement
            outcome = "stopped at the 20 s limit" if "TIMEOUT_EXCEEDED" in str(exc) else f"failed: {exc}"[:200]
        print(f"{size:>9,} ids: {(time.perf_counter() - began) * 1e3:8.0f} ms wall, {outcome}")


def stored_lines(count: int) -> list[bytes]:
    rng = random.Random(1)
    lines = []
    for _ in range(count):
        ts_ms = 1_640_995_200_000 + rng.randrange(90 * 86_400) * 1000
        lines.append(orjson.dumps([
            rng.choice(PLATFORMS), str(uuid.UUID(int=rng.getrandbits(128), version=4)), f"{rng.getrandbits(128):032x}",
            "session", ts_ms, (ts_ms // 1000 + 7 * 3600) // 86_400, rng.randrange(3600), rng.randrange(10**8), "VN",
            "", "android"]))
    return lines


def insert(work: Path, rows: int, groups: list[int]) -> None:
    lines = stored_lines(rows)
    print(f"{rows:,} stored rows (3 months, 20 platforms) into events_ingest and every view, by group size:")
    for size in groups:
        store = fresh_store(work, f"insert_{size}")
        blocks = [b"\n".join(lines[i:i + size]) for i in range(0, rows, size)]
        def insert_all(store: Store = store, blocks: list[bytes] = blocks) -> None:
            for block in blocks:
                store.raw_insert("events_ingest", INGEST_COLUMNS, block, INGEST_FORMAT)

        timed(f"groups of {size:,} rows ({len(blocks)} inserts)", insert_all, 1, rows, "row")
        store.command(f"DROP DATABASE insert_{size}")
        store.close()


def part(store: Store) -> None:
    store.command("CREATE TABLE plain (a UInt64, b String) ENGINE = MergeTree ORDER BY a")
    store.command("CREATE TABLE three (a UInt64, b String) ENGINE = MergeTree ORDER BY a PARTITION BY a % 3")
    block = b"\n".join(b'[%d,"x"]' % i for i in range(10))
    events = b"\n".join(stored_lines(10))
    print("one 10-row insert, mean of 200:")
    timed("plain MergeTree (1 part)", lambda: store.raw_insert("plain", ["a", "b"], block, "JSONCompactEachRow"),
          200, 1, "insert")
    timed("MergeTree, 3 partitions (3 parts)",
          lambda: store.raw_insert("three", ["a", "b"], block, "JSONCompactEachRow"), 200, 1, "insert")
    timed("events_ingest and every view", lambda: store.raw_insert("events_ingest", INGEST_COLUMNS, events,
                                                                    INGEST_FORMAT), 200, 1, "insert")


class CountingWriter(Writer):
    """The writer, counting the groups it prepares."""

    groups = 0

    def _prepare(self, *args: Any) -> Any:
        self.groups += 1
        return super()._prepare(*args)


def writer(store: Store, rows: int, threads: int, max_rows: int = GROUP_MAX_ROWS, stored: int = 0,
           use_filter: bool = True) -> None:
    if stored:
        fill_event_keys(store, stored)
    rng = random.Random(2)
    events = []
    for _ in range(rows):
        event_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        ts_ms = 1_640_995_200_000 + rng.randrange(90 * 86_400) * 1000
        events.append(StoredEvent(rng.choice(PLATFORMS), str(event_id), event_id.int, f"{rng.getrandbits(128):032x}",
                                  "session", ts_ms, (ts_ms // 1000 + 7 * 3600) // 86_400, rng.randrange(3600),
                                  rng.randrange(10**8), "VN", "", "android").row())
    requests = [events[i:i + 1000] for i in range(0, rows, 1000)]
    counting = CountingWriter(store, max_rows=max_rows)
    if use_filter:  # as the service does on the embedded engine
        counting.use_filter(SeenFilter.load(store))

    def post(share: list[list[StoredRow]]) -> None:
        for request in share:
            counting.write(request)

    workers = [threading.Thread(target=post, args=(requests[i::threads],)) for i in range(threads)]
    began, cpu_began = time.perf_counter(), own_cpu_s()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall, cpu = time.perf_counter() - began, own_cpu_s() - cpu_began
    counting.close()
    assert store.command("SELECT count() FROM events") == rows
    print(f"{rows:,} events in 1,000-row requests from {threads} threads, {stored:,} ids stored before, "
          f"{'with' if counting.seen else 'without'} the stored-id filter: "
          f"{rows / wall:,.0f} events/s, "
          f"{cpu / rows * 1e6:.1f} us CPU per event, {counting.groups} groups of {rows / counting.groups:,.0f} "
          f"events on average")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["lookup", "lookup-layouts", "lookup-sizes", "seen-fill", "insert", "part",
                                         "writer"])
    parser.add_argument("--sizes", default="32000,50000,65000,70000,100000")
    parser.add_argument("--stored", type=int, help="ids stored before it runs (lookups: 1,000,000; writer: 0)")
    parser.add_argument("--ids", type=int, default=32_000)
    parser.add_argument("--rows", type=int, default=800_000)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--max-rows", type=int, default=GROUP_MAX_ROWS, help="the writer's largest group")
    parser.add_argument("--groups", default="8000,32000,100000")
    parser.add_argument("--no-filter", action="store_true", help="writer: look every id up (as on a server)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vnmeter-writer-costs-"))
    try:
        if args.what == "insert":
            insert(work, args.rows, [int(size) for size in args.groups.split(",")])
            return
        store = fresh_store(work)
        stored = args.stored if args.stored is not None else (0 if args.what == "writer" else 1_000_000)
        if args.what == "lookup":
            lookup(store, stored, args.ids)
        elif args.what == "lookup-layouts":
            lookup_layouts(store, stored, args.ids)
        elif args.what == "seen-fill":
            seen_fill(store, stored)
        elif args.what == "lookup-sizes":
            lookup_sizes(store, stored, [int(size) for size in args.sizes.split(",")])
        elif args.what == "writer":
            writer(store, args.rows, args.threads, args.max_rows, stored, not args.no_filter)
        else:
            part(store)
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
