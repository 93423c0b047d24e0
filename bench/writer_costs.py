"""What the writer's ClickHouse steps cost, each on its own, on a fresh chDB directory with the real schema.

    python bench/writer_costs.py lookup-sizes [--stored 1000000] [--sizes 32000,65000,70000]
    python bench/writer_costs.py seen-fill [--stored 1000000]
    python bench/writer_costs.py insert [--rows 800000] [--groups 8000,32000,100000]
    python bench/writer_costs.py part
    python bench/writer_costs.py writer [--rows 600000] [--threads 64] [--max-rows 50000] [--stored 0] [--no-filter]
                                        [--linger 0.5]

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
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest_bench import PLATFORMS, fill_event_keys, own_cpu_s  # noqa: E402 - bench/ is this script's own directory

from ingest.rows import INGEST_COLUMNS, INGEST_FORMAT, Accepted, Event, stored_lines  # noqa: E402
from ingest.seen import SeenFilter  # noqa: E402
from ingest.write import GROUP_LINGER_S, GROUP_MAX_ROWS, STORED_IDS_SQL, Writer  # noqa: E402
from queries.migrate import migrate  # noqa: E402
from queries.store import IntArray, Store, open_store  # noqa: E402
from tests.factories import accepted  # noqa: E402


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


MONTH = date(2022, 1, 1)  # the quality counts' month of the generated rows (not inserted: no tallies here)
NO_CONDITION_CACHE = {"use_query_condition_cache": 0}


def seen_fill(store: Store, stored: int) -> None:
    """How long start-up takes to fill the stored-id filter, how large it is, and what it passes."""
    fill_event_keys(store, stored)
    began, cpu_began = time.perf_counter(), own_cpu_s()
    seen = SeenFilter.load(store)
    wall, cpu = time.perf_counter() - began, own_cpu_s() - cpu_began
    assert seen is not None
    rng = random.Random(6)
    probe = new_id_values(rng, 100_000)
    began = time.perf_counter()
    passed = len(seen.may_hold(probe))
    check = time.perf_counter() - began
    print(f"stored-id filter of {stored:,} stored ids: filled in {wall:.1f} s ({cpu:.1f} s CPU), "
          f"{seen.bloom.size_in_bits / 8e6:,.1f} MB for {seen.capacity:,} ids; 100,000 new ids: {passed:,} passed "
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


def random_lines(count: int) -> list[bytes]:
    """`count` random events in stored form (ingest.rows.stored_lines), over the benchmark's platforms and Q1 2022."""
    rng = random.Random(1)
    events, pseudonyms, instants, days = [], [], [], []
    for _ in range(count):
        ts_ms = 1_640_995_200_000 + rng.randrange(90 * 86_400) * 1000
        events.append(Event(uuid.UUID(int=rng.getrandbits(128), version=4), rng.choice(PLATFORMS), "-",
                            datetime.fromtimestamp(ts_ms / 1000, UTC), "session", rng.randrange(3600),
                            rng.randrange(10**8), "VN", None, "android"))
        pseudonyms.append(f"{rng.getrandbits(128):032x}")
        instants.append(ts_ms * 1000)
        days.append((ts_ms // 1000 + 7 * 3600) // 86_400)
    return stored_lines(events, pseudonyms, instants, days)


def insert(work: Path, rows: int, groups: list[int]) -> None:
    lines = random_lines(rows)
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
    events = b"\n".join(random_lines(10))
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
           use_filter: bool = True, linger_s: float = GROUP_LINGER_S) -> None:
    if stored:
        fill_event_keys(store, stored)
    rng = random.Random(2)
    events = []
    for _ in range(rows):
        event_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        ts_ms = 1_640_995_200_000 + rng.randrange(90 * 86_400) * 1000
        day = (ts_ms // 1000 + 7 * 3600) // 86_400
        platform = rng.choice(PLATFORMS)
        sent = Event(event_id, platform, "-", datetime.fromtimestamp(ts_ms / 1000, UTC), "session",
                     rng.randrange(3600), rng.randrange(10**8), "VN", None, "android")
        (line,) = stored_lines([sent], [f"{rng.getrandbits(128):032x}"], [ts_ms * 1000], [day])
        events.append((platform, event_id.int, line, MONTH, "lt_1h"))
    requests = [accepted(events[i:i + 1000]) for i in range(0, rows, 1000)]
    counting = CountingWriter(store, max_rows=max_rows, linger_s=linger_s)
    if use_filter:  # as the service does on the embedded engine
        counting.use_filter(SeenFilter.load(store))

    def post(share: list[Accepted]) -> None:
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
          f"groups waiting up to {linger_s} s under load: {rows / wall:,.0f} events/s, "
          f"{cpu / rows * 1e6:.1f} us CPU per event, {counting.groups} groups of {rows / counting.groups:,.0f} "
          f"events on average")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["lookup-sizes", "seen-fill", "insert", "part", "writer"])
    parser.add_argument("--sizes", default="32000,50000,65000,70000,100000")
    parser.add_argument("--stored", type=int, help="ids stored before it runs (lookups: 1,000,000; writer: 0)")
    parser.add_argument("--ids", type=int, default=32_000)
    parser.add_argument("--rows", type=int, default=800_000)
    parser.add_argument("--threads", type=int, default=64)
    parser.add_argument("--max-rows", type=int, default=GROUP_MAX_ROWS, help="the writer's largest group")
    parser.add_argument("--linger", type=float, default=GROUP_LINGER_S, help="writer: how long a group under load "
                        "waits for more events (0: never)")
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
        if args.what == "seen-fill":
            seen_fill(store, stored)
        elif args.what == "lookup-sizes":
            lookup_sizes(store, stored, [int(size) for size in args.sizes.split(",")])
        elif args.what == "writer":
            writer(store, args.rows, args.threads, args.max_rows, stored, not args.no_filter, args.linger)
        else:
            part(store)
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
