"""Locust load test of vnmeter: vendors posting gzip NDJSON batches, analysts reading figures.

Vendor users post batches of VNMETER_LOAD_BATCH (default 500) events for their own platforms; about
2% of the rows are bad (each of four kinds of rejection), and about 10% of the posts re-send one of
the user's earlier batches byte for byte, as a client retrying after a timeout would. A re-sent
batch must come back with nothing accepted; one that does not is counted as a failure. Each vendor
user stops after VNMETER_LOAD_MAX_BATCHES batches, so a run is bounded in count as well as in time.

Analyst users call the platform metrics, breakdown, rankings, Vietnamese vs foreign comparison,
overview and summary endpoints (a summary that does not exist yet answers 404, which is fine).

Configuration comes from the environment, which `loadtest/run.py` sets up (keys, platforms, period):
VNMETER_LOAD_CONFIG is a JSON object {"vendors": [{"key", "platforms"}], "analyst_key", "period",
"months"}; VNMETER_LOAD_REPORT names a JSON file that receives the event counters at the end.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from locust import HttpUser, between, events, task
from locust.exception import StopUser

BATCH = int(os.environ.get("VNMETER_LOAD_BATCH", "500"))
MAX_BATCHES = int(os.environ.get("VNMETER_LOAD_MAX_BATCHES", "1000"))
BAD_ROW_SHARE = 0.02
RETRY_SHARE = 0.10
USERS_PER_PLATFORM = 5_000
RAW_USER_PREFIX = "LoadRawUser"  # run.py looks for it in the data directory and the service output

CONFIG: dict[str, Any] = json.loads(os.environ.get("VNMETER_LOAD_CONFIG", "{}"))
COUNTS: Counter[str] = Counter()
COUNTS_LOCK = threading.Lock()


def count(**increments: int) -> None:
    with COUNTS_LOCK:
        COUNTS.update(increments)


def bad_row(rng: random.Random, platform: str, ts: str) -> dict[str, Any]:
    """One row that must be rejected, of one of four kinds."""
    kind = rng.randrange(4)
    row: dict[str, Any] = {"event_id": str(uuid.uuid4()), "platform": platform, "user": "x", "ts": ts}
    if kind == 0:
        del row["user"]  # missing_field
    elif kind == 1:
        row["duration_s"] = "60"  # invalid_field: a string is not an integer
    elif kind == 2:
        row["platform"] = "not-registered"  # unknown_platform
    else:
        row["ts"] = (datetime.now(UTC) + timedelta(days=2)).isoformat()  # future_timestamp
    return row


class Vendor(HttpUser):
    """Posts gzip NDJSON batches for one vendor's platforms, re-sending some earlier batches."""

    weight = 3
    wait_time = between(0.05, 0.3)

    def on_start(self) -> None:
        if not CONFIG:
            raise StopUser()
        self.rng = random.Random()
        vendor = self.rng.choice(CONFIG["vendors"])
        self.platforms: list[str] = vendor["platforms"]
        self.headers = {"Authorization": f"Bearer {vendor['key']}", "Content-Type": "application/x-ndjson",
                        "Content-Encoding": "gzip"}
        first, last = (datetime.fromisoformat(m).replace(tzinfo=UTC) for m in CONFIG["months"])
        self.first, self.span = first, (last - first).total_seconds()
        self.sent: list[tuple[bytes, int]] = []  # earlier batches: body and number of good rows
        self.batches = 0

    def batch(self) -> tuple[bytes, int]:
        lines, good = [], 0
        for _ in range(BATCH):
            platform = self.rng.choice(self.platforms)
            ts = (self.first + timedelta(seconds=self.rng.uniform(0, self.span))).isoformat()
            if self.rng.random() < BAD_ROW_SHARE:
                lines.append(orjson.dumps(bad_row(self.rng, platform, ts)))
                continue
            good += 1
            lines.append(orjson.dumps({
                "event_id": str(uuid.uuid4()), "platform": platform,
                "user": f"{RAW_USER_PREFIX}-{platform}-{self.rng.randrange(USERS_PER_PLATFORM)}",
                "type": "install" if self.rng.random() < 0.05 else "session", "ts": ts,
                "duration_s": self.rng.randrange(0, 3600), "bytes": self.rng.randrange(0, 50_000_000),
                "os": self.rng.choice(["android", "ios"]), "province": self.rng.choice(["VN-HN", "VN-SG", "VN-26"]),
            }))
        return gzip.compress(b"\n".join(lines) + b"\n", compresslevel=1), good

    @task
    def post_batch(self) -> None:
        if self.batches >= MAX_BATCHES:
            raise StopUser()
        retry = bool(self.sent) and self.rng.random() < RETRY_SHARE
        body, good = self.rng.choice(self.sent) if retry else self.batch()
        name = "POST /v1/events (retry)" if retry else "POST /v1/events"
        with self.client.post("/v1/events", data=body, headers=self.headers, name=name,
                              catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")
                return
            answer = response.json()
            count(posted=good, accepted=answer["accepted"], duplicates=answer["duplicates"],
                  rejected=len(answer["rejected"]), retries=int(retry))
            if answer["accepted"] + answer["duplicates"] != good:
                response.failure(f"{good} good rows, answer {answer['accepted']}+{answer['duplicates']}")
            elif retry and answer["accepted"]:
                response.failure(f"a re-sent batch stored {answer['accepted']} events again")
        self.batches += 1
        if not retry:
            self.sent = (self.sent + [(body, good)])[-5:]


class Analyst(HttpUser):
    """Reads metrics, rankings, the origin comparison, the overview, breakdowns and summaries."""

    weight = 1
    wait_time = between(0.1, 0.5)

    def on_start(self) -> None:
        if not CONFIG:
            raise StopUser()
        self.rng = random.Random()
        self.headers = {"Authorization": f"Bearer {CONFIG['analyst_key']}"}
        self.period = CONFIG["period"]
        self.platforms = [p for vendor in CONFIG["vendors"] for p in vendor["platforms"]]

    def get(self, url: str, name: str, params: dict[str, Any], missing_ok: bool = False) -> None:
        with self.client.get(url, params=params, headers=self.headers, name=name, catch_response=True) as response:
            if response.status_code == 200 or (missing_ok and response.status_code == 404):
                response.success()
            else:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")

    @task(4)
    def platform_metrics(self) -> None:
        platform = self.rng.choice(self.platforms)
        self.get(f"/v1/platforms/{platform}/metrics", "GET /v1/platforms/[id]/metrics", {"period": self.period})

    @task(2)
    def rankings(self) -> None:
        metric = self.rng.choice(["mau_avg", "minutes_per_user_day", "mb_per_user_month", "sessions"])
        self.get("/v1/rankings", "GET /v1/rankings", {"period": self.period, "metric": metric})

    @task(1)
    def compare_origin(self) -> None:
        self.get("/v1/compare/origin", "GET /v1/compare/origin", {"period": self.period, "category": "communication"})

    @task(1)
    def overview(self) -> None:
        self.get("/v1/overview", "GET /v1/overview", {"period": self.period})

    @task(1)
    def breakdown(self) -> None:
        platform = self.rng.choice(self.platforms)
        self.get(f"/v1/platforms/{platform}/breakdown", "GET /v1/platforms/[id]/breakdown",
                 {"period": self.period, "by": self.rng.choice(["province", "os", "country"])})

    @task(1)
    def summary(self) -> None:
        self.get(f"/v1/summaries/{self.period}", "GET /v1/summaries/[period]", {"format": "json"}, missing_ok=True)


@events.test_stop.add_listener
def write_report(**_: Any) -> None:
    path = os.environ.get("VNMETER_LOAD_REPORT")
    if path:
        with COUNTS_LOCK, open(path, "w", encoding="utf-8") as handle:
            json.dump(dict(COUNTS), handle)
