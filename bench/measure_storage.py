#!/usr/bin/env python3
"""Measure vnmeter's storage per event, per rollup row and per counted user (for docs/SCALING.md).

    .venv/bin/python bench/measure_storage.py                  # 2,000,000 events, as recorded in SCALING.md
    .venv/bin/python bench/measure_storage.py --events 500000  # quicker
    .venv/bin/python bench/measure_storage.py --json bench/out/storage.json

It creates a scratch chDB directory (default /tmp/vnmeter-scaling-ch, never the service's var/), applies the
single-server migrations, inserts synthetic `session`/`install` events for one 30-day month with a
realistic shape, merges every table fully (OPTIMIZE ... FINAL, the state background merges converge to),
and reads system.parts / system.columns. A second probe builds one exact-user state of --big-set users to
measure the state size and the merge speed of a big platform-month.

Synthetic population (the shape, not the scale, of the national case):
* a user is active on about 15 of the 30 days (DAU/MAU about 0.5) and has 20 sessions on an active day
  (the national assumption), spread over several of their ~12 platforms, skewed towards their favourite
  ones; platform popularity is Zipf-like over 60 platforms, so a few platforms hold most events;
* a user's pseudonym is per platform and month (as in ingestion): 16 bytes of MD5 of platform and user;
* event ids are random UUIDv4 (as vendors send them), time stamps spread over the day, durations
  exponential with a 6-minute mean, bytes proportional to duration, 1.5 % of events are installs;
* province (63 codes, skewed to the big cities) and OS (72 % android) are fixed per user; 0.5 % of
  events come from abroad.

chDB hosts one data directory per process, so run this as its own process.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from queries.migrate import migrate  # noqa: E402
from queries.store import Store, open_store  # noqa: E402

MARKER = ".vnmeter-bench"
TABLES = ("events", "event_keys", "platform_daily", "platform_monthly", "platform_monthly_dims")
MONTH_START = "2026-09-01"
DAYS = 30
SESSIONS_PER_USER_DAY = 20
PLATFORMS = 60

# One event per row of numbers(N). Consecutive groups of 20 rows are one user-day; r(n, k) is a
# deterministic uniform draw in [0, 1) so that reruns produce the same data (except random event ids).
INSERT_EVENTS = """
INSERT INTO events
WITH
    (cityHash64(number, 1) % 1000003) / 1000003                                 AS r1,
    (cityHash64(number, 2) % 1000003) / 1000003                                 AS r2,
    (cityHash64(number, 3) % 1000003) / 1000003                                 AS r3,
    (cityHash64(number, 4) % 1000003) / 1000003                                 AS r4,
    (cityHash64(number, 5) % 1000003) / 1000003                                 AS r5,
    intDiv(number, {spud:UInt64})                                              AS user_day,
    -- each user-day is a random (user, day): a user is active on about --active-days of the month
    cityHash64(user_day, 11) % {users:UInt64}                                  AS user,
    cityHash64(user_day, 12) % {days:UInt64}                                   AS day_index,
    -- the user's favourite platforms first: slot 0 is used most
    toUInt64(floor(pow(r1, 2.0) * 12))                                         AS slot,
    toUInt32(floor(pow((cityHash64(user, slot, 7) % 1000003) / 1000003, 2.2) * {platforms:UInt64})) AS p,
    (cityHash64(user, 8) % 1000003) / 1000003                                  AS ru,
    toDate({month:String}) + toIntervalDay(day_index)                          AS event_day,
    -- the Vietnamese calendar day starts at 17:00 UTC of the day before
    toDateTime64(event_day, 3, 'UTC') - toIntervalHour(7)
        + toIntervalMillisecond(toUInt64(r2 * 86400000))                       AS event_ts,
    toUInt32(-log(1 - r3) * 360)                                               AS duration
SELECT
    concat('platform-', leftPad(toString(p), 2, '0'))                          AS platform,
    generateUUIDv4(number)                                                     AS event_id,
    MD5(concat(toString(p), '|', {month:String}, '|', toString(user)))         AS user_pseudo,
    if(r4 < 0.015, 'install', 'session')                                       AS type,
    event_ts                                                                   AS ts,
    event_day                                                                  AS day,
    if(type = 'install', 0, duration)                                          AS duration_s,
    if(type = 'install', 0, toUInt64(duration * (5000 + r5 * 400000)))         AS bytes,
    if((cityHash64(number, 9) % 1000) < 5, ['US', 'KR', 'JP', 'SG'][1 + number % 4], 'VN') AS country,
    {provinces:Array(String)}[1 + toUInt32(floor(pow(ru, 1.8) * length({provinces:Array(String)})))]
                                                                               AS province,
    if((cityHash64(user, 10) % 100) < 72, 'android', 'ios')                    AS os,
    event_ts + toIntervalMillisecond(toUInt64(r5 * 600000))                    AS received_at
FROM numbers({events:UInt64})
"""


def province_codes() -> list[str]:
    lines = (ROOT / "queries" / "reference" / "provinces.csv").read_text(encoding="utf-8").splitlines()[1:]
    return [line.split(",", 1)[0] for line in lines if line.strip()]


def scratch_dir(path: Path) -> Path:
    """A fresh directory for the run; refuses to wipe anything this script did not create."""
    path = path.resolve()
    if (ROOT / "var").resolve() in (path, *path.parents):
        raise SystemExit(
            f"{path} is inside the service's var/ directory; choose a scratch directory under /tmp"
        )
    if path.exists():
        if not (path / MARKER).exists():
            raise SystemExit(f"{path} exists and was not created by this script; choose another --dir")
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).write_text("scratch directory of bench/measure_storage.py; safe to delete\n")
    return path


def timed(store: Store, sql: str, parameters: dict[str, Any] | None = None) -> tuple[float, list[tuple]]:
    started = time.perf_counter()
    rows = store.rows(sql, parameters)
    return time.perf_counter() - started, rows


def measure(store: Store, events: int, big_set: int, active_days: int) -> dict[str, Any]:
    users = max(1, events // (SESSIONS_PER_USER_DAY * active_days))
    started = time.perf_counter()
    store.command(
        INSERT_EVENTS,
        parameters={
            "spud": SESSIONS_PER_USER_DAY,
            "users": users,
            "days": DAYS,
            "platforms": PLATFORMS,
            "month": MONTH_START,
            "provinces": province_codes(),
            "events": events,
        },
    )
    insert_s = time.perf_counter() - started
    for table in TABLES:
        store.command(f"OPTIMIZE TABLE {table} FINAL")

    db = store.database
    parts = {
        row[0]: {
            "rows": int(row[1]),
            "compressed": int(row[2]),
            "uncompressed": int(row[3]),
            "on_disk": int(row[4]),
            "parts": int(row[5]),
        }
        for row in store.rows(
            "SELECT table, sum(rows), sum(data_compressed_bytes), sum(data_uncompressed_bytes), "
            "sum(bytes_on_disk), count() FROM system.parts WHERE database = {db:String} AND active "
            "GROUP BY table",
            {"db": db},
        )
    }
    columns = {
        row[0]: {"compressed": int(row[1]), "uncompressed": int(row[2])}
        for row in store.rows(
            "SELECT name, data_compressed_bytes, data_uncompressed_bytes FROM system.columns "
            "WHERE database = {db:String} AND table = 'events' ORDER BY position",
            {"db": db},
        )
    }
    sessions = int(store.command("SELECT countIf(type = 'session') FROM events"))
    dau_s, dau = timed(
        store,
        "SELECT count(), sum(n) FROM (SELECT uniqExactMerge(users) AS n "
        "FROM platform_daily GROUP BY platform, day)",
    )
    mau_s, mau = timed(
        store,
        "SELECT count(), sum(n) FROM (SELECT uniqExactMerge(users) AS n "
        "FROM platform_monthly GROUP BY platform, month)",
    )
    dims_s, dims = timed(
        store,
        "SELECT count(), sum(n) FROM (SELECT uniqExactMerge(users) AS n "
        "FROM platform_monthly_dims GROUP BY platform, month, dim, key)",
    )
    top = store.rows(
        "SELECT platform, uniqExactMerge(users) AS n FROM platform_monthly "
        "GROUP BY platform ORDER BY n DESC LIMIT 1"
    )[0]

    # One big platform-month: --big-set distinct pseudonyms in 16 partial states, merged into one set.
    store.command(
        "CREATE TABLE bench_states (part UInt8, users AggregateFunction(uniqExact, FixedString(16))) "
        "ENGINE = AggregatingMergeTree ORDER BY part"
    )
    store.command(
        "INSERT INTO bench_states SELECT number % 16, uniqExactState(MD5(toString(number))) "
        "FROM numbers({n:UInt64}) GROUP BY number % 16",
        parameters={"n": big_set},
    )
    store.command("OPTIMIZE TABLE bench_states FINAL")
    big_bytes = int(
        store.command(
            "SELECT sum(data_compressed_bytes) FROM system.parts "
            "WHERE database = {db:String} AND table = 'bench_states' AND active",
            parameters={"db": db},
        )
    )
    merges = []
    for _ in range(3):
        seconds, rows = timed(store, "SELECT uniqExactMerge(users) FROM bench_states")
        assert int(rows[0][0]) == big_set
        merges.append(seconds)

    return {
        "events": events,
        "users": users,
        "days": DAYS,
        "active_days": active_days,
        "platforms": PLATFORMS,
        "sessions": sessions,
        "insert_seconds": round(insert_s, 2),
        "parts": parts,
        "event_columns": columns,
        "platform_daily": {
            "rows": int(dau[0][0]),
            "dau_sum": int(dau[0][1]),
            "query_seconds": round(dau_s, 3),
        },
        "platform_monthly": {
            "rows": int(mau[0][0]),
            "mau_sum": int(mau[0][1]),
            "query_seconds": round(mau_s, 3),
        },
        "platform_monthly_dims": {
            "rows": int(dims[0][0]),
            "users_sum": int(dims[0][1]),
            "query_seconds": round(dims_s, 3),
        },
        "top_platform": {"platform": top[0], "mau": int(top[1])},
        "big_set": {
            "users": big_set,
            "compressed_bytes": big_bytes,
            "merge_seconds": [round(s, 3) for s in merges],
        },
    }


def report(m: dict[str, Any]) -> str:
    p = m["parts"]
    ev, ids = p["events"], p["event_keys"]
    daily, monthly, dims = p["platform_daily"], p["platform_monthly"], p["platform_monthly_dims"]
    big = m["big_set"]
    best_merge = min(big["merge_seconds"])
    lines = [
        f"synthetic month: {m['events']:,} events ({m['sessions']:,} sessions) of {m['users']:,} users, "
        f"each active on ~{m['active_days']} of {m['days']} days, {SESSIONS_PER_USER_DAY} sessions a day, "
        f"over {m['platforms']} platforms (insert with views: {m['insert_seconds']} s)",
        "",
        "| table | rows | compressed bytes | bytes on disk | compressed bytes / row | per unit |",
        "|---|---:|---:|---:|---:|---|",
        f"| events | {ev['rows']:,} | {ev['compressed']:,} | {ev['on_disk']:,} "
        f"| {ev['compressed'] / ev['rows']:.1f} | {ev['on_disk'] / ev['rows']:.1f} B on disk / event |",
        f"| event_keys | {ids['rows']:,} | {ids['compressed']:,} | {ids['on_disk']:,} "
        f"| {ids['compressed'] / ids['rows']:.1f} | {ids['on_disk'] / ids['rows']:.1f} B on disk / event |",
        f"| platform_daily | {daily['rows']:,} | {daily['compressed']:,} | {daily['on_disk']:,} "
        f"| {daily['compressed'] / daily['rows']:,.0f} "
        f"| {daily['compressed'] / m['platform_daily']['dau_sum']:.2f} B / daily active user "
        f"(sum of DAU {m['platform_daily']['dau_sum']:,}) |",
        f"| platform_monthly | {monthly['rows']:,} | {monthly['compressed']:,} | {monthly['on_disk']:,} "
        f"| {monthly['compressed'] / monthly['rows']:,.0f} "
        f"| {monthly['compressed'] / m['platform_monthly']['mau_sum']:.2f} B / monthly active user "
        f"(sum of MAU {m['platform_monthly']['mau_sum']:,}) |",
        f"| platform_monthly_dims | {dims['rows']:,} | {dims['compressed']:,} | {dims['on_disk']:,} "
        f"| {dims['compressed'] / dims['rows']:,.0f} "
        f"| {dims['compressed'] / m['platform_monthly_dims']['users_sum']:.2f} B / user per cell "
        f"(sum {m['platform_monthly_dims']['users_sum']:,}) |",
        "",
        "events, compressed bytes per event by column: "
        + ", ".join(f"{name} {c['compressed'] / ev['rows']:.2f}" for name, c in m["event_columns"].items()),
        "",
        f"big platform-month probe: {big['users']:,} users -> state {big['compressed_bytes']:,} B "
        f"({big['compressed_bytes'] / big['users']:.2f} B/user); merging 16 partial states into one exact "
        f"count: {best_merge:.2f} s (best of {len(big['merge_seconds'])}) = "
        f"{big['users'] / best_merge / 1e6:.1f} M users/s",
        f"rollup reads on the synthetic month: all DAU {m['platform_daily']['query_seconds']} s, "
        f"all MAU {m['platform_monthly']['query_seconds']} s, all breakdown cells "
        f"{m['platform_monthly_dims']['query_seconds']} s; "
        f"biggest platform MAU {m['top_platform']['mau']:,}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000, help="synthetic events to insert")
    parser.add_argument("--active-days", type=int, default=15, help="days of the month a user is active")
    parser.add_argument("--big-set", type=int, default=10_000_000, help="users in the big-state probe")
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "vnmeter-scaling-ch",
        help="scratch chDB directory (default: under the system temp directory)",
    )
    parser.add_argument("--json", type=Path, help="also write the raw figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory afterwards")
    args = parser.parse_args(argv)

    directory = scratch_dir(args.dir)
    store = open_store(None, directory)
    try:
        migrate(store)
        figures = measure(store, args.events, args.big_set, args.active_days)
    finally:
        store.close()
        if not args.keep:
            shutil.rmtree(directory, ignore_errors=True)
    print(report(figures))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
