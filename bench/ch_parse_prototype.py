"""Prototype: what it costs ClickHouse (chDB) to parse, check and pseudonymise NDJSON lines itself.

The issue suggests letting ClickHouse parse and check on the fast path if per-event Python work is too
slow. This script measures that path before anyone builds it: it loads the prototype view
(bench/prototypes/ch_parse_stage.sql: a Null table of raw lines and a view that checks every rule of
ingest/validate.py, computes the Vietnam day and HMAC-SHA256 pseudonyms, and writes stored-form rows)
into a fresh chDB directory, inserts the benchmark's generated events as lines, checks one pseudonym
against Python's hmac, and prints the cost per line of the whole view and of its main functions alone.

    python bench/ch_parse_prototype.py [--lines 16000] [--groups 4]
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import secrets
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import ingest_bench  # noqa: E402

from ingest.countries import COUNTRY_CODES  # noqa: E402
from queries.migrate import migrate, statements  # noqa: E402
from queries.store import Store, open_store  # noqa: E402

FUNCTIONS = {
    "no-op (read the line)": "line",
    "match: no control character or backslash": r"match(line, '[\\x00-\\x1f\\\\]')",
    "isValidJSON": "isValidJSON(line)",
    "JSONExtractKeysAndValuesRaw": "JSONExtractKeysAndValuesRaw(line)",
    "extract: a number as written": r"extract(line, '\"duration_s\"\\s*:\\s*([0-9]+)\\s*[,}]')",
    "two SHA-256 (HMAC)": "SHA256(concat(repeat('a', 64), SHA256(concat(repeat('b', 64), line))))",
}


def setup(store: Store) -> None:
    migrate(store)
    for statement in statements((ROOT / "bench" / "prototypes" / "ch_parse_stage.sql").read_text()):
        store.command(statement)
    now = datetime.now(UTC)
    store.insert("service_state", [["timezone", "Asia/Ho_Chi_Minh", now]], ["name", "value", "updated_at"])
    store.insert("countries", [[code] for code in sorted(COUNTRY_CODES)], ["code"])
    for platform in ingest_bench.PLATFORMS:
        store.insert("platforms", [[platform, platform, "bench", "vn", "other", "app", None, now]],
                     ["platform_id", "name", "vendor", "origin", "category", "kind", "province", "updated_at"])
        for month in (date(2022, 1, 1), date(2022, 2, 1), date(2022, 3, 1), date(2022, 4, 1)):
            store.command("INSERT INTO pseudonym_keys (platform, month, key, created_at) "
                          "SELECT {p:String}, {m:Date}, unhex({k:String}), now64(6)",
                          {"p": platform, "m": month, "k": secrets.token_hex(32)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=16_000, help="lines per insert (one writer group)")
    parser.add_argument("--groups", type=int, default=4)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vnmeter-proto-"))
    try:
        store = open_store(None, work)
        setup(store)
        events = ingest_bench.generate(args.lines * args.groups)
        lines = [orjson.dumps(e).decode() for e in events]
        now_ms = int(time.time() * 1000)
        elapsed = 0.0
        for g in range(args.groups):
            chunk = lines[g * args.lines:(g + 1) * args.lines]
            n = len(chunk)
            data = orjson.dumps([[g] * n, [i // 1000 for i in range(n)], [i % 1000 for i in range(n)],
                                 ["bench"] * n, [now_ms] * n, chunk])
            began = time.perf_counter()
            store.raw_insert("ingest_lines", ["grp", "req", "line_no", "vendor", "now_ms", "line"], data,
                             "JSONCompactColumns")
            elapsed += time.perf_counter() - began
        staged = store.rows("SELECT ok, count() FROM ingest_staged GROUP BY ok")
        assert staged == [(1, len(lines))], staged
        first = events[0]
        pseudo, day = store.rows("SELECT user_pseudo_hex, day FROM ingest_staged WHERE grp = 0 AND req = 0 "
                                 "AND line_no = 0")[0]
        key = store.rows("SELECT argMin(key, (created_at, key)) FROM pseudonym_keys WHERE platform = {p:String} "
                         "AND month = toStartOfMonth({d:Date})", {"p": first["platform"], "d": day})[0][0]
        key = key.encode("latin-1") if isinstance(key, str) else key
        expected = hmac.new(key, first["user"].encode(), hashlib.sha256).hexdigest()[:32]
        assert (pseudo.decode() if isinstance(pseudo, bytes) else pseudo) == expected
        print(f"view, {args.groups} inserts of {args.lines:,} lines: {elapsed / len(lines) * 1e6:.2f} us per line "
              f"(all {len(lines):,} accepted; pseudonym equals Python's HMAC-SHA256)")
        store.command("CREATE TABLE lines_only (line String) ENGINE = MergeTree ORDER BY tuple()")
        store.insert("lines_only", [[line] for line in lines], ["line"])
        for label, expression in FUNCTIONS.items():
            began = time.perf_counter()
            store.rows(f"SELECT sum(cityHash64({expression})) FROM lines_only SETTINGS max_threads = 1")
            print(f"  {label}: {(time.perf_counter() - began) / len(lines) * 1e6:.2f} us per line")
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
