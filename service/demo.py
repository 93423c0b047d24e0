"""`vnmeter demo`: fill an empty store with a scaled-down dataset that reproduces the Q1/2022 report.

The platforms, their average monthly users (or website visits), daily seconds per user and MB per user
per month for Q1/2021 and Q1/2022 are in service/demo/platforms.csv, at real scale, as the report gives
them. The demo divides users by `users_scale` and website visits by `visits_scale`, generates events
whose exact totals give those figures (each app user is active on one day of each month with one session
event carrying that day's seconds and bytes; offsets around the mean cancel in pairs, so means are exact),
and posts them through the ingestion pipeline as gzip NDJSON batches, one vendor key per vendor. Then it
scales the provinces' smartphone users the same way, generates the 2022-Q1 summary and writes its files.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import random
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import orjson

from ingest.limits import MAX_EVENTS_PER_REQUEST
from queries.periods import Period, parse_period
from queries.registry import Platform, Province
from queries.store import Store
from queries.summaries import BAND_EDGES, SummaryVersion
from service.context import Services
from service.summaries import summaries_of
from service.summaries.render import write_files

USERS_SCALE = 2_000
VISITS_SCALE = 10_000
VISITS_PER_VISITOR = 6
BATCH_EVENTS = MAX_EVENTS_PER_REQUEST
MONTH_SPREAD = 0.002
"""Monthly users vary by ±0.2% around the average (February highest), the average staying exact."""
DEMO_STATE = "demo_scale"
"""service_state row written by `vnmeter demo`: JSON {"users": n, "visits": m}, the dataset's scale factors."""
PERIODS = {"2021-Q1": "avg_2021_q1", "2022-Q1": "avg_2022_q1"}
SUMMARY_PERIOD = "2022-Q1"
SEED = 20220401


def demo_scale(store: Store) -> dict[str, int] | None:
    """The scale factors `vnmeter demo` recorded in this store, or None for real data."""
    rows = store.rows("SELECT argMax(value, updated_at) FROM service_state WHERE name = {n:String} "
                      "HAVING count() > 0", {"n": DEMO_STATE})
    if not rows or not rows[0][0]:
        return None
    value = json.loads(rows[0][0])
    return {"users": int(value["users"]), "visits": int(value["visits"])}


def summary_band_edges(scale: dict[str, int] | None) -> tuple[int, ...]:
    """The summary's user bands, scaled down as the demo's users are (the real edges for real data)."""
    return tuple(edge // scale["users"] for edge in BAND_EDGES) if scale else BAND_EDGES


class DemoError(Exception):
    """The demo cannot run here; the message says why."""


@dataclass(frozen=True)
class DemoPlatform:
    platform: Platform
    averages: dict[str, int | None]  # period -> average monthly users (apps) or visits (websites), real scale
    peak_2022_q1: int | None
    seconds_per_day: int
    bytes_per_month: int
    installs_total: int | None


@dataclass(frozen=True)
class MonthPlan:
    """What one platform does in one month, at demo scale."""

    platform: DemoPlatform
    month: date
    active: int  # apps: active users; websites: visits
    seed: int

    @property
    def events(self) -> int:
        return self.active


@dataclass(frozen=True)
class DemoResult:
    events: int
    accepted: int
    seconds: float
    version: SummaryVersion
    files: dict[str, Path]


def load_platforms() -> list[DemoPlatform]:
    text = (resources.files("service") / "demo" / "platforms.csv").read_text(encoding="utf-8")
    out = []
    for row in csv.DictReader(text.splitlines()):
        platform = Platform(row["platform_id"], row["name"], row["vendor"], row["origin"], row["category"],
                            row["kind"], row["province"] or None)
        out.append(DemoPlatform(
            platform, {period: int(row[column]) if row[column] else None for period, column in PERIODS.items()},
            int(row["peak_2022_q1"]) if row["peak_2022_q1"] else None, int(row["seconds_per_day"]),
            round(float(row["mb_per_month"]) * 1_000_000),
            int(row["installs_total"]) if row["installs_total"] else None))
    return out


def scaled(value: float, scale: int) -> int:
    """Half-up rounding to a whole number of users or visits, at least one."""
    return max(1, int(value / scale + 0.5))


def monthly(average: int, months: int, peak: int | None) -> list[int]:
    """Monthly figures whose mean is exactly `average`: the peak month first if given, else February highest."""
    total = average * months
    if peak is not None:
        rest = total - peak
        return [peak] + [rest // (months - 1) + (1 if i < rest % (months - 1) else 0) for i in range(months - 1)]
    spread = round(average * MONTH_SPREAD)
    return [average - spread, average + spread, average] if months == 3 else [average] * months


def plan(platforms: list[DemoPlatform], users_scale: int, visits_scale: int) -> list[MonthPlan]:
    plans = []
    for index, demo in enumerate(platforms):
        scale = users_scale if demo.platform.kind == "app" else visits_scale
        for label, average in demo.averages.items():
            if average is None:
                continue
            period = parse_period(label)
            peak = scaled(demo.peak_2022_q1, scale) if label == SUMMARY_PERIOD and demo.peak_2022_q1 else None
            for number, (month, active) in enumerate(zip(period.months, monthly(scaled(average, scale), period.k,
                                                                                  peak), strict=True)):
                plans.append(MonthPlan(demo, month, active, SEED + index * 1000 + month.year * 12 + number))
    return plans


def _days_in(month: date) -> int:
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return (following - month).days


def _offsets(count: int, mean: int, rng: random.Random) -> Iterator[int]:
    """`count` non-negative integers with mean exactly `mean`: pairs of +d and -d, then `mean` if odd."""
    for _ in range(count // 2):
        delta = rng.randint(0, mean * 3 // 10)
        yield mean + delta
        yield mean - delta
    if count % 2:
        yield mean


def month_events(month_plan: MonthPlan) -> Iterator[dict[str, Any]]:
    """The month's session events: one per active user for an app, one per visit for a website."""
    demo, month = month_plan.platform, month_plan.month
    rng = random.Random(month_plan.seed)
    days = _days_in(month)
    web = demo.platform.kind == "web"
    visitors = math.ceil(month_plan.active / VISITS_PER_VISITOR) if web else month_plan.active
    durations = _offsets(month_plan.active, demo.seconds_per_day, rng)
    sizes = _offsets(month_plan.active, demo.bytes_per_month if not web else demo.bytes_per_month // 4, rng)
    for n, (duration, size) in enumerate(zip(durations, sizes, strict=True)):
        user = n % visitors
        day = month + timedelta(days=(user * 7 + n // visitors * 3 + month.month) % days)
        minute = 6 * 60 + rng.randrange(16 * 60)
        event: dict[str, Any] = {
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "platform": demo.platform.platform_id,
            "user": f"{demo.platform.platform_id}-{user}",
            "ts": f"{day.isoformat()}T{minute // 60:02d}:{minute % 60:02d}:00+07:00",
            "duration_s": duration,
            "bytes": size,
            "os": "web" if web else ("android" if rng.random() < 0.72 else "ios"),
        }
        if demo.platform.province:
            event["province"] = demo.platform.province
        yield event


def install_events(demo: DemoPlatform, users_scale: int) -> Iterator[dict[str, Any]]:
    """Installs spread over the year before the end of February 2022 (the report counts them to then)."""
    if not demo.installs_total:
        return
    rng = random.Random(SEED + zlib.crc32(demo.platform.platform_id.encode()))
    end = datetime(2022, 2, 28, 16, 0, tzinfo=UTC)
    for n in range(scaled(demo.installs_total, users_scale)):
        at = end - timedelta(minutes=rng.randrange(365 * 24 * 60))
        yield {"event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
               "platform": demo.platform.platform_id, "user": f"{demo.platform.platform_id}-i{n}", "type": "install",
               "ts": at.isoformat().replace("+00:00", "Z")}


class Progress:
    """A one-line text progress bar on a stream (stderr by default)."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 40):
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.started = time.monotonic()
        self._lock = threading.Lock()

    def advance(self, count: int) -> None:
        with self._lock:
            self.done += count
            filled = self.width * self.done // self.total
            rate = self.done / max(time.monotonic() - self.started, 1e-6)
            self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {100 * self.done // self.total:3d}% "
                              f"{self.done:,}/{self.total:,} events ({rate:,.0f}/s)")
            self.stream.flush()

    def finish(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


def check_empty(ctx: Services) -> None:
    events = ctx.store.command("SELECT count() FROM events")
    if events:
        raise DemoError(f"the store already holds {events:,} event{'' if events == 1 else 's'}; the demo only fills "
                        "an empty store. Run it on a fresh data directory, e.g. "
                        "VNMETER_DATA_DIR=var/demo python3 dev.py vnmeter demo (var/ is git-ignored)")


def run_demo(ctx: Services, users_scale: int = USERS_SCALE, visits_scale: int = VISITS_SCALE,
             out: Callable[[str], None] = print, progress_stream: TextIO | None = None,
             workers: int = 2) -> DemoResult:
    """Fill the (empty) store behind `ctx`, generate the 2022-Q1 summary and write its files."""
    check_empty(ctx)
    started = time.monotonic()
    platforms = load_platforms()
    out(f"vnmeter demo: {len(platforms)} platforms; users scaled 1:{users_scale:,}, website visits (and visitors) "
        f"1:{visits_scale:,}, provinces' smartphone users 1:{users_scale:,}")
    for demo in platforms:
        ctx.registry.put_platform(demo.platform)
    for province in ctx.registry.provinces().values():
        if province.smartphone_users is not None:
            ctx.registry.put_province(Province(province.code, province.name,
                                               int(province.smartphone_users / users_scale + 0.5)))
    vendors = sorted({demo.platform.vendor for demo in platforms})
    principals = {}
    for vendor in vendors:  # one vendor key per vendor, authenticated as the API would
        _, key = ctx.keys.create("vendor", vendor)
        principal = ctx.keys.authenticate(key)
        assert principal is not None and principal.vendor == vendor
        principals[vendor] = principal

    plans = plan(platforms, users_scale, visits_scale)
    installs = {demo.platform.platform_id: scaled(demo.installs_total, users_scale)
                for demo in platforms if demo.installs_total}
    total = sum(p.events for p in plans) + sum(installs.values())
    bar = Progress(total, progress_stream)
    accepted = 0
    problems: list[str] = []

    def post(vendor: str, body: bytes) -> int:
        result = ctx.ingestor.ingest(body, "application/x-ndjson", "gzip", principals[vendor].vendor or vendor)
        if result.rejected:
            problems.append(f"{vendor}: {result.rejected[0]}")
        return result.accepted

    with ThreadPoolExecutor(workers, thread_name_prefix="vnmeter-demo") as pool:
        pending: list[tuple[Future[int], int]] = []
        for vendor, body, count in _batches(platforms, plans, users_scale):
            pending.append((pool.submit(post, vendor, body), count))
            while len(pending) > workers * 2:
                future, size = pending.pop(0)
                accepted += future.result()
                bar.advance(size)
        for future, size in pending:
            accepted += future.result()
            bar.advance(size)
    bar.finish()
    if problems or accepted != total:
        raise DemoError(f"ingestion accepted {accepted:,} of {total:,} events; first problem: "
                        f"{problems[0] if problems else 'duplicates'}")
    ingested = time.monotonic() - started
    out(f"vnmeter demo: posted {total:,} events in {ingested:.1f} s through the ingestion pipeline "
        f"({len(vendors)} vendors, gzip NDJSON batches of up to {BATCH_EVENTS:,})")

    ctx.store.insert("service_state", [[DEMO_STATE, json.dumps({"users": users_scale, "visits": visits_scale}),
                                        datetime.now(UTC)]], ["name", "value", "updated_at"])
    period: Period = parse_period(SUMMARY_PERIOD)
    version = summaries_of(ctx).generate(period, "cli", "demo")
    files = write_files(version, ctx.settings.data_dir)
    return DemoResult(total, accepted, time.monotonic() - started, version, files)


def _batches(platforms: list[DemoPlatform], plans: list[MonthPlan], users_scale: int
             ) -> Iterator[tuple[str, bytes, int]]:
    """(vendor, gzip NDJSON body, events) for every batch, each batch holding one vendor's events."""
    by_vendor: dict[str, list[Iterator[dict[str, Any]]]] = {}
    for month_plan in plans:
        by_vendor.setdefault(month_plan.platform.platform.vendor, []).append(month_events(month_plan))
    for demo in platforms:
        if demo.installs_total:
            by_vendor.setdefault(demo.platform.vendor, []).append(install_events(demo, users_scale))
    for vendor, streams in by_vendor.items():
        lines: list[bytes] = []
        for stream in streams:
            for event in stream:
                lines.append(orjson.dumps(event))
                if len(lines) == BATCH_EVENTS:
                    yield vendor, gzip.compress(b"\n".join(lines), compresslevel=1), len(lines)
                    lines = []
        if lines:
            yield vendor, gzip.compress(b"\n".join(lines), compresslevel=1), len(lines)


def headline(version: SummaryVersion) -> list[str]:
    """The report's headline figures as the demo's summary shows them, multiplied back by the scale."""
    figures = version.figures
    demo = figures.get("demo") or {"users": 1, "visits": 1}
    rows = {row["platform"]: row for block in figures["categories"] for row in block["platforms"]}
    lines = []
    for pid, label in (("zalo", "Zalo"), ("messenger", "Messenger"), ("mocha", "Mocha"), ("be", "Be"),
                       ("viettelpost", "Viettel Post"), ("vtvgo", "VTV Go"), ("sosuckhoe", "Sổ sức khỏe điện tử"),
                       ("vietcombank", "Vietcombank")):
        if pid in rows:
            row = rows[pid]
            lines.append(f"{label}: average MAU {row['mau_avg']:,.0f} x {demo['users']:,} = "
                         f"{row['mau_avg'] * demo['users'] / 1e6:,.2f} million; "
                         f"{row['minutes_per_user_day']:.1f} min/day; {row['mb_per_user_month']:.1f} MB/month")
    if "vnexpress" in rows:
        lines.append(f"VnExpress: {rows['vnexpress']['sessions_per_month'] * demo['visits'] / 1e6:,.2f} million "
                     "visits/month")
    for pid in ("anvui", "vexere"):
        if pid in rows and rows[pid]["yoy"]["mau_avg"] is not None:
            lines.append(f"{rows[pid]['name']}: average MAU {100 * rows[pid]['yoy']['mau_avg']:+.0f}% on 2021-Q1")
    share = figures.get("data_share")
    if share:
        lines.append(f"Data per user per month, top 5 communication apps: Vietnamese {share['vn']['total']:.1f} MB "
                     f"({100 * share['vn']['share']:.2f}%) vs foreign {share['foreign']['total']:.1f} MB "
                     f"({100 * share['foreign']['share']:.2f}%), ratio {share['ratio_vn_to_foreign']:.2f}")
    for row in figures["provincial"]:
        if row["penetration"] is not None:
            lines.append(f"{row['name']}: peak MAU {row['mau_peak']:,} = {100 * row['penetration']:.1f}% of the "
                         f"province's smartphone users ({row['smartphone_users']:,}, scaled 1:{demo['users']:,})")
    return lines
