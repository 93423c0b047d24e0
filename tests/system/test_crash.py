"""Nothing acknowledged is lost, nothing is counted twice: `vnmeter serve` killed with SIGKILL mid-load.

A client posts BATCHES gzip NDJSON batches of EVENTS_PER_BATCH valid events (plus one bad row each)
from two threads and retries every batch, byte for byte, on any error or timeout until it answers 200.
A killer thread SIGKILLs the service at random moments while batches are in flight and restarts it on
the same data directory. Before the first start a probe view that sleeps on every row is added beside the
rollups' views, so that an insert spends most of its time inside the chain of views: the kills land
before, during and after the view inserts. At the end the service is stopped and the data directory is
read by a separate Python process (chDB hosts one directory per process): every acknowledged event must be
stored exactly once, the raw table, the dedup index and the rollups must agree with figures computed
here in plain Python from the client's own log and with each other (`vnmeter verify` finds 0 differences),
the quality counts must account for every stored event, and no raw user value may appear in any table, any
file of the data directory, or the service's output.

Run with `pytest tests/system/test_crash.py -s` to see the figures (docs/RELIABILITY.md records them);
`loadtest/crash_loop.py` runs it many times with other seeds and more kills (CRASH_SEED, CRASH_KILLS,
CRASH_BATCHES in the environment).
"""

from __future__ import annotations

import gzip
import json
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson

from tests.processes import SERVICE_ADMIN_KEY as ADMIN_KEY
from tests.processes import ServiceProcess, free_port

BATCHES = int(os.environ.get("CRASH_BATCHES", "200"))
EVENTS_PER_BATCH = 200
KILLS = int(os.environ.get("CRASH_KILLS", "4"))
CLIENT_THREADS = 2
SEED = int(os.environ.get("CRASH_SEED", "20220331"))
PROBE_SLEEP_PER_ROW_S = 0.0002  # the probe view: ~40 ms per 200-event batch, spent between the other views
VENDOR = "crashvendor"
PLATFORMS = ("crash-a", "crash-b", "crash-c")
USERS_PER_PLATFORM = 3000  # many users with one session a month: distinct counts feel a lost event
RAW_USER_MARKER = "QzRawUser"  # every posted user value contains it; finding it anywhere is a leak
VN = ZoneInfo("Asia/Ho_Chi_Minh")
FIRST_TS = datetime(2023, 12, 31, 12, 0, tzinfo=UTC)  # spans month ends in Vietnam time, including the year end
LAST_TS = datetime(2024, 3, 31, 23, 0, tzinfo=UTC)
REPOSTS = 10  # acknowledged batches posted once more on purpose: they must come back as all duplicates
READY_TIMEOUT_S = 60.0
# A guard against a hung load, not a speed target: on a 2-core machine shared with a test suite, 400 batches
# and 20 kills took over 240 s with every answer a 200.
LOAD_TIMEOUT_S = 60.0 + 1.5 * BATCHES

VERIFY_SCRIPT = r"""
import json, sys
from pathlib import Path
from queries.store import open_store

data_dir, marker = Path(sys.argv[1]), sys.argv[2]
store = open_store(None, data_dir)
out = {}
out["events"] = store.rows("SELECT count(), uniqExact(platform, event_id) FROM events")[0]
out["repeated"] = [list(r) for r in store.rows(
    "SELECT platform, toString(event_id), count() AS n FROM events GROUP BY platform, event_id HAVING n > 1 "
    "ORDER BY platform, event_id LIMIT 5")]
out["ids"] = [list(r) for r in store.rows("SELECT platform, toString(event_id) FROM events")]
out["index"] = store.rows("SELECT count(), uniqExact(platform, id128) FROM event_keys")[0]
out["index_vs_events"] = store.rows(
    "SELECT count() FROM (SELECT platform, id128 FROM event_keys "
    "EXCEPT DISTINCT SELECT platform, toUInt128(event_id) FROM events)"
)[0][0] + store.rows(
    "SELECT count() FROM (SELECT platform, toUInt128(event_id) FROM events "
    "EXCEPT DISTINCT SELECT platform, id128 FROM event_keys)"
)[0][0]
out["raw"] = {p: list(r) for p, *r in store.rows(
    "SELECT platform, countIf(type = 'session'), countIf(type = 'install'), sumIf(duration_s, type = 'session'), "
    "sumIf(bytes, type = 'session') FROM events GROUP BY platform")}
out["daily"] = {p: list(r) for p, *r in store.rows(
    "SELECT platform, sum(sessions), sum(installs), sum(duration_s), sum(bytes) FROM platform_daily GROUP BY platform")}
out["mau_raw"] = [[p, str(m), n] for p, m, n in store.rows(
    "SELECT platform, toStartOfMonth(day) AS m, uniqExact(user_pseudo) FROM events WHERE type = 'session' "
    "GROUP BY platform, m")]
out["mau_rollup"] = [[p, str(m), n] for p, m, n in store.rows(
    "SELECT platform, month, uniqExactMerge(users) FROM platform_monthly GROUP BY platform, month")]
leaks = []
tables = [r[0] for r in store.rows(
    "SELECT name FROM system.tables WHERE database = {db:String} AND engine NOT LIKE '%View%'",
    {"db": store.database})]
for table in tables:
    dump = store.client.raw_query(f"SELECT * FROM `{table}` FORMAT TabSeparated")
    if marker.encode() in dump:
        leaks.append([table, dump.count(marker.encode())])
out["tables_scanned"] = tables
out["table_leaks"] = leaks[:20]
out["quality"] = {f"{p}/{o}": n for p, o, n in store.rows(
    "SELECT platform, toString(outcome), sum(events) FROM ingest_quality GROUP BY platform, outcome")}
out["stored_by_platform"] = {p: n for p, n in store.rows("SELECT platform, count() FROM events GROUP BY platform")}
store.close()
print(json.dumps(out, default=str))
"""


@dataclass
class Batch:
    index: int
    rows: list[dict[str, Any]]  # the valid events, as posted
    body: bytes  # the exact bytes sent on every attempt (gzip NDJSON, valid rows plus one bad row)


@dataclass
class Log:
    """What the client saw."""

    acked: dict[int, dict[str, Any]] = field(default_factory=dict)  # batch index -> the 200 answer
    attempts: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    reposts: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


PROBE_SCRIPT = r"""
import sys
from pathlib import Path
from queries.migrate import migrate
from queries.store import open_store

store = open_store(None, Path(sys.argv[1]))
migrate(store)
store.command("CREATE TABLE IF NOT EXISTS crash_probe (n UInt64) ENGINE = Null")
store.command(f"CREATE MATERIALIZED VIEW IF NOT EXISTS crash_probe_mv TO crash_probe AS "
              f"SELECT count() AS n FROM events WHERE sleepEachRow({sys.argv[2]}) = 0")
store.close()
"""


def add_probe_view(data_dir: Path) -> None:
    """A view on `events` that sleeps on every row (into a Null table): inserts then spend most of their time
    inside the chain of views, where a kill is the most likely to split them."""
    made = subprocess.run([sys.executable, "-c", PROBE_SCRIPT, str(data_dir), str(PROBE_SLEEP_PER_ROW_S)],
                          capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert made.returncode == 0, made.stderr[-2000:]


def verify_cli(data_dir: Path, period: str) -> subprocess.CompletedProcess[str]:
    """`vnmeter verify --period P` on the stopped service's data directory, as an operator runs it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VNMETER_")}
    env.update(VNMETER_DATA_DIR=str(data_dir), VNMETER_ADMIN_KEY=ADMIN_KEY)
    script = Path(sys.executable).with_name("vnmeter")
    base = [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]
    return subprocess.run([*base, "verify", "--period", period], capture_output=True, text=True, timeout=300,
                          env=env, cwd=data_dir.parent)


def make_batches(rng: random.Random) -> list[Batch]:
    span = (LAST_TS - FIRST_TS).total_seconds()
    batches = []
    for index in range(BATCHES):
        rows = []
        for _ in range(EVENTS_PER_BATCH):
            platform = rng.choice(PLATFORMS)
            ts = FIRST_TS + timedelta(seconds=rng.uniform(0, span))
            rows.append({
                "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "platform": platform,
                "user": f"{RAW_USER_MARKER}-{rng.randrange(USERS_PER_PLATFORM):04d}",
                "type": "install" if rng.random() < 0.1 else "session",
                "ts": ts.isoformat(timespec="milliseconds"),
                "duration_s": rng.randrange(0, 3601),
                "bytes": rng.randrange(0, 10_000_001),
                "os": rng.choice(["android", "ios"]),
            })
        bad = {"event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)), "platform": PLATFORMS[0],
               "user": f"{RAW_USER_MARKER}-bad", "ts": "2024-01-15T10:00:00+07:00", "duration_s": "60"}
        lines = [orjson.dumps(row) for row in rows]
        lines.insert(rng.randrange(len(lines) + 1), orjson.dumps(bad))
        body = gzip.compress(b"\n".join(lines) + b"\n", mtime=0)
        batches.append(Batch(index, rows, body))
    return batches


def post_until_ok(client: httpx.Client, batch: Batch, log: Log, stop: threading.Event) -> dict[str, Any]:
    """POST the batch again and again (same bytes) until the service answers 200."""
    headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}
    while not stop.is_set():
        with log.lock:
            log.attempts += 1
        try:
            response = client.post("/v1/events", content=batch.body, headers=headers)
        except httpx.HTTPError as exc:
            problem = type(exc).__name__
        else:
            if response.status_code == 200:
                answer: dict[str, Any] = response.json()
                return answer
            problem = f"HTTP {response.status_code}"
        with log.lock:
            log.failures[problem] += 1
        time.sleep(0.05)
    raise AssertionError("stopped before the batch was acknowledged")


def run_client(url: str, key: str, batches: list[Batch], log: Log, next_batch: Iterator[int],
               next_lock: threading.Lock, stop: threading.Event, rng: random.Random) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as client:
        while not stop.is_set():
            with next_lock:
                index = next(next_batch, None)
            if index is None:
                return
            batch = batches[index]
            answer = post_until_ok(client, batch, log, stop)
            with log.lock:
                log.acked[index] = answer
                repost = len(log.reposts) < REPOSTS and rng.random() < REPOSTS / BATCHES * 2
                slot = len(log.reposts)  # this thread's own slot: the other client may append meanwhile
                if repost:
                    log.reposts.append({})
            if repost:
                again = post_until_ok(client, batch, log, stop)
                with log.lock:
                    log.reposts[slot] = {"index": index, **again}


def run_killer(service: ServiceProcess, log: Log, thresholds: list[int], done: threading.Event, stop: threading.Event,
               rng: random.Random, errors: list[BaseException]) -> None:
    """SIGKILL the service when the client has acknowledged `threshold` batches (plus a random delay)."""
    try:
        for threshold in thresholds:
            while len(log.acked) < threshold and not done.is_set():
                time.sleep(0.005)
            if done.is_set():
                return
            time.sleep(rng.uniform(0, 0.15))
            service.kill()
            service.start()
    except BaseException as exc:  # reported by the test thread; the clients give up
        errors.append(exc)
        stop.set()


def expected_figures(batches: list[Batch]) -> tuple[dict[str, list[int]], dict[tuple[str, str], int]]:
    """Per platform [sessions, installs, session seconds, session bytes] and distinct session users per
    platform and Vietnam-time month, computed from the posted events alone."""
    sums: dict[str, list[int]] = {p: [0, 0, 0, 0] for p in PLATFORMS}
    users: dict[tuple[str, str], set[str]] = defaultdict(set)
    for batch in batches:
        for row in batch.rows:
            figures = sums[row["platform"]]
            if row["type"] == "install":
                figures[1] += 1
                continue
            figures[0] += 1
            figures[2] += row["duration_s"]
            figures[3] += row["bytes"]
            local = datetime.fromisoformat(row["ts"]).astimezone(VN).date()
            users[(row["platform"], date(local.year, local.month, 1).isoformat())].add(row["user"])
    return sums, {k: len(v) for k, v in users.items()}


def sessions_in_2024_q1(batches: list[Batch]) -> dict[str, tuple[int, int]]:
    counts: dict[str, list[int]] = {p: [0, 0] for p in PLATFORMS}
    for batch in batches:
        for row in batch.rows:
            local = datetime.fromisoformat(row["ts"]).astimezone(VN)
            if local.year == 2024 and local.month <= 3:
                counts[row["platform"]][0 if row["type"] == "session" else 1] += 1
    return {p: (c[0], c[1]) for p, c in counts.items()}


def files_containing(root: Path, needle: bytes) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if needle in path.read_bytes():
                    found.append(str(path.relative_to(root)))
            except OSError:
                continue  # a file removed by a merge while we walked
    return found


def test_sigkill_mid_load_loses_nothing_and_counts_nothing_twice(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    batches = make_batches(rng)
    data_dir, log_dir = tmp_path / "data", tmp_path / "logs"
    log_dir.mkdir()
    service = ServiceProcess(data_dir, free_port(), log_dir)
    add_probe_view(data_dir)
    service.start()
    admin = httpx.Client(base_url=service.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)
    try:
        for platform in PLATFORMS:
            body = {"name": platform, "vendor": VENDOR, "origin": "vn", "category": "communication", "kind": "app",
                    "province": None}
            assert admin.put(f"/v1/platforms/{platform}", json=body).status_code == 200
        created = admin.post("/v1/keys", json={"role": "vendor", "vendor": VENDOR})
        assert created.status_code == 201, created.text
        vendor_key = created.json()["key"]

        log, stop, done = Log(), threading.Event(), threading.Event()
        order = iter(range(BATCHES))
        order_lock = threading.Lock()
        thresholds = sorted(rng.sample(range(BATCHES // 10, BATCHES - BATCHES // 10), KILLS))
        killer_errors: list[BaseException] = []
        killer = threading.Thread(target=run_killer, args=(service, log, thresholds, done, stop,
                                                           random.Random(SEED + 1), killer_errors), daemon=True)
        clients = [threading.Thread(target=run_client, args=(service.url, vendor_key, batches, log, order, order_lock,
                                                             stop, random.Random(SEED + 2 + n)), daemon=True)
                   for n in range(CLIENT_THREADS)]
        started = time.monotonic()
        killer.start()
        for thread in clients:
            thread.start()
        deadline = started + LOAD_TIMEOUT_S
        for thread in clients:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        done.set()
        killer.join(timeout=90)
        stop.set()
        elapsed = time.monotonic() - started
        assert not killer_errors, killer_errors
        assert sorted(log.acked) == list(range(BATCHES)), "every batch must end with a 200"
        assert service.kills == KILLS

        # what the running service reports, where the metrics endpoint exists already
        paths = admin.get("/openapi.json").json()["paths"]
        served: dict[str, tuple[int, int]] = {}
        if "/v1/platforms/{platform_id}/metrics" in paths:
            for platform in PLATFORMS:
                metrics = admin.get(f"/v1/platforms/{platform}/metrics", params={"period": "2024-Q1"})
                assert metrics.status_code == 200, metrics.text
                served[platform] = (metrics.json()["sessions"], metrics.json()["installs"])
    finally:
        admin.close()
        service.stop()

    verified = subprocess.run([sys.executable, "-c", VERIFY_SCRIPT, str(data_dir), RAW_USER_MARKER],
                              capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parents[2])
    assert verified.returncode == 0, verified.stderr[-3000:]
    stored = json.loads(verified.stdout)
    verifications = {period: verify_cli(data_dir, period) for period in ("2023", "2024")}

    posted = {(row["platform"], row["event_id"]) for batch in batches for row in batch.rows}
    acknowledged = {(row["platform"], row["event_id"]) for i in log.acked for row in batches[i].rows}
    stored_ids = {(platform, event_id) for platform, event_id in stored["ids"]}
    accepted = sum(answer["accepted"] for answer in log.acked.values())
    duplicates = sum(answer["duplicates"] for answer in log.acked.values())
    figures = {
        "events_posted": len(posted), "rows_posted_including_bad": BATCHES * (EVENTS_PER_BATCH + 1),
        "batches_acknowledged": len(log.acked), "events_acknowledged": len(acknowledged),
        "events_stored": stored["events"][0], "distinct_events_stored": stored["events"][1],
        "acknowledged_but_missing": len(acknowledged - stored_ids), "stored_rows_in_excess": len(stored["ids"]) - len(
            stored_ids), "accepted_in_final_answers": accepted, "duplicates_in_final_answers": duplicates,
        "reposted_batches": len(log.reposts), "http_attempts": log.attempts, "failed_attempts": dict(log.failures),
        "sigkills_survived": service.kills, "service_starts": service.starts,
        "seconds_to_ready_per_start": service.start_seconds,
        "metrics_endpoint_checked": bool(served), "seconds": round(elapsed, 1),
    }
    print("\ncrash-test figures:", json.dumps(figures))

    # Every check is evaluated, so that a failure reports all that went wrong at once.
    sums, mau = expected_figures(batches)
    checks: list[tuple[str, Any, Any]] = [  # (what, found, expected)
        ("every posted event was acknowledged", len(acknowledged), len(posted)),
        ("acknowledged events missing from storage", sorted(acknowledged - stored_ids)[:5], []),
        ("stored events that were never posted", sorted(stored_ids - acknowledged)[:5], []),
        ("events stored more than once (platform, id, copies)", stored["repeated"], []),
        ("rows in events / distinct (platform, event_id)", stored["events"], [len(posted), len(posted)]),
        ("rows in the dedup index / distinct", stored["index"], [len(posted), len(posted)]),
        ("pairs in only one of event_keys and events", stored["index_vs_events"], 0),
        ("raw events: sessions, installs, session seconds, bytes per platform", stored["raw"], sums),
        ("platform_daily rollup: the same sums", stored["daily"], sums),
        ("distinct session users per platform and month, raw events",
         {(p, m): n for p, m, n in stored["mau_raw"]}, mau),
        ("distinct session users per platform and month, platform_monthly rollup",
         {(p, m): n for p, m, n in stored["mau_rollup"]}, mau),
        ("GET /v1/platforms/{id}/metrics?period=2024-Q1 (sessions, installs)",
         served, sessions_in_2024_q1(batches) if served else {}),
        ("`vnmeter verify --period P`: exit status and last line",
         {p: (v.returncode, v.stdout.strip().splitlines()[-1] if v.stdout.strip() else v.stderr[-500:])
          for p, v in verifications.items()},
         {p: (0, f"vnmeter: {p}: 0 differences between the rollups and the raw events") for p in verifications}),
        ("ingest_quality: accepted rows per platform = events stored",
         {p: stored["quality"].get(f"{p}/accepted", 0) for p in PLATFORMS}, stored["stored_by_platform"]),
        ("ingest_quality: every acknowledged batch's bad row counted (at least once: retries count too)",
         stored["quality"].get("crash-a/rejected", 0) >= BATCHES, True),
        ("re-posted acknowledged batches answer (accepted, duplicates, reasons)",
         [(r["accepted"], r["duplicates"], [x["reason"] for x in r["rejected"]]) for r in log.reposts],
         [(0, EVENTS_PER_BATCH, ["invalid_field"])] * len(log.reposts)),
        ("each 200 answer covers its batch: accepted + duplicates, reasons",
         sorted({(a["accepted"] + a["duplicates"], tuple(x["reason"] for x in a["rejected"]))
                 for a in log.acked.values()}), [(EVENTS_PER_BATCH, ("invalid_field",))]),
        # privacy: no raw user value in any table, any file of the data directory or the service's output
        ("tables holding a raw user value", stored["table_leaks"], []),
        ("files of the data directory holding a raw user value",
         files_containing(data_dir, RAW_USER_MARKER.encode()), []),
        ("service output lines holding a raw user value",
         [line for line in service.output().splitlines() if RAW_USER_MARKER in line][:5], []),
    ]
    assert {"events", "pseudonym_keys", "platform_daily"} <= set(stored["tables_scanned"])
    assert log.reposts, "the client re-posts some acknowledged batches"
    failed = [f"{what}: found {found!r}, expected {expected!r}" for what, found, expected in checks
              if found != expected]
    assert not failed, "\n".join(failed)
