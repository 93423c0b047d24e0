"""Run the SIGKILL crash test (tests/system/test_crash.py) many times, each with its own seed, and count the passes.

    .venv/bin/python loadtest/crash_loop.py [--runs 20] [--kills 20] [--batches 400] [--first-seed 1]

Each run starts `vnmeter serve` on a fresh data directory, posts BATCHES batches from two clients, kills the
service KILLS times at random moments (a probe view keeps every insert inside the chain of views for a
while, so kills land before, during and after the view inserts), restarts it on the same directory and then
checks every figure against the client's own log and `vnmeter verify`. A failing run's output is kept under
--keep (default bench/out/crash-loop). Prints one line per run and the tally; exits 1 if any run failed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=ROOT / "bench" / "out" / "crash-loop")
    args = parser.parse_args()
    args.keep.mkdir(parents=True, exist_ok=True)
    passed = 0
    started = time.monotonic()
    for run in range(args.runs):
        seed = args.first_seed + run
        env = {**os.environ, "CRASH_SEED": str(seed), "CRASH_KILLS": str(args.kills),
               "CRASH_BATCHES": str(args.batches)}
        began = time.monotonic()
        result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                                 "tests/system/test_crash.py"], cwd=ROOT, env=env, capture_output=True, text=True)
        figures = re.search(r"crash-test figures: (.*)", result.stdout)
        ok = result.returncode == 0
        passed += ok
        print(f"run {run + 1:2d}/{args.runs} seed {seed}: {'passed' if ok else 'FAILED'} in "
              f"{time.monotonic() - began:.0f} s; {figures.group(1) if figures else 'no figures'}", flush=True)
        if not ok:
            (args.keep / f"seed-{seed}.log").write_text(result.stdout + "\n" + result.stderr)
    print(f"crash loop: {passed} of {args.runs} runs passed ({args.kills} kills and {args.batches} batches each) "
          f"in {time.monotonic() - started:.0f} s")
    return 0 if passed == args.runs else 1


if __name__ == "__main__":
    sys.exit(main())
