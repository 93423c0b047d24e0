"""Resource exhaustion without and with a key: is the service still alive, and how much memory does it take?

Starts `vnmeter serve` on a fresh temporary data directory (with `--health-port`), registers a platform and a
vendor key, and after a few seconds of quiet runs, all at once and for `--duration` seconds (default 60):

- `--half-open` connections (default 10,000) that send nothing or half a request head, each opened again
  `--reopen-s` seconds after the server closes it (so the attack keeps the API port full);
- `--big-headers` connections (default 5) each sending a header of up to 200 MB that never ends;
- `--posts` (default 60) concurrent gzip posts of the largest size with the vendor key, in three shapes
  (bench/decode_peak.py): 10,000 valid events padded to 4,096 bytes as a JSON array and as NDJSON (stored),
  and a JSON array of 2,000,000 empty arrays (the most memory one request can take to decode; 413). A post
  answered 503 is sent again after its `Retry-After`, as a vendor would, until `--duration` is over.

Meanwhile a process of its own (so that the attackers' work never delays it) asks `/health/live` every 100 ms
on a new connection (as a Kubernetes probe does) on the health port and, for comparison, on the API port, and
samples the service's resident memory and open files. It prints the worst and 99th-percentile probe latencies,
the probes that failed, the longest the service's event loop went without running (as the health process saw
it), the memory against its stated bound, what each attack got, and, after stopping the service, checks that
every event acknowledged is stored once.

    .venv/bin/python loadtest/exhaustion.py [--posts 60] [--shapes A,B] [--half-open 10000] [--big-headers 5]
                                            [--duration 60] [--no-health-port] [--serve "COMMAND"] [--keep]

`--serve` runs another build of vnmeter (e.g. `"env PYTHONPATH=/tmp/old .venv/bin/python -m service.cli"`);
`--no-health-port` probes the API port only (for a build without `--health-port`).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import http.client
import multiprocessing
import os
import resource
import secrets
import shlex
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.decode_peak import PLATFORM, SHAPES, VENDOR  # noqa: E402
from loadtest.run import free_port, start_service, stop_service  # noqa: E402
from service.admission import DECODE_PEAK_BYTES, KEPT_BYTES, IngestAdmission  # noqa: E402
from service.settings import Settings  # noqa: E402

POST_SHAPES = ("padded-json-array", "padded-ndjson", "lists-json-array")
BIG_HEADER_BYTES = 200 * 1000 * 1000
CHUNK = 64 * 1024
PROBE_EVERY_S = 0.1
PROBE_TIMEOUT_S = 5.0
MIB = 1024 * 1024
# What one open connection may hold in the server at most: a head (16 KiB), uvicorn's body buffer before it
# pauses reading (64 KiB) and one read of the socket (256 KiB).
CONNECTION_BYTES = (16 + 64 + 256) * 1024


@dataclass
class Probes:
    latencies: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    loop_lag_s: float | None = None  # the most the health process said the service's loop lagged

    def line(self) -> str:
        if not self.latencies:
            return f"0 answered, failures {dict(self.failures)}"
        ordered = sorted(self.latencies)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        lag = "" if self.loop_lag_s is None else f"; the service's event loop lagged at most {self.loop_lag_s:.2f} s"
        return (f"{len(ordered)} answered 200, {sum(self.failures.values())} failed {dict(self.failures) or ''}; "
                f"median {statistics.median(ordered) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
                f"worst {ordered[-1] * 1000:.0f} ms{lag}")


PHASES = ("quiet", "attack", "after")


@dataclass
class Watched:
    """What the watching process saw, by phase."""

    health: dict[str, Probes] = field(default_factory=lambda: {k: Probes() for k in PHASES})
    api: dict[str, Probes] = field(default_factory=lambda: {k: Probes() for k in PHASES})
    rss: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PHASES, 0))
    files: int = 0


# -- each part runs in a process of its own, so that the attackers' work never delays the probes --------------
def watch(pid: int, port: int, health_port: int | None, phase: Any, stop: Any, results: Any) -> None:
    """Probe /health/live every 100 ms on a new connection (as Kubernetes does) and sample the service's memory."""
    watched = Watched()

    def probe(on: int, into: dict[str, Probes]) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            current = PHASES[phase.value]
            connection = http.client.HTTPConnection("127.0.0.1", on, timeout=PROBE_TIMEOUT_S)
            try:
                connection.request("GET", "/health/live")
                response = connection.getresponse()
                status, body = response.status, response.read()
                if status == 200:
                    into[current].latencies.append(time.perf_counter() - started)
                    lag = orjson.loads(body).get("loop_lag_s")
                    if lag is not None:
                        into[current].loop_lag_s = max(lag, into[current].loop_lag_s or 0.0)
                else:
                    into[current].failures[str(status)] += 1
            except (OSError, http.client.HTTPException) as exc:
                into[current].failures[type(exc).__name__] += 1
            finally:
                connection.close()
            stop.wait(max(0.0, PROBE_EVERY_S - (time.perf_counter() - started)))

    probes = [threading.Thread(target=probe, args=(port, watched.api))]
    if health_port is not None:
        probes.append(threading.Thread(target=probe, args=(health_port, watched.health)))
    for thread in probes:
        thread.start()
    process = psutil.Process(pid)
    while not stop.is_set():
        try:
            rss = process.memory_info().rss
            watched.files = max(watched.files, process.num_fds())
        except psutil.Error:
            break
        current = PHASES[phase.value]
        watched.rss[current] = max(watched.rss[current], rss)
        stop.wait(0.1)
    for thread in probes:
        thread.join()
    results.put(("watched", watched))


def attack_sockets(port: int, half_open_count: int, reopen_s: float, big_header_count: int, stop: Any,
                   results: Any) -> None:
    """Half-open connections and unending headers, on one asyncio loop, until `stop`."""
    held: Counter[str] = Counter()
    headers: Counter[str] = Counter()
    most = [0]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    async def hold(slot: int, stopped: asyncio.Event) -> None:
        while not stopped.is_set():
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError as exc:
                held[f"connect failed ({type(exc).__name__})"] += 1
                await asyncio.sleep(reopen_s)
                continue
            held["opened"] += 1
            try:
                if slot % 2:
                    writer.write(b"GET /v1/platforms HTTP/1.1\r\nHost: attacker\r\n")  # half a head, forever
                answer = await reader.read(64)
                held[answer[:12].decode(errors="replace").strip() or "closed, no answer"] += 1
            except OSError:
                held["reset"] += 1
            finally:
                writer.close()
            await asyncio.sleep(reopen_s)

    async def unending_header(stopped: asyncio.Event) -> None:
        while not stopped.is_set():
            sent = 0
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                headers["connect failed"] += 1
                await asyncio.sleep(1)
                continue
            try:
                writer.write(b"GET /health/live HTTP/1.1\r\nHost: attacker\r\nX-Big: ")
                chunk = b"a" * CHUNK
                while sent < BIG_HEADER_BYTES and not stopped.is_set():
                    writer.write(chunk)
                    await writer.drain()
                    sent += CHUNK
                answer = await asyncio.wait_for(reader.read(64), 10)
                headers[answer[:12].decode(errors="replace").strip() or "closed, no answer"] += 1
            except (OSError, TimeoutError):
                headers["cut off by the server"] += 1
            finally:
                most[0] = max(most[0], sent)
                writer.close()
            await asyncio.sleep(1)

    async def main() -> None:
        stopped = asyncio.Event()
        tasks = [asyncio.create_task(hold(slot, stopped)) for slot in range(half_open_count)]
        tasks += [asyncio.create_task(unending_header(stopped)) for _ in range(big_header_count)]
        while not stop.is_set():
            await asyncio.sleep(0.2)
        stopped.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(main())
    results.put(("sockets", (held, headers, most[0])))


def attack_posts(url: str, key: str, bodies: list[tuple[str, Path]], stop: Any, results: Any) -> None:
    """Every body posted at once from its own thread; a 503 is sent again after its Retry-After until `stop`."""
    answers: Counter[str] = Counter()
    accepted = [0]
    lock = threading.Lock()

    def post(shape: str, body: bytes) -> None:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": SHAPES[shape][0], "Content-Encoding": "gzip"}
        with httpx.Client(base_url=url, timeout=300) as client:
            while not stop.is_set():
                try:
                    answer = client.post("/v1/events", content=body, headers=headers)
                except httpx.HTTPError as exc:
                    with lock:
                        answers[f"{shape}: {type(exc).__name__}"] += 1
                    stop.wait(5)
                    continue
                with lock:
                    answers[f"{shape}: {answer.status_code}"] += 1
                    if answer.status_code == 200:
                        accepted[0] += answer.json()["accepted"]
                if answer.status_code != 503:
                    return
                stop.wait(float(answer.headers.get("retry-after", "5")))

    threads = [threading.Thread(target=post, args=(shape, path.read_bytes())) for shape, path in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(("posts", (answers, accepted[0])))


def raise_open_files() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def set_up(url: str, admin_key: str) -> str:
    admin = {"Authorization": f"Bearer {admin_key}"}
    platform = {"name": "Exhaustion", "vendor": VENDOR, "origin": "vn", "category": "communication", "kind": "app",
                "province": None}
    httpx.put(f"{url}/v1/platforms/{PLATFORM}", json=platform, headers=admin, timeout=30).raise_for_status()
    created = httpx.post(f"{url}/v1/keys", json={"role": "vendor", "vendor": VENDOR}, headers=admin, timeout=30)
    created.raise_for_status()
    return str(created.json()["key"])


def stored_events(data_dir: Path) -> tuple[int, int]:
    from queries.store import Store, resolve_target

    store = Store(resolve_target(None, data_dir))
    try:
        rows, distinct = store.rows("SELECT count(), uniqExact(platform, event_id) FROM events")[0]
        return int(rows), int(distinct)
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=60)
    parser.add_argument("--shapes", default=",".join(POST_SHAPES), help="the posts' shapes, in turn")
    parser.add_argument("--half-open", type=int, default=10_000)
    parser.add_argument("--reopen-s", type=float, default=2.0, help="pause before a closed connection is opened again")
    parser.add_argument("--big-headers", type=int, default=5)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of attack")
    parser.add_argument("--quiet-s", type=float, default=5.0, help="seconds of quiet before the attack")
    parser.add_argument("--no-health-port", action="store_true")
    parser.add_argument("--serve", default=str(Path(sys.executable).with_name("vnmeter")))
    parser.add_argument("--keep", action="store_true", help="keep the data directory")
    args = parser.parse_args()
    if raise_open_files() < args.half_open + 200:
        raise SystemExit(f"this process may not open files enough for --half-open {args.half_open} (ulimit -Hn)")

    root = Path(tempfile.mkdtemp(prefix="vnmeter-exhaustion-"))
    data_dir, log = root / "data", root / "serve.log"
    port = free_port()
    health_port = None if args.no_health_port else free_port()
    admin_key = secrets.token_urlsafe(32)
    print(f"building {args.posts} gzip bodies ...", flush=True)
    shapes = args.shapes.split(",")
    bodies = []
    for n in range(args.posts):
        shape = shapes[n % len(shapes)]
        path = root / f"post-{n}.gz"
        path.write_bytes(gzip.compress(SHAPES[shape][1](n * 10_000), compresslevel=6))
        bodies.append((shape, path))
    process = start_service(data_dir, port, admin_key, log, command=shlex.split(args.serve), health_port=health_port)
    url = f"http://127.0.0.1:{port}"
    key = set_up(url, admin_key)

    spawn = multiprocessing.get_context("spawn")
    phase, results = spawn.Value("i", 0), spawn.Queue()
    stop_watching, stop_attack = spawn.Event(), spawn.Event()
    watcher = spawn.Process(target=watch, args=(process.pid, port, health_port, phase, stop_watching, results))
    watcher.start()
    time.sleep(args.quiet_s)
    attackers = [spawn.Process(target=attack_sockets, args=(port, args.half_open, args.reopen_s, args.big_headers,
                                                            stop_attack, results)),
                 spawn.Process(target=attack_posts, args=(url, key, bodies, stop_attack, results))]
    print(f"attack: {args.half_open:,} half-open connections, {args.big_headers} unending headers, "
          f"{args.posts} posts at once, for {args.duration:g} s", flush=True)
    phase.value = 1
    started = time.monotonic()
    for attacker in attackers:
        attacker.start()
    time.sleep(args.duration)
    stop_attack.set()
    received = dict(results.get() for _ in attackers)
    for attacker in attackers:
        attacker.join()
    attack_s = time.monotonic() - started
    phase.value = 2
    time.sleep(3)
    stop_watching.set()
    watched: Watched = results.get()[1]
    watcher.join()
    stop_service(process)
    rows, distinct = stored_events(data_dir)
    held, headers, most = received["sockets"]
    answers, accepted = received["posts"]

    settings = Settings()
    admission = IngestAdmission.for_memory(settings.ingest_memory_mb * MIB)
    bound = watched.rss["quiet"] + admission.bound_bytes + settings.max_connections * CONNECTION_BYTES
    print(f"\nattack ran {attack_s:.0f} s; the machine has {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at the end")
    if health_port is not None:
        print(f"/health/live on the health port, quiet:        {watched.health['quiet'].line()}")
        print(f"/health/live on the health port, under attack: {watched.health['attack'].line()}")
    print(f"/health/live on the API port, quiet:           {watched.api['quiet'].line()}")
    print(f"/health/live on the API port, under attack:    {watched.api['attack'].line()}")
    print(f"resident memory: quiet {watched.rss['quiet'] / MIB:.0f} MiB, most under attack "
          f"{watched.rss['attack'] / MIB:.0f} MiB, after {watched.rss['after'] / MIB:.0f} MiB; stated bound "
          f"{bound / MIB:.0f} MiB (quiet + {admission.decoders} decoding x {DECODE_PEAK_BYTES // MIB} MiB + "
          f"{admission.inside - admission.decoders} waiting x {KEPT_BYTES // MIB} MiB + {settings.max_connections} "
          f"connections x {CONNECTION_BYTES // 1024} KiB)")
    print(f"open files of the service, most: {watched.files}")
    print(f"half-open connections: {dict(held)}")
    print(f"unending headers: {dict(headers)}; most bytes one of them wrote (into the kernel's buffers too) before "
          f"its connection was cut: {most:,}")
    print(f"posts (final answers, and 503s that were sent again): {dict(sorted(answers.items()))}")
    print(f"events acknowledged {accepted:,}; stored {rows:,} rows, {distinct:,} distinct")
    ok = rows == distinct == accepted and watched.rss["attack"] <= bound
    if health_port is not None:
        under_attack = watched.health["attack"]
        ok = ok and not under_attack.failures and max(under_attack.latencies, default=9.9) < 1.0
    print("PASS" if ok else "FAIL")
    if args.keep:
        print(f"data directory and log kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
