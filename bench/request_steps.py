"""CPU per event of the request steps alone: `Ingestor.submit` (inflate, split, decode, validate, check_platform,
check_month, pseudonymise, the counts, and the writer's `_Batch` made in the request's thread) on one thread,
without HTTP and without storing (the writer keeps the rows and answers at once, as in bench/decode_peak.py).

The requests are bench/ingest_bench.py's: 1,000-event gzip NDJSON bodies over its 20 platforms, posted by one
vendor, with the real registry and key store on a fresh chDB directory. Prints microseconds per event for each
pass (the first pass, which creates the pseudonym keys, is not timed); `--profile` adds cProfile's top functions
(whose overhead inflates every figure: read them as shares).

    .venv/bin/python bench/request_steps.py [--events 50000] [--passes 5] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from decode_peak import KeepingWriter  # noqa: E402
from ingest_bench import PLATFORMS, generate  # noqa: E402

from ingest.pipeline import Ingestor  # noqa: E402
from ingest.pseudonymise import KeyStore  # noqa: E402
from queries.migrate import migrate  # noqa: E402
from queries.registry import Platform, Registry  # noqa: E402
from queries.store import Store, Target  # noqa: E402

VENDOR = "bench-vendor"
BATCH = 1_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--passes", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    events = generate(args.events)
    bodies = [gzip.compress(b"\n".join(orjson.dumps(event) for event in events[start:start + BATCH]))
              for start in range(0, len(events), BATCH)]
    directory = Path(tempfile.mkdtemp(prefix="vnmeter-request-steps-"))
    store = Store(Target("chdb", f"chdb://{directory}", "bench", directory))
    try:
        migrate(store)
        registry = Registry(store, 3600)
        registry.seed()
        for platform in PLATFORMS:
            registry.put_platform(Platform(platform, platform, VENDOR, "vn", "communication", "app", None))
        writer = KeepingWriter()
        ingestor = Ingestor(registry, KeyStore(store, 3600), writer, ZoneInfo("Asia/Ho_Chi_Minh"))  # type: ignore[arg-type]

        def one_pass() -> None:
            for body in bodies:
                result = ingestor.submit(body, "application/x-ndjson", "gzip", VENDOR).result()
                if result.accepted != BATCH:
                    raise SystemExit(f"a request was not accepted whole: {result.as_dict()['rejected'][:3]}")
            writer.kept.clear()

        one_pass()  # creates the pseudonym keys
        figures = []
        for number in range(1, args.passes + 1):
            began = time.thread_time()
            one_pass()
            figures.append((time.thread_time() - began) / len(events) * 1e6)
            print(f"pass {number}: {figures[-1]:.2f} us of CPU per event", flush=True)
        print(f"{len(events):,} events in {len(bodies)} requests, {args.passes} passes: median "
              f"{statistics.median(figures):.2f} us, lowest {min(figures):.2f} us per event")
        if args.profile:
            profile = cProfile.Profile()
            profile.runcall(one_pass)
            pstats.Stats(profile).sort_stats("tottime").print_stats(15)
    finally:
        store.close()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
