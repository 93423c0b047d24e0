"""Inflating gzip request bodies: the standard library's zlib against isal (ISA-L, what ingest/decode.py uses), and
zlib-ng when it is installed (`pip install zlib-ng`; not a dependency), on bench/ingest_bench.py's 1,000-event gzip
NDJSON bodies, one thread, alternating passes, each body inflated as `ingest.decode.inflate` does (a
decompressor per gzip member, output capped). Prints microseconds per event and each library's time against
zlib's (docs/decisions/0015).

    .venv/bin/python bench/inflate_libraries.py [--events 50000] [--passes 5]
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import time
import zlib
from pathlib import Path
from types import ModuleType

import orjson
from isal import isal_zlib

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from ingest_bench import generate  # noqa: E402

BATCH = 1_000
CAP = 64 * 1024 * 1024


def libraries() -> dict[str, ModuleType]:
    found = {"zlib": zlib, "isal": isal_zlib}
    try:
        from zlib_ng import zlib_ng
    except ImportError:
        return found
    return {**found, "zlib-ng": zlib_ng}


def inflate_all(module: ModuleType, bodies: list[bytes]) -> int:
    size = 0
    for body in bodies:
        inflater = module.decompressobj(16 + module.MAX_WBITS)
        size += len(inflater.decompress(body, CAP))
        if not inflater.eof or inflater.unused_data:
            raise AssertionError("each body is one whole gzip member")
    return size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    events = generate(args.events)
    plain = [b"\n".join(orjson.dumps(event) for event in events[start:start + BATCH])
             for start in range(0, len(events), BATCH)]
    bodies = [gzip.compress(body) for body in plain]
    print(f"{len(bodies)} bodies of {BATCH:,} events: {sum(map(len, bodies)) / len(bodies) / 1000:.1f} KB gzip, "
          f"{sum(map(len, plain)) / len(plain) / 1000:.1f} KB inflated")
    found = libraries()
    timings: dict[str, list[float]] = {name: [] for name in found}
    for _ in range(args.passes):
        for name, module in found.items():
            began = time.perf_counter()
            inflated = inflate_all(module, bodies)
            timings[name].append((time.perf_counter() - began) / args.events * 1e6)
            if inflated != sum(map(len, plain)):
                raise AssertionError(f"{name} inflated {inflated} bytes")
    baseline = statistics.median(timings["zlib"])
    for name, figures in timings.items():
        median = statistics.median(figures)
        print(f"{name:8} median {median:.3f} us per event (passes {', '.join(f'{f:.3f}' for f in figures)}), "
              f"{median / baseline:.2f} of zlib's time")


if __name__ == "__main__":
    main()
