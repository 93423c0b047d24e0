"""Run the locust load test against a fresh `vnmeter serve` on loopback, print the figures, clean up.

    .venv/bin/python loadtest/run.py [--users 20] [--spawn-rate 10] [--time 60s] [--max-batches 400]

Starts the service as a subprocess on a new temporary data directory with a generated admin key,
creates three vendors with two platforms each, their vendor keys and an analyst key, generates an
(empty) 2022-Q1 summary, runs locust headless for the given time and users, then prints per endpoint
the requests, failures, requests per second and p50/p95/p99 latencies, and the event counters:
posted, accepted, duplicates absorbed, rejected. Finally it stops the service, opens the data
directory itself and checks that the events stored are exactly those acknowledged, and that no raw
user value reached the data directory or the service's output. Exit status 1 if any check fails.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
LOCUSTFILE = ROOT / "loadtest" / "locustfile.py"
PERIOD = "2022-Q1"
MONTHS = ("2022-01-01T00:00:00", "2022-03-31T16:59:59")  # Vietnam-time Q1 2022, in UTC
VENDORS = {
    "vng": [("zalo", "vn", "communication"), ("zingmp3", "vn", "entertainment")],
    "meta": [("messenger", "foreign", "communication"), ("facebook", "foreign", "social")],
    "grab": [("grab", "foreign", "mobility"), ("be", "vn", "mobility")],
}
RAW_USER_PREFIX = "LoadRawUser"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_service(data_dir: Path, port: int, admin_key: str, log: Path, *, env: dict[str, str] | None = None,
                  command: list[str] | None = None, health_port: int | None = None) -> subprocess.Popen[bytes]:
    """`vnmeter serve` (or `command ... serve`) on loopback with a fresh data directory, once it is ready; `env`
    adds settings, `health_port` is passed on as --health-port and asked whether the service is ready."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("VNMETER_")}
    environment.update(VNMETER_DATA_DIR=str(data_dir), VNMETER_ADMIN_KEY=admin_key, **(env or {}))
    if command is None:
        script = Path(sys.executable).with_name("vnmeter")
        command = [str(script)] if script.exists() else [sys.executable, "-m", "service.cli"]
    arguments = ["serve", "--host", "127.0.0.1", "--port", str(port)]
    if health_port is not None:
        arguments += ["--health-port", str(health_port)]
    with log.open("wb") as out:
        process = subprocess.Popen([*command, *arguments], env=environment, cwd=data_dir.parent, stdout=out,
                                   stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"vnmeter serve exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{health_port or port}/health/ready", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("vnmeter serve was not ready within 60 s")


def stop_service(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def set_up(url: str, admin_key: str) -> dict[str, Any]:
    """Platforms, keys and an empty summary; returns the locustfile's configuration."""
    vendors = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60) as admin:
        for vendor, platforms in VENDORS.items():
            for platform, origin, category in platforms:
                body = {"name": platform.title(), "vendor": vendor, "origin": origin, "category": category,
                        "kind": "app", "province": None}
                admin.put(f"/v1/platforms/{platform}", json=body).raise_for_status()
            key = admin.post("/v1/keys", json={"role": "vendor", "vendor": vendor})
            key.raise_for_status()
            vendors.append({"key": key.json()["key"], "platforms": [p for p, _, _ in platforms]})
        analyst = admin.post("/v1/keys", json={"role": "analyst"})
        analyst.raise_for_status()
        admin.post(f"/v1/summaries/{PERIOD}").raise_for_status()
    return {"vendors": vendors, "analyst_key": analyst.json()["key"], "period": PERIOD, "months": list(MONTHS)}


def read_stats(prefix: Path) -> list[dict[str, str]]:
    with (prefix.parent / f"{prefix.name}_stats.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def inspect_store(data_dir: Path) -> tuple[int, int, list[str]]:
    """(rows, distinct (platform, event_id)) in the stopped service's events table, and the tables whose
    dump holds a raw user value."""
    from queries.store import open_store

    store = open_store(None, data_dir)
    try:
        rows, distinct = store.rows("SELECT count(), uniqExact(platform, event_id) FROM events")[0]
        tables = [r[0] for r in store.rows("SELECT name FROM system.tables WHERE database = {db:String} AND "
                                           "engine NOT LIKE '%View%'", {"db": store.database})]
        leaking = [t for t in tables if RAW_USER_PREFIX.encode() in store.client.raw_query(
            f"SELECT * FROM `{t}` FORMAT TabSeparated")]
        return int(rows), int(distinct), leaking
    finally:
        store.close()


def files_containing(root: Path, needle: bytes) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and not p.is_symlink() and needle in p.read_bytes()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--spawn-rate", type=float, default=10)
    parser.add_argument("--time", default="60s", help="locust --run-time, e.g. 60s or 2m")
    parser.add_argument("--batch", type=int, default=500, help="events per vendor batch")
    parser.add_argument("--max-batches", type=int, default=400, help="batches per vendor user, at most")
    parser.add_argument("--out", type=Path, help="keep locust's CSV files here (default: a temporary directory)")
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="vnmeter-load-"))
    out = args.out or work
    out.mkdir(parents=True, exist_ok=True)
    data_dir, port, admin_key = work / "data", free_port(), secrets.token_urlsafe(32)
    service_log = work / "service.log"
    url = f"http://127.0.0.1:{port}"
    # the load test measures capacity: the per-key rate limit is raised out of the way
    service = start_service(data_dir, port, admin_key, service_log,
                            env={"VNMETER_RATE_LIMIT_RPS": "100000", "VNMETER_RATE_LIMIT_BURST": "100000"})
    problems: list[str] = []
    try:
        config = set_up(url, admin_key)
        report = work / "counts.json"
        env = {**os.environ, "VNMETER_LOAD_CONFIG": json.dumps(config), "VNMETER_LOAD_REPORT": str(report),
               "VNMETER_LOAD_BATCH": str(args.batch), "VNMETER_LOAD_MAX_BATCHES": str(args.max_batches)}
        locust = Path(sys.executable).with_name("locust")
        command = [str(locust) if locust.exists() else "locust", "-f", str(LOCUSTFILE), "--headless",
                   "-u", str(args.users), "-r", str(args.spawn_rate), "-t", args.time, "--host", url,
                   "--csv", str(out / "locust"), "--only-summary", "--stop-timeout", "10", "--loglevel", "WARNING"]
        print("running:", " ".join(command[1:]), flush=True)
        started = time.monotonic()
        finished = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
        elapsed = time.monotonic() - started
        if finished.returncode not in (0, 1):  # 1: some requests failed, reported below
            problems.append(f"locust exited with {finished.returncode}: {finished.stderr[-1000:]}")
        counts = json.loads(report.read_text()) if report.exists() else {}
    finally:
        stop_service(service)

    stats = read_stats(out / "locust")
    print(f"\n{'endpoint':<38} {'requests':>9} {'failures':>9} {'error %':>8} {'req/s':>7} "
          f"{'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}")
    server_errors = 0
    for row in stats:
        requests, failures = int(row["Request Count"]), int(row["Failure Count"])
        rate = failures / requests * 100 if requests else 0.0
        print(f"{row['Name']:<38} {requests:>9} {failures:>9} {rate:>8.2f} {float(row['Requests/s']):>7.1f} "
              f"{row['50%']:>7} {row['95%']:>7} {row['99%']:>7}")
    failures_file = out / "locust_failures.csv"
    if failures_file.exists():
        with failures_file.open(newline="") as handle:
            for failure in csv.DictReader(handle):
                print(f"  failure: {failure['Method']} {failure['Name']}: {failure['Error'][:160]} "
                      f"x{failure['Occurrences']}")
                if "HTTP 5" in failure["Error"]:
                    server_errors += int(failure["Occurrences"])
    rows, distinct, leaking_tables = inspect_store(data_dir)
    accepted = counts.get("accepted", 0)
    print(f"\nevents: posted {counts.get('posted', 0)} good rows (re-sent ones included) in {elapsed:.0f} s "
          f"({counts.get('posted', 0) / elapsed:.0f}/s), accepted {accepted}, duplicates absorbed "
          f"{counts.get('duplicates', 0)} (re-sent batches: {counts.get('retries', 0)}), bad rows rejected "
          f"{counts.get('rejected', 0)}; stored {rows} rows, {distinct} distinct; 5xx seen {server_errors}")
    if rows != accepted or distinct != accepted:
        problems.append(f"stored {rows} rows ({distinct} distinct) but {accepted} events were accepted")
    leaks = leaking_tables + files_containing(data_dir, RAW_USER_PREFIX.encode())
    if RAW_USER_PREFIX in service_log.read_text(errors="replace"):
        leaks.append("the service output")
    if leaks:
        problems.append(f"raw user values found in {leaks}")
    print(f"privacy: raw user values in tables, data files or service output: {leaks or 'none'}")
    if server_errors:
        problems.append(f"{server_errors} server errors")
    if not args.keep:
        shutil.rmtree(data_dir, ignore_errors=True)
    for problem in problems:
        print(f"PROBLEM: {problem}")
    print(f"locust CSV files: {out}/locust_*.csv" + (f"; data directory: {data_dir}" if args.keep else ""))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
