"""What queueing costs a vendor's process with the client library (vnmeter-client): microseconds per event for
`send()` (one commit per event) and `send_many()` (one commit per call), with the default durability (safe against
a crash of the process) and with `power_safe=True` (an fsync per commit, safe against a power cut too).

Nothing is sent: the service is a stub that answers 503, and batches wait far longer than the run.

    python bench/client_queue.py [--events 100000] [--power-safe-events 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from vnmeter_client import Client


def events(count: int) -> list[dict[str, Any]]:
    start = datetime(2024, 3, 1, tzinfo=UTC)
    return [{"platform": "zalo", "user": f"device-{n}", "ts": (start + timedelta(seconds=n)).isoformat(),
             "duration_s": n % 3600, "bytes": n * 1000 % 10**8, "os": "android"} for n in range(count)]


def measure(folder: Path, power_safe: bool, count: int) -> tuple[float, float]:
    """(us per event with send(), us per event with one send_many()) on a new queue file."""
    stub = httpx.MockTransport(lambda request: httpx.Response(503))
    client = Client("http://vnmeter.invalid", "key", queue=folder / f"queue-{power_safe}.sqlite3",
                    power_safe=power_safe, flush_interval=3600, batch_size=10_000, transport=stub)
    rows = events(count)
    try:
        started = time.perf_counter()
        for row in rows:
            client.send(row)
        one_by_one = (time.perf_counter() - started) / count
        started = time.perf_counter()
        client.send_many(rows)
        together = (time.perf_counter() - started) / count
    finally:
        client.close(timeout=0)
    return one_by_one * 1e6, together * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--power-safe-events", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for power_safe, count in ((False, args.events), (True, args.power_safe_events)):
            one, many = measure(Path(folder), power_safe, count)
            print(f"power_safe={power_safe}: {count} events: send() {one:.1f} us/event, "
                  f"send_many() {many:.1f} us/event")


if __name__ == "__main__":
    main()
