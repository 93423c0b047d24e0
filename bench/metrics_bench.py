"""Metrics speed: the metrics, rankings, comparison and overview endpoints against plain queries over the raw
events, at N events, in one run per size.

1. Loads N generated events straight into `events` of a database of its own chDB directory
   (INSERT INTO events SELECT ... FROM numbers(N), in chunks of 10 million; the materialized views fill the
   rollups as for ingested events). Shape: 40 platforms over 14 categories, Vietnamese and foreign, apps
   and websites, with Zipf-like sizes; 730 days (2021-2022); each platform's users drawn from its own pool
   with a skewed (squared uniform) choice; 4 events per drawn user-day, about 1 in 40 an install.
2. Waits for the background merges the load started (at most --settle-timeout seconds), so that they do not
   compete with the measured queries for the two cores. Then calls each endpoint through the FastAPI app
   (TestClient: routing, auth and JSON included) `--calls` times for period 2022-Q1 and prints p50/p95. The
   stored user counts are emptied first, so the first call of each endpoint, shown on its own, is the one
   that counts the users of the months it needs (migration 0004).
3. Computes the same answers with plain queries over `events` (no rollups) `--raw-calls` times, checks that
   they are equal to the endpoints' answers, and prints p50/p95 and the ratio raw / rollups.
4. Measures the endpoints while events are arriving: a thread inserts 1,000 new sessions on the period's last
   day, spread over the 40 platforms, every --live-interval seconds, while each endpoint is called --calls
   times (the service's background refresher counts the changed months again meanwhile, as in production);
   then, the worst case, rankings with 1,000 new sessions inserted right before each call. Changed months are
   counted by the request only while cheap, otherwise answered as of their last count (docs/METRICS.md,
   "Months still receiving events"); the bench prints how many answers had such provisional months.
5. Prints whether the targets hold: p50 < 100 ms at 100 million events, also while events arrive, and p50
   at 100 million < 1.5 x p50 at 10 million. With several sizes in one run, their timed calls alternate
   (10M, 100M, 10M, ...) so that both see the same load from other processes on the machine; a size run alone
   is compared with the last bench/out/metrics-10000000.json.

    python bench/metrics_bench.py --events 10000000 100000000

Data stay in bench/out/metrics-chdb (git-ignored) and are reused by the next run of the same size (step 4
adds 30,000 events on 2022-03-31 per run: figures move a little, timings do not); --reload loads again.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402

from queries import metrics, present  # noqa: E402
from queries.metrics import MonthTotals, Usage  # noqa: E402
from queries.migrate import migrate  # noqa: E402
from queries.periods import Period, parse_period  # noqa: E402
from queries.registry import Platform, Province, Registry  # noqa: E402
from queries.store import Store, Target  # noqa: E402
from service.app import create_app  # noqa: E402
from service.settings import Settings  # noqa: E402

OUT = ROOT / "bench" / "out"
ADMIN_KEY = "bench-metrics-admin-" + "x" * 32
CHUNK = 10_000_000
EVENTS_PER_USER_DAY = 4
FIRST_DAY = date(2021, 1, 1)
DAYS = 730
PERIOD = "2022-Q1"
TARGET_P50_MS = 100.0
TARGET_GROWTH = 1.5
TARGET_SIZE = 100_000_000
BASE_SIZE = 10_000_000
HUE_SMARTPHONE_USERS = 602_700

# id, name, origin, category, kind, province, weight (relative share of events)
PLATFORMS: list[tuple[str, str, str, str, str, str | None, float]] = [
    ("zalo", "Zalo", "vn", "communication", "app", None, 75),
    ("messenger", "Messenger", "foreign", "communication", "app", None, 68),
    ("mocha", "Mocha", "vn", "communication", "app", None, 4.6),
    ("viber", "Viber", "foreign", "communication", "app", None, 6),
    ("telegram", "Telegram", "foreign", "communication", "app", None, 3),
    ("facebook", "Facebook", "foreign", "social", "app", None, 70),
    ("tiktok", "TikTok", "foreign", "social", "app", None, 40),
    ("lotus", "Lotus", "vn", "social", "app", None, 1.5),
    ("grab", "Grab", "foreign", "mobility", "app", None, 8),
    ("be", "Be", "vn", "mobility", "app", None, 3.65),
    ("vexere", "Vé xe rẻ", "vn", "mobility", "app", None, 0.4),
    ("anvui", "An vui", "vn", "mobility", "app", None, 0.2),
    ("viettelpost", "Viettel Post", "vn", "delivery", "app", None, 3.5),
    ("myvnpost", "My Vietnam Post", "vn", "delivery", "app", None, 2.6),
    ("ghn", "Giao Hàng Nhanh", "vn", "delivery", "app", None, 1.2),
    ("shopee", "Shopee", "foreign", "shopping", "app", None, 35),
    ("lazada", "Lazada", "foreign", "shopping", "app", None, 15),
    ("tiki", "Tiki", "vn", "shopping", "app", None, 8),
    ("voso", "Vỏ Sò", "vn", "shopping", "web", None, 0.11),
    ("postmart", "Postmart", "vn", "shopping", "web", None, 0.05),
    ("vnexpress", "VnExpress", "vn", "news", "web", None, 30),
    ("vietnamnet", "Vietnamnet", "vn", "news", "web", None, 10),
    ("nhandan", "Nhân Dân", "vn", "news", "web", None, 0.8),
    ("vtvgo", "VTV Go", "vn", "news", "app", None, 5.89),
    ("sskdt", "Sổ sức khỏe điện tử", "vn", "health", "app", None, 19.9),
    ("pc-covid", "PC-Covid", "vn", "health", "app", None, 12),
    ("traveloka", "Traveloka", "foreign", "travel", "app", None, 2),
    ("mytour", "Mytour", "vn", "travel", "app", None, 0.5),
    ("vnedu", "vnEdu", "vn", "education", "app", None, 4),
    ("k12online", "K12Online", "vn", "education", "web", None, 1),
    ("momo", "MoMo", "vn", "payments", "app", None, 20),
    ("zalopay", "ZaloPay", "vn", "payments", "app", None, 6),
    ("vnpay", "VNPAY", "vn", "payments", "app", None, 5),
    ("hue-s", "Hue-S", "vn", "public_services", "app", "VN-26", 0.6),
    ("dvcqg", "Cổng dịch vụ công quốc gia", "vn", "public_services", "web", None, 2),
    ("youtube", "YouTube", "foreign", "entertainment", "app", None, 60),
    ("netflix", "Netflix", "foreign", "entertainment", "app", None, 3),
    ("fptplay", "FPT Play", "vn", "entertainment", "app", None, 2.5),
    ("garena", "Garena", "foreign", "games", "app", None, 5),
    ("vng-games", "VNG Games", "vn", "games", "app", None, 3),
]

GENERATE = """
INSERT INTO events (platform, event_id, user_pseudo, type, ts, day, duration_s, bytes, country, province, os,
                    received_at)
WITH
    intDiv(number, {per_user_day:UInt64})                      AS user_day,
    cityHash64(user_day, 1)                                    AS h_platform,
    cityHash64(user_day, 2)                                    AS h_day,
    cityHash64(user_day, 3)                                    AS h_user,
    cityHash64(number, 4)                                      AS h_event,
    arrayFirstIndex(c -> c >= (h_platform % 1000000) / 1000000.0, {cumulative:Array(Float64)}) AS found,
    if(found = 0, length({cumulative:Array(Float64)}), found)  AS p,
    toDate({first_day:Date}) + toIntervalDay(h_day % {days:UInt64}) AS local_day,
    toUInt64(({pools:Array(UInt64)})[p] * pow((h_user % 1000003) / 1000003.0, 2)) AS user_index
SELECT
    ({platforms:Array(String)})[p]                                                     AS platform,
    generateUUIDv4(number)                                                             AS event_id,
    MD5(concat(platform, '/', toString(toStartOfMonth(local_day)), '/', toString(user_index))) AS user_pseudo,
    if(number % {per_user_day:UInt64} = 3 AND h_event % 10 = 0, 'install', 'session') AS type,
    toDateTime64(toDateTime(local_day, 'Asia/Ho_Chi_Minh') + toIntervalSecond(h_event % 86400), 3, 'UTC') AS ts,
    local_day                                                                          AS day,
    toUInt32(h_event % 1800)                                                           AS duration_s,
    (h_event % 20000000)                                                               AS bytes,
    if(h_user % 20 = 0, 'US', 'VN')                                                    AS country,
    if(h_user % 20 = 0, '', ['VN-HN', 'VN-SG', 'VN-DN', 'VN-26', 'VN-HP', 'VN-CT'][1 + h_user % 6]) AS province,
    ['android', 'ios', 'web'][1 + h_day % 3]                                           AS os,
    ts                                                                                 AS received_at
FROM numbers({start:UInt64}, {count:UInt64})
"""

# The raw baseline: the same per (platform, month) integers as the rollups give, straight from `events`.
RAW_DAILY = """
SELECT platform, toStartOfMonth(day) AS month, sum(dau), sum(sessions), sum(installs), sum(duration_s), sum(bytes)
FROM
(
    SELECT platform, day,
           uniqExactIf(user_pseudo, type = 'session')     AS dau,
           countIf(type = 'session')                      AS sessions,
           countIf(type = 'install')                      AS installs,
           sumIf(duration_s, type = 'session')            AS duration_s,
           sumIf(bytes, type = 'session')                 AS bytes
    FROM events
    WHERE (day BETWEEN {start1:Date} AND {end1:Date} OR day BETWEEN {start2:Date} AND {end2:Date}
           OR day BETWEEN {start3:Date} AND {end3:Date})
      AND ({platform:String} = '' OR platform = {platform:String})
    GROUP BY platform, day
)
GROUP BY platform, month
"""
RAW_MONTHLY = """
SELECT platform, toStartOfMonth(day) AS month, uniqExactIf(user_pseudo, type = 'session') AS mau
FROM events
WHERE (day BETWEEN {start1:Date} AND {end1:Date} OR day BETWEEN {start2:Date} AND {end2:Date}
       OR day BETWEEN {start3:Date} AND {end3:Date})
  AND ({platform:String} = '' OR platform = {platform:String})
GROUP BY platform, month
"""
RAW_INSTALLS = """
SELECT platform, toStartOfMonth(day) AS month, countIf(type = 'install') AS installs
FROM events
WHERE day <= {end:Date} AND ({platform:String} = '' OR platform = {platform:String})
GROUP BY platform, month
HAVING installs > 0
"""
LIVE_INSERT = """
INSERT INTO events (platform, event_id, user_pseudo, type, ts, day, duration_s, bytes, country, province, os,
                    received_at)
SELECT
    ({platforms:Array(String)})[1 + number % length({platforms:Array(String)})] AS platform,
    generateUUIDv4(number)                                                       AS event_id,
    MD5(concat('live/', toString({round:UInt64}), '/', toString(number % 300)))  AS user_pseudo,
    'session'                                                                    AS type,
    toDateTime64(toDateTime({day:Date}, 'Asia/Ho_Chi_Minh') + toIntervalSecond(number), 3, 'UTC') AS ts,
    {day:Date}                                                                   AS day,
    toUInt32(60)                                                                 AS duration_s,
    toUInt64(1000)                                                               AS bytes,
    'VN'                                                                         AS country,
    'VN-HN'                                                                      AS province,
    'android'                                                                    AS os,
    ts                                                                           AS received_at
FROM numbers({count:UInt64})
"""


def open_store(size: int) -> Store:
    path = (OUT / "metrics-chdb").resolve()
    store = Store(Target("chdb", f"chdb://{path}", f"bench_{size}", path))
    return store


def load(store: Store, size: int) -> float:
    """Register the platforms and load `size` events; returns the seconds the load took."""
    store.command(f"DROP DATABASE IF EXISTS {store.database}")
    store.command(f"CREATE DATABASE {store.database}")
    migrate(store)
    registry = Registry(store)
    registry.seed()
    hue = registry.provinces()["VN-26"]
    registry.put_province(Province(hue.code, hue.name, HUE_SMARTPHONE_USERS))
    for pid, name, origin, category, kind, province, _ in PLATFORMS:
        registry.put_platform(Platform(pid, name, f"vendor-{pid}", origin, category, kind, province))
    weights = [w for *_, w in PLATFORMS]
    total = sum(weights)
    cumulative, running = [], 0.0
    for w in weights:
        running += w / total
        cumulative.append(running)
    user_days = size / EVENTS_PER_USER_DAY
    # A pool 8 times the platform's mean drawn user-days per day: with the squared-uniform choice a user is
    # active on a few days a month, as on a real platform (stickiness around 0.1-0.2).
    pools = [max(50, int(user_days * w / total / DAYS * 8)) for w in weights]
    params = {"per_user_day": EVENTS_PER_USER_DAY, "cumulative": cumulative, "first_day": FIRST_DAY,
              "days": DAYS, "pools": pools, "platforms": [p[0] for p in PLATFORMS]}
    began = time.perf_counter()
    for start in range(0, size, CHUNK):
        count = min(CHUNK, size - start)
        store.command(GENERATE, {**params, "start": start, "count": count})
        print(f"  loaded {start + count:,} events in {time.perf_counter() - began:.0f} s", flush=True)
    return time.perf_counter() - began


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def timed(call: Callable[[], Any], times: int) -> tuple[list[float], Any]:
    durations, result = [], None
    for _ in range(times):
        began = time.perf_counter()
        result = call()
        durations.append((time.perf_counter() - began) * 1000)
    return durations, result


def raw_usage(store: Store, periods: Sequence[Period], platform: str | None = None, exact: bool = False) -> Usage:
    """metrics.read_usage, computed from the raw events."""
    padded = list(periods) + [periods[0]] * (3 - len(periods))
    params: dict[str, Any] = {"platform": platform or ""}
    for i, period in enumerate(padded, start=1):
        params[f"start{i}"], params[f"end{i}"] = period.start, period.end
    usage = Usage()
    for pid, month, dau, sessions, installs, duration_s, size in store.rows(RAW_DAILY, params):
        usage.months[(pid, month)] = MonthTotals(0, int(dau), int(sessions), int(installs), int(duration_s),
                                                 int(size))
    for pid, month, mau in store.rows(RAW_MONTHLY, params):
        usage.months.setdefault((pid, month), MonthTotals()).mau = int(mau)
    end = max(p.end for p in periods)
    for pid, month, installs in store.rows(RAW_INSTALLS, {"end": end, "platform": platform or ""}):
        usage.installs_by_month.setdefault(pid, {})[month] = int(installs)
    return usage


def raw_answers(store: Store, registry: Registry, period: Period, platform: str) -> dict[str, Callable[[], Any]]:
    """Each endpoint's answer computed from the raw events (same Python arithmetic as queries.metrics)."""

    def patched(call: Callable[[], Any]) -> Any:
        # The endpoints' own code with the rollup reader swapped for raw_usage, so that only the source differs.
        original = metrics.read_usage
        metrics.read_usage = raw_usage
        try:
            return call()
        finally:
            metrics.read_usage = original

    names = present.platform_names(registry.platforms())
    return {
        "metrics": lambda: patched(lambda: present.platform_metrics_json(
            metrics.platform_metrics(store, registry, platform, period))),
        "rankings": lambda: patched(lambda: present.ranking_json(metrics.rankings(store, registry, period, "mau_avg"))),
        "compare": lambda: patched(lambda: present.origin_comparison_json(
            period, "communication", metrics.compare_origin(store, registry, period, "communication"), names)),
        "overview": lambda: patched(lambda: present.overview_json(metrics.overview(store, registry, period))),
    }


def settle(store: Store, timeout_s: float) -> tuple[float, int]:
    """Wait (up to `timeout_s`) for the background merges the load started, so that they do not share the
    two cores with the measured queries; returns the seconds waited and the merges still running."""
    began = time.perf_counter()
    while True:
        merging = store.command("SELECT count() FROM system.merges WHERE database = {d:String}",
                                {"d": store.database})
        if merging == 0 or time.perf_counter() - began > timeout_s:
            return time.perf_counter() - began, int(merging)
        time.sleep(5)


@dataclass
class Size:
    """One loaded size: its store, its running app and what was measured."""

    size: int
    store: Store
    client: TestClient
    results: dict[str, Any]
    durations: dict[str, list[float]] = field(default_factory=dict)

    def get(self, url: str) -> Any:
        response = self.client.get(url, headers={"Authorization": f"Bearer {ADMIN_KEY}"})
        if response.status_code != 200:
            raise SystemExit(f"{url}: {response.status_code} {response.text}")
        return response.json()


def prepare(size: int, reload: bool, settle_timeout_s: float) -> tuple[Store, dict[str, Any]]:
    """Load `size` events unless this bench left them in place, and wait for background merges."""
    OUT.mkdir(parents=True, exist_ok=True)
    marker = OUT / f"metrics-{size}.loaded"
    store = open_store(size)
    loaded_s = None
    have = store.rows("SELECT count() FROM system.tables WHERE database = {d:String} AND name = 'events'",
                      {"d": store.database})[0][0]
    # The marker holds the event count this bench left (the load plus the live inserts of step 4).
    expected = int(marker.read_text()) if marker.exists() else None
    if reload or not have or store.command("SELECT count() FROM events") != expected:
        print(f"loading {size:,} events into {store.describe()}", flush=True)
        loaded_s = load(store, size)
        marker.write_text(str(size))
    migrate(store)
    store.command("TRUNCATE TABLE IF EXISTS platform_monthly_counts")
    settle_s, merging = settle(store, settle_timeout_s)
    shape = store.rows(
        "SELECT count(), uniqExact(platform), min(day), max(day), countIf(type = 'install') FROM events")[0]
    user_days = store.rows("SELECT sum(dau) FROM (SELECT uniqExactMerge(users) AS dau FROM platform_daily "
                           "GROUP BY platform, day)")[0][0]
    print(f"events {shape[0]:,} on {shape[1]} platforms, {shape[2]} to {shape[3]}, {shape[4]:,} installs, "
          f"{user_days:,} active user-days; waited {settle_s:.0f} s for background merges", flush=True)
    parts = dict(store.rows("SELECT table, count() FROM system.parts WHERE database = {d:String} AND active "
                            "AND table IN ('events', 'platform_monthly') GROUP BY table", {"d": store.database}))
    return store, {"events": size, "load_s": loaded_s, "user_days": user_days, "settle_s": settle_s,
                   "merges_running": merging, "parts": parts, "endpoints": {}}


URLS = {
    "metrics": f"/v1/platforms/zalo/metrics?period={PERIOD}",  # the largest platform
    "rankings": f"/v1/rankings?period={PERIOD}&metric=mau_avg",
    "compare": f"/v1/compare/origin?period={PERIOD}&category=communication",
    "overview": f"/v1/overview?period={PERIOD}",
}


def measure(sizes: list[Size], calls: int, raw_calls: int, live_interval_s: float) -> None:
    """Steps 2-4 for every size; the timed calls of the sizes alternate, so that they share the machine's
    load alike and their ratio compares the data, not the moment."""
    load_before = os.getloadavg()
    for one in sizes:
        one.results["first_ms"] = {name: timed(partial(one.get, url), 1)[0][0] for name, url in URLS.items()}
    for name, url in URLS.items():
        for one in sizes:
            one.durations[name] = []
        for _ in range(calls):
            for one in sizes:
                one.durations[name].extend(timed(partial(one.get, url), 1)[0])
    load_after = os.getloadavg()
    period = parse_period(PERIOD)
    for one in sizes:
        registry = one.client.app.state.services.registry  # type: ignore[attr-defined]
        raws = raw_answers(one.store, registry, period, "zalo")
        for name, url in URLS.items():
            answer = one.get(url)
            raw_durations, raw_answer = timed(raws[name], raw_calls)
            durations = one.durations[name]
            one.results["endpoints"][name] = {
                "first_ms": one.results["first_ms"][name], "p50_ms": statistics.median(durations),
                "p95_ms": percentile(durations, 0.95), "raw_p50_ms": statistics.median(raw_durations),
                "raw_p95_ms": percentile(raw_durations, 0.95),
                "equal": json.dumps(answer, sort_keys=True) == json.dumps(raw_answer, sort_keys=True),
            }
        one.results["load_average_before"], one.results["load_average_after"] = load_before, load_after
        one.results["arriving"] = measure_arriving(one, calls, live_interval_s, period)
        live: list[float] = []
        for round_ in range(calls):
            one.store.command(LIVE_INSERT, {"platforms": [p[0] for p in PLATFORMS], "round": 10**6 + round_,
                                            "day": period.end, "count": 1000})
            live.extend(timed(partial(one.get, URLS["rankings"]), 1)[0])
        one.results["live_rankings"] = {"p50_ms": statistics.median(live), "p95_ms": percentile(live, 0.95)}
        (OUT / f"metrics-{one.size}.loaded").write_text(str(one.store.command("SELECT count() FROM events")))
        print(f"  {one.size:,} events: measured", flush=True)


def measure_arriving(one: Size, calls: int, interval_s: float, period: Period) -> dict[str, Any]:
    """Each endpoint timed while a thread inserts 1,000 sessions every `interval_s` seconds (the calls spaced
    by half that); how many answers had provisional months, and how many events behind their counts were at
    most."""
    stop = threading.Event()
    inserted = [0]

    def arrive() -> None:
        while not stop.is_set():
            one.store.command(LIVE_INSERT, {"platforms": [p[0] for p in PLATFORMS], "round": inserted[0],
                                            "day": period.end, "count": 1000})
            inserted[0] += 1
            stop.wait(interval_s)

    thread = threading.Thread(target=arrive, daemon=True)
    thread.start()
    results: dict[str, Any] = {}
    try:
        for name, url in URLS.items():
            durations, provisional, behind = [], 0, 0
            for _ in range(calls):
                time.sleep(interval_s / 2)  # calls spread between the inserts
                began = time.perf_counter()
                body = one.get(url)
                durations.append((time.perf_counter() - began) * 1000)
                listed = body.get("provisional") or []
                provisional += bool(listed)
                behind = max([behind, *(p["events_now"] - p["events_counted"] for p in listed)])
            results[name] = {"p50_ms": statistics.median(durations), "p95_ms": percentile(durations, 0.95),
                             "provisional_answers": provisional, "max_events_behind": behind}
    finally:
        stop.set()
        thread.join()
    results["inserts"] = inserted[0]
    return results


def report(results: dict[str, Any], base: dict[str, Any] | None, calls: int, raw_calls: int) -> bool:
    size = results["events"]
    print()
    print(f"## {size:,} events (period {PERIOD}; {calls} calls per endpoint, {raw_calls} raw calls)")
    if results["load_s"] is not None:
        print(f"loading the events took {results['load_s']:.0f} s")
    print(f"active parts when measuring: {results['parts']}; waited {results['settle_s']:.0f} s for background "
          f"merges ({results['merges_running']} still running when measuring)")
    print(f"{results['user_days']:,} active user-days; machine load average (1, 5, 15 min) before the timed "
          f"calls "
          f"{'/'.join(f'{x:.1f}' for x in results['load_average_before'])}, after them "
          f"{'/'.join(f'{x:.1f}' for x in results['load_average_after'])}")
    print()
    print("| endpoint | first call ms | p50 ms | p95 ms | raw p50 ms | raw p95 ms | raw / rollups (p50) | "
          "same answer |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    ok = True
    for name, figures in results["endpoints"].items():
        ratio = figures["raw_p50_ms"] / figures["p50_ms"]
        print(f"| {name} | {figures['first_ms']:.1f} | {figures['p50_ms']:.1f} | {figures['p95_ms']:.1f} | "
              f"{figures['raw_p50_ms']:.1f} | {figures['raw_p95_ms']:.1f} | {ratio:.1f}x | "
              f"{'yes' if figures['equal'] else 'NO'} |")
        ok = ok and figures["equal"]
    live = results["live_rankings"]
    print(f"| rankings, 1,000 new events before each call | | {live['p50_ms']:.1f} | {live['p95_ms']:.1f} | | | | |")
    arriving = results["arriving"]
    print()
    print(f"While events arrive ({arriving['inserts']} inserts of 1,000 sessions during the timed calls):")
    print()
    print("| endpoint | p50 ms | p95 ms | answers with provisional months | most events behind a count |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name in URLS:
        figures = arriving[name]
        print(f"| {name} | {figures['p50_ms']:.1f} | {figures['p95_ms']:.1f} | {figures['provisional_answers']} | "
              f"{figures['max_events_behind']:,} |")
    print()
    for name, figures in results["endpoints"].items():
        under = figures["p50_ms"] < TARGET_P50_MS
        under_arriving = arriving[name]["p50_ms"] < TARGET_P50_MS
        line = (f"{name}: p50 {figures['p50_ms']:.1f} ms {'<' if under else '>='} {TARGET_P50_MS:.0f} ms; while "
                f"events arrive {arriving[name]['p50_ms']:.1f} ms {'<' if under_arriving else '>='} "
                f"{TARGET_P50_MS:.0f} ms")
        if size >= TARGET_SIZE:
            ok = ok and under and under_arriving
        if base is not None and base["events"] < size:
            growth = figures["p50_ms"] / base["endpoints"][name]["p50_ms"]
            held = growth < TARGET_GROWTH
            line += (f"; x{growth:.2f} against {base['events']:,} events "
                     f"({'<' if held else '>='} {TARGET_GROWTH})")
            ok = ok and held
        print(line)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[BASE_SIZE])
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--raw-calls", type=int, default=5)
    parser.add_argument("--reload", action="store_true", help="load the events again even if loaded before")
    parser.add_argument("--live-interval", type=float, default=0.5,
                        help="seconds between the inserts of 1,000 events while the endpoints are timed (step 4)")
    parser.add_argument("--settle-timeout", type=float, default=900.0,
                        help="seconds to wait at most for background merges before measuring")
    args = parser.parse_args(argv)
    prepared = [(size, *prepare(size, args.reload, args.settle_timeout)) for size in sorted(set(args.events))]
    settings = Settings(data_dir=OUT / "metrics-service", admin_key=ADMIN_KEY, rate_limit_rps=1e9,
                        rate_limit_burst=10**9)
    with ExitStack() as stack:
        sizes = [Size(size, store, stack.enter_context(TestClient(create_app(settings, store=store))), results)
                 for size, store, results in prepared]
        measure(sizes, args.calls, args.raw_calls, args.live_interval)
    all_ok = True
    for one in sizes:
        (OUT / f"metrics-{one.size}.json").write_text(json.dumps(one.results, indent=2, default=str))
    base_file = OUT / f"metrics-{BASE_SIZE}.json"
    base = json.loads(base_file.read_text()) if base_file.exists() else None
    for one in sizes:
        all_ok = report(one.results, base if one.size != BASE_SIZE else None, args.calls, args.raw_calls) and all_ok
    print()
    print("targets held" if all_ok else "targets NOT all held (see above)")
    return 0 if all_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
