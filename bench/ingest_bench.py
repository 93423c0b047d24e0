"""Ingestion throughput: the HTTP API against the engine's own JSONEachRow insert, in one run.

1. Generates N events (default 1,000,000) over 20 platforms and 3 months, in batches of 1,000.
2. Starts `vnmeter serve` on a fresh chDB directory and posts every batch as gzip NDJSON from
   concurrent clients; the rate counts only acknowledged (200) events and the wall time of the posts.
3. Stops the service and, in this process, inserts the same events (same batches, already in stored
   form) into a fresh chDB directory with the same schema via `INSERT ... FORMAT JSONEachRow`.
4. Prints both rates and their ratio (target: API >= 0.5 x engine), and the CPU time each path used per
   event (the service process while posting; the engine's process while inserting), which moves less
   than the rates when other jobs share the machine.

    python bench/ingest_bench.py [--events 1000000] [--clients 8] [--batch 1000] [--data-root DIR]
                                 [--null-writer]

--null-writer runs the service with a writer that stores nothing (bench/serve_null_writer.py): the rate
of the HTTP path alone. `python bench/writer_costs.py writer` measures the writer alone.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import os
import random
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import httpx
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
if TYPE_CHECKING:
    from queries.store import Store
ADMIN_KEY = "bench-admin-key-" + "x" * 32
PLATFORMS = [f"bench-app-{i:02d}" for i in range(20)]
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
LARGE_BLOCK = 100_000


def generate(count: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    start = datetime(2022, 1, 1, tzinfo=UTC)
    events = []
    for _ in range(count):
        ts = start + timedelta(seconds=rng.randrange(90 * 86400))
        events.append({
            "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "platform": rng.choice(PLATFORMS),
            "user": f"user-{rng.randrange(200_000):07d}",
            "type": "session" if rng.random() < 0.97 else "install",
            "ts": ts.isoformat().replace("+00:00", "Z"),
            "duration_s": rng.randrange(1, 3600),
            "bytes": rng.randrange(10**8),
            "country": "VN",
            "os": rng.choice(["android", "ios"]),
        })
    return events


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, all its threads included."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_api(batches: list[bytes], clients: int, data_dir: Path, null_writer: bool = False
            ) -> tuple[float, float, float, int, int]:
    """Wall seconds, the service's CPU seconds, the clients' CPU seconds, events accepted, failed requests."""
    port = free_port()
    env = {**os.environ, "VNMETER_DATA_DIR": str(data_dir), "VNMETER_ADMIN_KEY": ADMIN_KEY,
           "VNMETER_RATE_LIMIT_RPS": "100000", "VNMETER_RATE_LIMIT_BURST": "100000"}
    serve = ([sys.executable, str(ROOT / "bench" / "serve_null_writer.py")] if null_writer
             else [str(Path(sys.executable).parent / "vnmeter")])
    server = subprocess.Popen([*serve, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{base}/health/live", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        key = httpx.post(f"{base}/v1/keys", json={"role": "vendor", "vendor": "bench"}, headers=admin).json()["key"]
        for platform in PLATFORMS:
            httpx.put(f"{base}/v1/platforms/{platform}", headers=admin, json={
                "name": platform, "vendor": "bench", "origin": "vn", "category": "other", "kind": "app"})
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson",
                   "Content-Encoding": "gzip"}
        accepted = [0] * clients
        failures = [0] * clients

        def worker(index: int) -> None:
            # the standard library's keep-alive client: about a tenth of httpx's CPU per request, which on this
            # 2-core machine is CPU taken from the service under test
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            try:
                for body in batches[index::clients]:
                    try:
                        connection.request("POST", "/v1/events", body=body, headers=headers)
                        response = connection.getresponse()
                        answer = response.read()
                    except (OSError, http.client.HTTPException):
                        failures[index] += 1
                        connection.close()
                        continue
                    if response.status == 200:
                        accepted[index] += orjson.loads(answer)["accepted"]
                    else:
                        failures[index] += 1
            finally:
                connection.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
        began, cpu_began, client_began = time.perf_counter(), process_cpu_s(server.pid), own_cpu_s()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed, cpu = time.perf_counter() - began, process_cpu_s(server.pid) - cpu_began
        return elapsed, cpu, own_cpu_s() - client_began, sum(accepted), sum(failures)
    finally:
        server.terminate()
        server.wait(timeout=60)


def stored_rows(events: list[dict]) -> list[bytes]:
    """The events as the engine stores them (what the API's pipeline produces), one JSON line each."""
    lines = []
    for event in events:
        ts = datetime.fromisoformat(event["ts"])
        lines.append(orjson.dumps({
            "platform": event["platform"], "event_id": event["event_id"],
            "user_pseudo": event["user"][-16:].rjust(16, "0"), "type": event["type"],
            "ts": ts.strftime("%Y-%m-%d %H:%M:%S"), "day": ts.astimezone(ZONE).date().isoformat(),
            "duration_s": event["duration_s"], "bytes": event["bytes"], "country": event["country"],
            "province": "", "os": event["os"], "received_at": ts.strftime("%Y-%m-%d %H:%M:%S"),
        }))
    return lines


def run_engine(lines: list[bytes], batch: int, data_dir: Path) -> tuple[float, float]:
    from queries.migrate import migrate
    from queries.store import open_store

    store = open_store(f"chdb://{data_dir}", data_dir)
    migrate(store)
    blocks = [b"\n".join(lines[i:i + batch]) for i in range(0, len(lines), batch)]
    began, cpu_began = time.perf_counter(), own_cpu_s()
    for block in blocks:
        store.client.raw_insert("events", insert_block=block, fmt="JSONEachRow")
    elapsed, cpu = time.perf_counter() - began, own_cpu_s() - cpu_began
    assert store.command("SELECT count() FROM events") == len(lines)
    store.close()
    return elapsed, cpu


def fill_event_keys(store: Store, stored: int, table: str = "event_keys") -> None:
    """`stored` random version-4 UUIDs (as vendors send them; toUInt128 of a UUID is Python's UUID.int, what
    the writer binds) over the benchmark's platforms in a dedup index table, merged into one part."""
    store.command("INSERT INTO {table:Identifier} (platform, id128) SELECT {platforms:Array(String)}"
                  "[1 + number % {n:UInt32}], toUInt128(generateUUIDv4()) FROM numbers({stored:UInt64})",
                  {"table": table, "platforms": PLATFORMS, "n": len(PLATFORMS), "stored": stored})
    store.command("OPTIMIZE TABLE {table:Identifier} FINAL", {"table": table})


def fill_index(data_dir: Path, stored: int) -> None:
    """`stored` ids of earlier events in the service's dedup index, so that its lookups run against a table
    of that size."""
    from queries.migrate import migrate
    from queries.store import open_store

    store = open_store(None, data_dir)  # where `vnmeter serve` keeps it with VNMETER_DATA_DIR
    migrate(store)
    fill_event_keys(store, stored)
    store.close()


def run_engine_subprocess(count: int, batch: int, data_dir: Path) -> tuple[float, float]:
    """chDB hosts one directory per process, so each engine run gets a process of its own."""
    out = subprocess.run([sys.executable, __file__, "--engine-only", str(data_dir), "--events", str(count),
                          "--batch", str(batch)], check=True, capture_output=True, text=True).stdout
    elapsed, cpu = out.strip().splitlines()[-1].split()
    return float(elapsed), float(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--data-root", type=Path, default=None,
                        help="where the chDB directories go (default: the system temp directory)")
    parser.add_argument("--null-writer", action="store_true",
                        help="the service stores nothing: measures the HTTP path alone")
    parser.add_argument("--stored", type=int, default=0,
                        help="ids of earlier events in the service's dedup index before it starts")
    parser.add_argument("--engine-only", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--fill-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fill_only:
        fill_index(args.fill_only, args.stored)
        return
    if args.engine_only:
        print(*run_engine(stored_rows(generate(args.events)), args.batch, args.engine_only))
        return
    work = Path(tempfile.mkdtemp(prefix="vnmeter-bench-", dir=args.data_root))
    try:
        print(f"generating {args.events:,} events in batches of {args.batch:,} ...", flush=True)
        events = generate(args.events)
        batches = [gzip.compress(b"\n".join(orjson.dumps(e) for e in events[i:i + args.batch]))
                   for i in range(0, len(events), args.batch)]
        lines = events  # the engine runs regenerate the same events (same seed) in their own processes
        if args.stored:  # in a process of its own: chDB hosts one directory per process
            print(f"storing {args.stored:,} earlier ids in the service's dedup index ...", flush=True)
            subprocess.run([sys.executable, __file__, "--fill-only", str(work / "api"), "--stored", str(args.stored)],
                           check=True)
        api_s, api_cpu, client_cpu, accepted, failures = run_api(batches, args.clients, work / "api", args.null_writer)
        engine_small_s, small_cpu = run_engine_subprocess(args.events, args.batch, work / "engine-small")
        engine_large_s, large_cpu = run_engine_subprocess(args.events, LARGE_BLOCK, work / "engine-large")
        api_rate = accepted / api_s
        small_rate, large_rate = len(lines) / engine_small_s, len(lines) / engine_large_s
        engine_rate = max(small_rate, large_rate)
        print(f"events:            {args.events:,} in {len(batches):,} gzip NDJSON batches, {args.clients} clients"
              + (f", {args.stored:,} earlier ids in the service's dedup index" if args.stored else ""))
        label = "API, null writer" if args.null_writer else "API accepted:    "
        print(f"{label}  {accepted:,} (failed requests: {failures}) in {api_s:.1f} s = "
              f"{api_rate:,.0f} events/s")
        print(f"engine JSONEachRow, {args.batch:,}-row inserts:   {engine_small_s:.1f} s = {small_rate:,.0f} rows/s")
        print(f"engine JSONEachRow, {LARGE_BLOCK:,}-row inserts: {engine_large_s:.1f} s = {large_rate:,.0f} rows/s")
        print(f"ratio API / faster engine figure: {api_rate / engine_rate:.4f} (target >= 0.5)")
        per_event = 1e6 / len(lines)
        print(f"CPU per event:     API service {api_cpu * per_event:.1f} us (its clients "
              f"{client_cpu * per_event:.1f} us, same machine), engine {args.batch:,}-row inserts "
              f"{small_cpu * per_event:.1f} us, engine {LARGE_BLOCK:,}-row inserts {large_cpu * per_event:.1f} us "
              f"(load average at the end: {os.getloadavg()[0]:.1f})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
