"""Memory of one ingestion request while it is decoded and parsed: what `VNMETER_INGEST_MEMORY_MB` is divided by.

For each request shape that reaches the inflate cap (or the JSON comma cap), a fresh process builds the
ingestion steps on an empty chDB directory, warms them up with a small request, and runs
`Ingestor.submit` once on the gzip body, with a writer that keeps the rows it is handed (as the real one does
until they are stored). It prints, per shape:

- peak: the most memory Python allocated during `submit` above what was allocated before (tracemalloc;
  the request body itself, built before, is not counted);
- kept: what is still allocated when `submit` returns (what the writer keeps of the request until its
  group is stored);
- rss: the growth of the process's peak resident set during `submit`, measured in a second run of the shape
  without tracemalloc (`/proc/self/clear_refs` resets the peak first);
- the HTTP answer the request would get.

    .venv/bin/python bench/decode_peak.py [--shapes NAME,...]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.limits import MAX_DECOMPRESSED_BYTES, MAX_EVENT_BYTES, MAX_EVENTS_PER_REQUEST  # noqa: E402

PLATFORM, VENDOR = "bench-app", "bench-vendor"
LINE = MAX_EVENT_BYTES  # bytes of one line before its newline: 10,000 of them and their newlines fill the cap


def event(number: int, user: str = "u" * 128) -> dict[str, Any]:
    return {"event_id": str(uuid.UUID(int=number + 1, version=4)), "platform": PLATFORM, "user": user,
            "type": "session", "ts": "2022-03-15T10:00:00+07:00", "duration_s": 600, "bytes": 123_456_789,
            "country": "VN", "province": "VN-HN", "os": "android"}


def padded(number: int, size: int = LINE) -> bytes:
    """A valid event padded with spaces inside the object to `size` bytes (the Python steps decide it)."""
    text = json.dumps(event(number)).encode()
    return text[:-1] + b" " * (size - len(text)) + b"}"


def lines(make: Callable[[int], bytes], first: int) -> bytes:
    return b"".join(make(first + n) + b"\n" for n in range(MAX_EVENTS_PER_REQUEST))


def empty_lists(_: int) -> bytes:
    body = b"[" + b"[]," * ((LINE - 4) // 3) + b"[]"
    return body + b" " * (LINE - len(body) - 1) + b"]"


SHAPES: dict[str, tuple[str, Callable[[int], bytes]]] = {
    # (content type, the inflated body given the number of its first event; event ids follow from the numbers)
    "padded-ndjson": ("application/x-ndjson", lambda first: lines(padded, first)),
    "plain-ndjson": ("application/x-ndjson", lambda first: lines(lambda n: json.dumps(event(n)).encode(), first)),
    "junk-lines": ("application/x-ndjson", lambda first: lines(lambda _: b"x" * LINE, first)),
    "lists-in-lines": ("application/x-ndjson", lambda first: lines(empty_lists, first)),
    "padded-json-array": ("application/json", lambda first: b"[" + b",".join(
        padded(first + n, LINE - 1) for n in range(MAX_EVENTS_PER_REQUEST)) + b"]"),
    "lists-json-array": ("application/json", lambda _: b"[" + b"[]," * 1_999_999 + b"[]]"),
    "one-long-line": ("application/x-ndjson", lambda first: json.dumps(
        {**event(first), "user": "ệ" * ((MAX_DECOMPRESSED_BYTES - 400) // 3)}, ensure_ascii=False).encode()),
}


class KeepingWriter:
    """Keeps what the writer keeps of a request until its group is stored (the rows, their keys, their ids and
    lines joined: `_Batch`), and answers at once."""

    def __init__(self) -> None:
        self.kept: list[Any] = []

    def submit(self, rows: Any, tally: Any = None) -> Future[Any]:
        from ingest.write import WriteResult, _Batch

        done: Future[Any] = Future()
        if rows:
            self.kept.append(_Batch.of(rows, tally, done))
        done.set_result(WriteResult(len(rows), 0))
        return done


def status_line() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


def current_rss() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


def measure(shape: str, traced: bool) -> dict[str, Any]:
    """In this (fresh) process: one request of `shape` through `Ingestor.submit`."""
    from zoneinfo import ZoneInfo

    from ingest.decode import RequestRejected
    from ingest.pipeline import Ingestor
    from ingest.pseudonymise import KeyStore
    from queries.migrate import migrate
    from queries.registry import Platform, Registry
    from queries.store import Store, Target

    directory = Path(tempfile.mkdtemp(prefix="vnmeter-decode-peak-"))
    store = Store(Target("chdb", f"chdb://{directory}", "bench", directory))
    migrate(store)
    registry = Registry(store, 3600)
    registry.seed()
    registry.put_platform(Platform(PLATFORM, "Bench app", VENDOR, "vn", "communication", "app", None))
    writer = KeepingWriter()
    ingestor = Ingestor(registry, KeyStore(store, 3600), writer, ZoneInfo("Asia/Ho_Chi_Minh"))  # type: ignore[arg-type]
    ingestor.submit(gzip.compress(json.dumps(event(0)).encode()), "application/x-ndjson", "gzip", VENDOR).result()
    writer.kept.clear()

    content_type, build = SHAPES[shape]
    inflated = build(0)
    body = gzip.compress(inflated, compresslevel=9)
    sizes = {"inflated": len(inflated), "gzip": len(body)}
    del inflated
    gc.collect()
    answer = "200"
    if traced:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
    else:
        Path("/proc/self/clear_refs").write_text("5")  # the peak resident set starts again from here
        rss_before = current_rss()
    started = time.perf_counter()
    try:
        result = ingestor.submit(body, content_type, "gzip", VENDOR).result()
        answer = f"200 ({result.accepted} accepted, {len(result.rejected)} rejected)"
    except RequestRejected as exc:
        answer = f"{exc.status} ({exc.message[:60]})"
    seconds = time.perf_counter() - started
    if traced:
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        figures = {"peak": peak - before, "kept": current - before}
    else:
        figures = {"rss": status_line() - rss_before}
    store.close()
    shutil.rmtree(directory, ignore_errors=True)
    return {**sizes, **figures, "answer": answer, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default=",".join(SHAPES))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.traced)))
        return
    mib = 1024 * 1024
    print(f"{'shape':<20} {'inflated MB':>11} {'gzip KB':>8} {'peak MiB':>9} {'kept MiB':>9} {'rss MiB':>8} "
          f"{'s':>5}  answer")
    for shape in args.shapes.split(","):
        runs = {}
        for traced in (True, False):
            command = [sys.executable, __file__, "--child", shape] + (["--traced"] if traced else [])
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            runs[traced] = json.loads(output.strip().splitlines()[-1])
        t, r = runs[True], runs[False]
        print(f"{shape:<20} {t['inflated'] / 1e6:>11.2f} {t['gzip'] / 1024:>8.0f} {t['peak'] / mib:>9.1f} "
              f"{t['kept'] / mib:>9.1f} {r['rss'] / mib:>8.1f} {r['seconds']:>5.2f}  {r['answer']}", flush=True)


if __name__ == "__main__":
    main()
