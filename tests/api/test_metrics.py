"""Metrics endpoints on a hand-built dataset posted through the real API; every expected figure is computed
by hand in the comments next to it.

The dataset (Vietnam time = UTC+7; "local" below is the calendar day in Asia/Ho_Chi_Minh):

zalo (vn, communication, app, vendor vng)
  2021-Q1  u1 2021-01-10 1200 s 2 MB; u2 2021-01-10 600 s 1 MB; install u10 2021-02-01; u1 2021-03-05 600 s 3 MB
  2021-Q4  u1 2021-10-10 540 s 1.5 MB; install u9 2021-11-20; u2 2021-12-31T16:59:59Z (local 12-31 23:59:59) 60 s 0.5 MB
  2022-01  u1 01-01 00:10 local 600 s 3 MB (android, VN-HN); u1 01-01 23:50 local 300 s 1 MB (android, VN-HN);
           u2 2021-12-31T17:30Z = local 2022-01-01 00:30, 1200 s 2 MB (ios, VN-SG); install u7 01-05;
           u3 01-15 900 s 6 MB (android, country US), posted three times (duplicates)
  2022-02  u1 02-10 1800 s 4 MB; u1 02-11 600 s 2 MB (android, VN-HN);
           u2 2022-02-28T16:30Z = local 02-28 23:30, 1200 s 3 MB (ios, VN-SG)
  2022-03  u4 2022-02-28T17:30Z = local 03-01 00:30, 300 s 1 MB (android, VN-HN); u1 03-01 300 s 1 MB;
           u3 03-20 600 s 2 MB (android, US); u5 2022-03-31T16:59Z = local 03-31 23:59, 600 s 2 MB (ios, VN-HN)
  2022-04  u6 2022-03-31T17:30Z = local 04-01 00:30, 900 s 5 MB; install u8 2022-03-31T17:10Z = local 04-01
mocha (vn, communication, app, vendor viettel)
  2022-01  m1 01-20 600 s 8 MB; m2 01-20 600 s 4 MB     2022-03  m1 03-03 1200 s 6 MB
messenger (foreign, communication, app, vendor meta)
  2021-01  f1 01-07 600 s 1 MB
  2022-01  f1 01-02 300 s 5 MB; f2 01-02 300 s 5 MB; f3 01-03 600 s 2 MB
  2022-02  f1 02-02 600 s 3 MB; install f9 02-14     2022-03  f1 03-02 300 s 2 MB; f2 03-02 300 s 2 MB
viber (foreign, communication, app, vendor rakuten): every event 60 s 1 MB
  2022-01  v1, v2 01-05     2022-02  v1 02-05; v2 02-06     2022-03  v1, v2 03-05
hue-s (vn, public_services, app, province VN-26 with 2 smartphone users, vendor hue): every session 120 s 0.1 MB
  2021-12  installs h8 12-01, h9 12-02
  2022-01  h1, h2 (VN-26), h3 (VN-HN) 01-10     2022-02  the same on 02-10     2022-03  h1 03-10
vnexpress (vn, news, web, vendor fpt): 0 bytes
  2021-02  w1 02-15 100 s
  2022-01  w1 2022-01-01T00:00:00+07:00 (local midnight: 01-01) 100 s; w1 01-01 12:00 100 s
  2022-02  w2 2022-01-31T17:00:00Z = local 02-01 00:00:00, 200 s
lotus (vn, social, app, vendor vccorp): install l1 2022-02-14 only (no session: never active)

T = 2022-Q1: k = 3 months, n = 31 + 28 + 31 = 90 days; prev = 2021-Q4; year before = 2021-Q1.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from queries import metrics
from queries.metrics import Figures, MonthTotals, Usage, compare_from_figures, compute_figures
from queries.migrate import migrate
from queries.periods import parse_period
from queries.store import Store, Target
from service.app import create_app
from service.settings import Settings

ADMIN_KEY = "m" * 40
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
T = "2022-Q1"
EVENT_NAMESPACE = uuid.UUID("6f1c2a52-6a43-4d53-9d8e-0f4c3c7a9b10")

PLATFORMS = {
    # id: (name, vendor, origin, category, kind, province)
    "zalo": ("Zalo", "vng", "vn", "communication", "app", None),
    "mocha": ("Mocha", "viettel", "vn", "communication", "app", None),
    "messenger": ("Messenger", "meta", "foreign", "communication", "app", None),
    "viber": ("Viber", "rakuten", "foreign", "communication", "app", None),
    "hue-s": ("Hue-S", "hue", "vn", "public_services", "app", "VN-26"),
    "vnexpress": ("VnExpress", "fpt", "vn", "news", "web", None),
    "lotus": ("Lotus", "vccorp", "vn", "social", "app", None),
}
MB = 1_000_000
HN = {"province": "VN-HN", "os": "android"}
SG = {"province": "VN-SG", "os": "ios"}
US = {"country": "US", "os": "android"}

# (label, platform, user, ts, type, duration_s, bytes, other fields); the label makes the event_id.
EVENTS: list[tuple[str, str, str, str, str, int, int, dict[str, Any]]] = [
    ("z-a", "zalo", "u1", "2021-01-10T10:00:00+07:00", "session", 1200, 2 * MB, {}),
    ("z-b", "zalo", "u2", "2021-01-10T11:00:00+07:00", "session", 600, 1 * MB, {}),
    ("z-c", "zalo", "u10", "2021-02-01T09:00:00+07:00", "install", 0, 0, {}),
    ("z-d", "zalo", "u1", "2021-03-05T09:00:00+07:00", "session", 600, 3 * MB, {}),
    ("z-e", "zalo", "u1", "2021-10-10T10:00:00+07:00", "session", 540, 1_500_000, {}),
    ("z-f", "zalo", "u9", "2021-11-20T10:00:00+07:00", "install", 0, 0, {}),
    ("z-g", "zalo", "u2", "2021-12-31T16:59:59Z", "session", 60, 500_000, {}),
    ("z1", "zalo", "u1", "2022-01-01T00:10:00+07:00", "session", 600, 3 * MB, HN),
    ("z2", "zalo", "u1", "2022-01-01T23:50:00+07:00", "session", 300, 1 * MB, HN),
    ("z3", "zalo", "u2", "2021-12-31T17:30:00Z", "session", 1200, 2 * MB, SG),
    ("z4", "zalo", "u7", "2022-01-05T10:00:00+07:00", "install", 0, 0, {}),
    ("z5", "zalo", "u3", "2022-01-15T10:00:00+07:00", "session", 900, 6 * MB, US),
    ("z6", "zalo", "u1", "2022-02-10T08:00:00+07:00", "session", 1800, 4 * MB, HN),
    ("z7", "zalo", "u1", "2022-02-11T08:00:00+07:00", "session", 600, 2 * MB, HN),
    ("z8", "zalo", "u2", "2022-02-28T16:30:00Z", "session", 1200, 3 * MB, SG),
    ("z9", "zalo", "u4", "2022-02-28T17:30:00Z", "session", 300, 1 * MB, HN),
    ("z10", "zalo", "u1", "2022-03-01T09:00:00+07:00", "session", 300, 1 * MB, HN),
    ("z11", "zalo", "u3", "2022-03-20T12:00:00+07:00", "session", 600, 2 * MB, US),
    ("z12", "zalo", "u5", "2022-03-31T16:59:00Z", "session", 600, 2 * MB, {"province": "VN-HN", "os": "ios"}),
    ("z13", "zalo", "u6", "2022-03-31T17:30:00Z", "session", 900, 5 * MB, {}),
    ("z14", "zalo", "u8", "2022-03-31T17:10:00Z", "install", 0, 0, {}),
    ("m1", "mocha", "m1", "2022-01-20T10:00:00+07:00", "session", 600, 8 * MB, {}),
    ("m2", "mocha", "m2", "2022-01-20T11:00:00+07:00", "session", 600, 4 * MB, {}),
    ("m3", "mocha", "m1", "2022-03-03T10:00:00+07:00", "session", 1200, 6 * MB, {}),
    ("f-a", "messenger", "f1", "2021-01-07T10:00:00+07:00", "session", 600, 1 * MB, {}),
    ("f1", "messenger", "f1", "2022-01-02T10:00:00+07:00", "session", 300, 5 * MB, {}),
    ("f2", "messenger", "f2", "2022-01-02T11:00:00+07:00", "session", 300, 5 * MB, {}),
    ("f3", "messenger", "f3", "2022-01-03T10:00:00+07:00", "session", 600, 2 * MB, {}),
    ("f4", "messenger", "f1", "2022-02-02T10:00:00+07:00", "session", 600, 3 * MB, {}),
    ("f5", "messenger", "f9", "2022-02-14T10:00:00+07:00", "install", 0, 0, {}),
    ("f6", "messenger", "f1", "2022-03-02T10:00:00+07:00", "session", 300, 2 * MB, {}),
    ("f7", "messenger", "f2", "2022-03-02T11:00:00+07:00", "session", 300, 2 * MB, {}),
    ("v1", "viber", "v1", "2022-01-05T10:00:00+07:00", "session", 60, 1 * MB, {}),
    ("v2", "viber", "v2", "2022-01-05T11:00:00+07:00", "session", 60, 1 * MB, {}),
    ("v3", "viber", "v1", "2022-02-05T10:00:00+07:00", "session", 60, 1 * MB, {}),
    ("v4", "viber", "v2", "2022-02-06T10:00:00+07:00", "session", 60, 1 * MB, {}),
    ("v5", "viber", "v1", "2022-03-05T10:00:00+07:00", "session", 60, 1 * MB, {}),
    ("v6", "viber", "v2", "2022-03-05T11:00:00+07:00", "session", 60, 1 * MB, {}),
    ("h-a", "hue-s", "h8", "2021-12-01T10:00:00+07:00", "install", 0, 0, {}),
    ("h-b", "hue-s", "h9", "2021-12-02T10:00:00+07:00", "install", 0, 0, {}),
    ("h1", "hue-s", "h1", "2022-01-10T10:00:00+07:00", "session", 120, 100_000, {"province": "VN-26"}),
    ("h2", "hue-s", "h2", "2022-01-10T11:00:00+07:00", "session", 120, 100_000, {"province": "VN-26"}),
    ("h3", "hue-s", "h3", "2022-01-10T12:00:00+07:00", "session", 120, 100_000, {"province": "VN-HN"}),
    ("h4", "hue-s", "h1", "2022-02-10T10:00:00+07:00", "session", 120, 100_000, {"province": "VN-26"}),
    ("h5", "hue-s", "h2", "2022-02-10T11:00:00+07:00", "session", 120, 100_000, {"province": "VN-26"}),
    ("h6", "hue-s", "h3", "2022-02-10T12:00:00+07:00", "session", 120, 100_000, {"province": "VN-HN"}),
    ("h7", "hue-s", "h1", "2022-03-10T10:00:00+07:00", "session", 120, 100_000, {"province": "VN-26"}),
    ("w-a", "vnexpress", "w1", "2021-02-15T10:00:00+07:00", "session", 100, 0, {"os": "web"}),
    ("w1", "vnexpress", "w1", "2022-01-01T00:00:00+07:00", "session", 100, 0, {"os": "web"}),
    ("w2", "vnexpress", "w1", "2022-01-01T12:00:00+07:00", "session", 100, 0, {"os": "web"}),
    ("w3", "vnexpress", "w2", "2022-01-31T17:00:00Z", "session", 200, 0, {"os": "web"}),
    ("l1", "lotus", "l1", "2022-02-14T10:00:00+07:00", "install", 0, 0, {}),
]


def event_body(label: str) -> dict[str, Any]:
    _, platform, user, ts, kind, duration_s, size, extra = next(e for e in EVENTS if e[0] == label)
    body: dict[str, Any] = {"event_id": str(uuid.uuid5(EVENT_NAMESPACE, label)), "platform": platform, "user": user,
                            "type": kind, "ts": ts, "duration_s": duration_s, "bytes": size}
    body.update(extra)
    return body


@dataclass
class World:
    client: TestClient
    store: Store
    database: str
    chdb_dir: Path
    analyst: dict[str, str]
    vendors: dict[str, dict[str, str]]
    duplicates: int

    def get(self, url: str, headers: dict[str, str] | None = None, status: int = 200) -> Any:
        response = self.client.get(url, headers=headers or self.analyst)
        assert response.status_code == status, response.text
        return response.json() if response.headers["content-type"].startswith("application/json") else response


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextmanager
def app_on(chdb_dir: Path, database: str, data_dir: Path, **settings: Any) -> Iterator[TestClient]:
    """An app on its own Store object for `database` (closing the app closes only that object)."""
    store = Store(Target("chdb", f"chdb://{chdb_dir}", database, chdb_dir))
    app = create_app(Settings(data_dir=data_dir, admin_key=ADMIN_KEY, **settings), store=store)
    with TestClient(app) as client:
        yield client


@pytest.fixture(scope="module")
def world(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    database = f"t_{uuid.uuid4().hex[:12]}"
    migrate(Store(Target("chdb", f"chdb://{chdb_dir}", database, chdb_dir)))
    data_dir = tmp_path_factory.mktemp("metrics")
    with app_on(chdb_dir, database, data_dir) as client:
        def key(role: str, vendor: str | None = None) -> dict[str, str]:
            body = {"role": role} if vendor is None else {"role": role, "vendor": vendor}
            created = client.post("/v1/keys", json=body, headers=ADMIN)
            assert created.status_code == 201, created.text
            return bearer(created.json()["key"])

        put = client.put("/v1/reference/provinces/VN-26", json={"name": "Thừa Thiên Huế", "smartphone_users": 2},
                         headers=ADMIN)
        assert put.status_code == 200, put.text
        vendors = {}
        for pid, (name, vendor, origin, category, kind, province) in PLATFORMS.items():
            response = client.put(f"/v1/platforms/{pid}", headers=ADMIN, json={
                "name": name, "vendor": vendor, "origin": origin, "category": category, "kind": kind,
                "province": province})
            assert response.status_code == 200, response.text
            vendors[vendor] = key("vendor", vendor)
        duplicates = 0
        for pid, (_, vendor, *_) in PLATFORMS.items():
            rows = [event_body(e[0]) for e in EVENTS if e[1] == pid]
            if pid == "zalo":
                rows.append(event_body("z5"))  # the same event twice in one request
            response = client.post("/v1/events", json=rows, headers=vendors[vendor])
            assert response.status_code == 200, response.text
            assert response.json()["rejected"] == []
            duplicates += response.json()["duplicates"]
        again = client.post("/v1/events", json=[event_body("z5"), event_body("z1")], headers=vendors["vng"])
        assert again.json()["accepted"] == 0
        duplicates += again.json()["duplicates"]
        store: Store = client.app.state.services.store  # type: ignore[attr-defined]
        yield World(client, store, database, chdb_dir, key("analyst"), vendors, duplicates)
    dropper = Store(Target("chdb", f"chdb://{chdb_dir}", database, chdb_dir))
    dropper.command(f"DROP DATABASE IF EXISTS {database}")
    dropper.close()


def test_dataset_was_stored_once(world: World) -> None:
    # 52 distinct events; z5 was posted three times and z1 twice: 3 duplicates
    assert world.duplicates == 3
    assert world.store.rows("SELECT count() FROM events")[0][0] == len(EVENTS) == 52


# -- GET /v1/platforms/{id}/metrics ------------------------------------------------------------------------

ZALO_Q1 = {
    "platform": "zalo",
    "period": "2022-Q1",
    # Jan {u1, u2 (00:30 local on 01-01), u3} = 3 (u7 only installed); Feb {u1, u2} = 2;
    # Mar {u4 (00:30 local on 03-01), u1, u3, u5 (23:59 local on 03-31)} = 4 (u6 is on 04-01 local)
    "mau_by_month": [{"month": "2022-01", "mau": 3}, {"month": "2022-02", "mau": 2}, {"month": "2022-03", "mau": 4}],
    "mau_avg": 9 / 3,
    "mau_peak": 4,
    "mau_peak_month": "2022-03",
    # dau: 01-01 {u1, u2} 2, 01-15 {u3} 1; 02-10 1, 02-11 1, 02-28 1; 03-01 {u4, u1} 2, 03-20 1, 03-31 1 -> 10
    "dau_avg": 10 / 90,
    # (10 / 90) / (9 / 3) = 1 / 27
    "stickiness": 1 / 27,
    # seconds: Jan 600+300+1200+900 = 3000, Feb 1800+600+1200 = 3600, Mar 300+300+600+600 = 1800 -> 8400 s
    # = 140 minutes over 10 user-days
    "minutes_per_user_day": 14.0,
    # Jan 12 MB / 3 = 4, Feb 9 MB / 2 = 4.5, Mar 6 MB / 4 = 1.5 -> (4 + 4.5 + 1.5) / 3
    "mb_per_user_month": 10 / 3,
    # 8400 / 3600 hours over 3 + 2 + 4 = 9 user-months -> 7 / 27
    "hours_per_user_month": 7 / 27,
    "sessions": 11,  # 4 + 3 + 4
    "sessions_per_month": 11 / 3,
    "installs": 1,  # u7 on 01-05 (u8's install is on 04-01 local)
    "installs_total": 3,  # u10 2021-02, u9 2021-11, u7 2022-01
    "penetration": None,  # no province
    "yoy": {
        # 2021-Q1: MAU Jan {u1, u2} 2, Feb 0, Mar {u1} 1 -> 1; dau 2 + 1 = 3; 2400 s = 40 min -> 40/3 min;
        # MB Jan 3/2 = 1.5, Mar 3/1 = 3 -> 2.25; 3 sessions -> 1 a month
        "mau_avg": (3 - 1) / 1,
        "minutes_per_user_day": 1 / 20,  # (14 - 40/3) / (40/3)
        "mb_per_user_month": 13 / 27,  # (10/3 - 9/4) / (9/4) = (40 - 27) / 27
        "sessions_per_month": 8 / 3,  # (11/3 - 1) / 1
    },
    "prev": {
        # 2021-Q4: MAU Oct {u1} 1, Nov 0 (u9 only installed), Dec {u2 at 23:59:59 local on 12-31} 1 -> 2/3;
        # 540 + 60 = 600 s = 10 min over 2 user-days -> 5; MB Oct 1.5, Dec 0.5 -> 1; 2 sessions -> 2/3
        "mau_avg": 3.5,  # (3 - 2/3) / (2/3) = 7/2
        "minutes_per_user_day": 1.8,  # (14 - 5) / 5
        "mb_per_user_month": 7 / 3,  # (10/3 - 1) / 1
        "sessions_per_month": 4.5,  # (11/3 - 2/3) / (2/3) = 3 / (2/3)
    },
}

MOCHA_Q1 = {
    "platform": "mocha", "period": "2022-Q1",
    "mau_by_month": [{"month": "2022-01", "mau": 2}, {"month": "2022-02", "mau": 0}, {"month": "2022-03", "mau": 1}],
    "mau_avg": 1.0,  # (2 + 0 + 1) / 3
    "mau_peak": 2, "mau_peak_month": "2022-01",
    "dau_avg": 3 / 90,  # 01-20 {m1, m2} 2 + 03-03 {m1} 1
    "stickiness": 1 / 30,  # (3/90) / 1
    "minutes_per_user_day": 40 / 3,  # 2400 s = 40 min over 3 user-days
    "mb_per_user_month": 6.0,  # Jan 12 MB / 2 = 6, Mar 6 MB / 1 = 6 (Feb has no users: left out) -> 6
    "hours_per_user_month": 2 / 9,  # 2400 / 3600 / 3
    "sessions": 3, "sessions_per_month": 1.0, "installs": 0, "installs_total": 0, "penetration": None,
    # no data before 2022: every earlier value is 0 or missing
    "yoy": dict.fromkeys(metrics.CHANGE_METRICS), "prev": dict.fromkeys(metrics.CHANGE_METRICS),
}

MESSENGER_Q1 = {
    "platform": "messenger", "period": "2022-Q1",
    "mau_by_month": [{"month": "2022-01", "mau": 3}, {"month": "2022-02", "mau": 1}, {"month": "2022-03", "mau": 2}],
    "mau_avg": 2.0,  # 6 / 3
    "mau_peak": 3, "mau_peak_month": "2022-01",
    "dau_avg": 6 / 90,  # 01-02 2 + 01-03 1 + 02-02 1 + 03-02 2
    "stickiness": 1 / 30,  # (6/90) / 2
    "minutes_per_user_day": 20 / 3,  # 300+300+600+600+300+300 = 2400 s = 40 min over 6 user-days
    "mb_per_user_month": 3.0,  # Jan 12/3 = 4, Feb 3/1 = 3, Mar 4/2 = 2 -> 9 / 3
    "hours_per_user_month": 1 / 9,  # 2400 / 3600 / 6
    "sessions": 6, "sessions_per_month": 2.0,
    "installs": 1, "installs_total": 1,  # f9 on 02-14
    "penetration": None,
    # 2021-Q1: MAU 1, 0, 0 -> 1/3; 600 s = 10 min over 1 user-day -> 10; 1 MB / 1 -> 1; 1 session -> 1/3
    "yoy": {"mau_avg": 5.0,  # (2 - 1/3) / (1/3)
            "minutes_per_user_day": -1 / 3,  # (20/3 - 10) / 10
            "mb_per_user_month": 2.0,  # (3 - 1) / 1
            "sessions_per_month": 5.0},  # (2 - 1/3) / (1/3)
    "prev": dict.fromkeys(metrics.CHANGE_METRICS),  # nothing in 2021-Q4
}

VIBER_Q1 = {
    "platform": "viber", "period": "2022-Q1",
    "mau_by_month": [{"month": "2022-01", "mau": 2}, {"month": "2022-02", "mau": 2}, {"month": "2022-03", "mau": 2}],
    "mau_avg": 2.0,
    "mau_peak": 2, "mau_peak_month": "2022-01",  # a three-way tie: the earliest month
    "dau_avg": 6 / 90,  # 01-05 2 + 02-05 1 + 02-06 1 + 03-05 2
    "stickiness": 1 / 30,
    "minutes_per_user_day": 1.0,  # 6 x 60 s = 6 min over 6 user-days
    "mb_per_user_month": 1.0,  # 2 MB / 2 users every month
    "hours_per_user_month": 1 / 60,  # 360 / 3600 / 6
    "sessions": 6, "sessions_per_month": 2.0, "installs": 0, "installs_total": 0, "penetration": None,
    "yoy": dict.fromkeys(metrics.CHANGE_METRICS), "prev": dict.fromkeys(metrics.CHANGE_METRICS),
}

HUE_S_Q1 = {
    "platform": "hue-s", "period": "2022-Q1",
    "mau_by_month": [{"month": "2022-01", "mau": 3}, {"month": "2022-02", "mau": 3}, {"month": "2022-03", "mau": 1}],
    "mau_avg": 7 / 3,
    "mau_peak": 3, "mau_peak_month": "2022-01",  # Jan and Feb tie: the earliest
    "dau_avg": 7 / 90,  # 3 + 3 + 1
    "stickiness": 1 / 30,  # (7/90) / (7/3)
    "minutes_per_user_day": 2.0,  # 7 x 120 s = 14 min over 7 user-days
    "mb_per_user_month": 0.1,  # 0.3 MB / 3, 0.3 / 3, 0.1 / 1 -> 0.1 each month
    "hours_per_user_month": 1 / 30,  # 840 / 3600 / 7
    "sessions": 7, "sessions_per_month": 7 / 3,
    "installs": 0, "installs_total": 2,  # h8 and h9 in 2021-12
    "penetration": 1.5,  # peak 3 / 2 smartphone users in VN-26
    "yoy": dict.fromkeys(metrics.CHANGE_METRICS),
    # 2021-Q4 has installs but no session: MAU 0, no user-days, 0 sessions -> every change null
    "prev": dict.fromkeys(metrics.CHANGE_METRICS),
}

VNEXPRESS_Q1 = {
    "platform": "vnexpress", "period": "2022-Q1",
    # w1 at local midnight starting 01-01 and at noon; w2 at 17:00Z on 01-31 = local midnight starting 02-01
    "mau_by_month": [{"month": "2022-01", "mau": 1}, {"month": "2022-02", "mau": 1}, {"month": "2022-03", "mau": 0}],
    "mau_avg": 2 / 3,
    "mau_peak": 1, "mau_peak_month": "2022-01",
    "dau_avg": 2 / 90,
    "stickiness": 1 / 30,  # (2/90) / (2/3)
    "minutes_per_user_day": 10 / 3,  # 400 s = 20/3 min over 2 user-days
    "mb_per_user_month": 0.0,  # 0 bytes: 0 / 1 in Jan and Feb (users, so not null)
    "hours_per_user_month": 1 / 18,  # 400 / 3600 / 2
    "sessions": 3, "sessions_per_month": 1.0, "installs": 0, "installs_total": 0, "penetration": None,
    # 2021-Q1: MAU 0, 1, 0 -> 1/3; 100 s = 5/3 min over 1 user-day; 0 MB per user; 1 session -> 1/3
    "yoy": {"mau_avg": 1.0,  # (2/3 - 1/3) / (1/3)
            "minutes_per_user_day": 1.0,  # (10/3 - 5/3) / (5/3)
            "mb_per_user_month": None,  # the earlier value is 0
            "sessions_per_month": 2.0},  # (1 - 1/3) / (1/3)
    "prev": dict.fromkeys(metrics.CHANGE_METRICS),
}

LOTUS_Q1 = {
    "platform": "lotus", "period": "2022-Q1",
    "mau_by_month": [{"month": "2022-01", "mau": 0}, {"month": "2022-02", "mau": 0}, {"month": "2022-03", "mau": 0}],
    "mau_avg": 0.0, "mau_peak": 0, "mau_peak_month": "2022-01",  # all months tie at 0: the earliest
    "dau_avg": 0.0,
    "stickiness": None, "minutes_per_user_day": None, "mb_per_user_month": None, "hours_per_user_month": None,
    "sessions": 0, "sessions_per_month": 0.0, "installs": 1, "installs_total": 1, "penetration": None,
    "yoy": dict.fromkeys(metrics.CHANGE_METRICS), "prev": dict.fromkeys(metrics.CHANGE_METRICS),
}

EXPECTED_Q1 = {body["platform"]: body for body in
               (ZALO_Q1, MOCHA_Q1, MESSENGER_Q1, VIBER_Q1, HUE_S_Q1, VNEXPRESS_Q1, LOTUS_Q1)}


@pytest.mark.parametrize("platform", list(EXPECTED_Q1))
def test_platform_metrics_q1(world: World, platform: str) -> None:
    body = world.get(f"/v1/platforms/{platform}/metrics?period={T}")
    assert body == EXPECTED_Q1[platform]
    assert list(body) == ["platform", "period", "mau_by_month", "mau_avg", "mau_peak", "mau_peak_month", "dau_avg",
                          "stickiness", "minutes_per_user_day", "mb_per_user_month", "hours_per_user_month",
                          "sessions", "sessions_per_month", "installs", "installs_total", "penetration", "yoy",
                          "prev"]


def test_platform_metrics_month(world: World) -> None:
    body = world.get("/v1/platforms/zalo/metrics?period=2022-03")
    assert body == {
        "platform": "zalo", "period": "2022-03",
        "mau_by_month": [{"month": "2022-03", "mau": 4}],
        "mau_avg": 4.0, "mau_peak": 4, "mau_peak_month": "2022-03",
        "dau_avg": 4 / 31,  # 2 + 1 + 1 over March's 31 days
        "stickiness": 1 / 31,  # (4/31) / 4
        "minutes_per_user_day": 7.5,  # 1800 s = 30 min over 4 user-days
        "mb_per_user_month": 1.5,  # 6 MB / 4
        "hours_per_user_month": 0.125,  # 0.5 h / 4
        "sessions": 4, "sessions_per_month": 4.0,
        "installs": 0,  # u8 installed at 00:10 local on 04-01
        "installs_total": 3,
        "penetration": None,
        # 2021-03: MAU 1, 600 s = 10 min over 1 user-day, 3 MB / 1, 1 session
        "yoy": {"mau_avg": 3.0, "minutes_per_user_day": -0.25, "mb_per_user_month": -0.5,
                "sessions_per_month": 3.0},
        # 2022-02: MAU 2, 3600 s = 60 min over 3 user-days = 20, 9 MB / 2 = 4.5, 3 sessions
        "prev": {"mau_avg": 1.0, "minutes_per_user_day": -0.625, "mb_per_user_month": -2 / 3,
                 "sessions_per_month": 1 / 3},
    }


def test_platform_metrics_after_a_month_end(world: World) -> None:
    # Only what happened after 17:00Z on 2022-03-31: u6's session (900 s, 5 MB) and u8's install
    body = world.get("/v1/platforms/zalo/metrics?period=2022-04")
    assert body["mau_by_month"] == [{"month": "2022-04", "mau": 1}]
    assert (body["dau_avg"], body["minutes_per_user_day"], body["mb_per_user_month"]) == (1 / 30, 15.0, 5.0)
    assert (body["sessions"], body["installs"], body["installs_total"]) == (1, 1, 4)
    assert body["prev"]["mau_avg"] == -0.75  # (1 - 4) / 4
    assert body["yoy"] == dict.fromkeys(metrics.CHANGE_METRICS)  # nothing in 2021-04


def test_platform_metrics_half_year(world: World) -> None:
    body = world.get("/v1/platforms/zalo/metrics?period=2022-H1")
    assert body["mau_by_month"] == [{"month": f"2022-{m:02d}", "mau": mau} for m, mau in
                                    zip(range(1, 7), [3, 2, 4, 1, 0, 0], strict=True)]
    assert body["mau_avg"] == 10 / 6
    assert body["dau_avg"] == 11 / 181  # 10 user-days in Q1 + u6 on 04-01, over 181 days
    assert body["installs"] == 2 and body["installs_total"] == 4  # u7 and u8; plus u10 and u9 before


def test_all_platform_metrics_match_the_endpoint(world: World) -> None:
    services = world.client.app.state.services  # type: ignore[attr-defined]
    everything = metrics.all_platform_metrics(world.store, services.registry, parse_period(T))
    # lotus only installed: no sessions in T
    assert sorted(everything) == ["hue-s", "messenger", "mocha", "viber", "vnexpress", "zalo"]
    for pid, body in everything.items():
        assert body == EXPECTED_Q1[pid]


def test_period_without_data(world: World) -> None:
    body = world.get("/v1/platforms/zalo/metrics?period=2023-Q1")
    assert body["mau_by_month"] == [{"month": m, "mau": 0} for m in ("2023-01", "2023-02", "2023-03")]
    assert body["stickiness"] is None and body["minutes_per_user_day"] is None
    assert body["installs_total"] == 4  # every install up to 2023-03-31
    assert body["yoy"]["mau_avg"] == -1.0  # (0 - 3) / 3
    assert world.get("/v1/rankings?period=2023-Q1&metric=mau_avg")["items"] == []


# -- GET /v1/rankings ----------------------------------------------------------------------------------------

def ranking(world: World, query: str) -> list[tuple[int, str, Any, Any]]:
    body = world.get(f"/v1/rankings?period={T}&{query}")
    return [(item["rank"], item["platform"], item["value"], item["yoy"]) for item in body["items"]]


def test_rankings_by_mau_avg(world: World) -> None:
    body = world.get(f"/v1/rankings?period={T}&metric=mau_avg")
    assert body["period"] == T and body["metric"] == "mau_avg"
    assert body["items"][0] == {"rank": 1, "platform": "zalo", "name": "Zalo", "origin": "vn",
                                "category": "communication", "kind": "app", "value": 3.0, "yoy": 2.0}
    # messenger and viber tie at 2: by id. lotus had no session: not ranked.
    assert ranking(world, "metric=mau_avg") == [
        (1, "zalo", 3.0, 2.0), (2, "hue-s", 7 / 3, None), (3, "messenger", 2.0, 5.0), (4, "viber", 2.0, None),
        (5, "mocha", 1.0, None), (6, "vnexpress", 2 / 3, 1.0)]


def test_rankings_ties_by_id(world: World) -> None:
    # zalo 1/27; everybody else exactly 1/30, so by id.
    # yoy of stickiness: zalo 2021-Q1 (3/90) / 1 = 1/30 -> (1/27 - 1/30) / (1/30) = 30/27 - 1 = 1/9;
    # messenger (1/90) / (1/3) = 1/30 -> 0; vnexpress (1/90) / (1/3) = 1/30 -> 0; the others had no 2021-Q1 users
    assert ranking(world, "metric=stickiness") == [
        (1, "zalo", 1 / 27, 1 / 9), (2, "hue-s", 1 / 30, None), (3, "messenger", 1 / 30, 0.0),
        (4, "mocha", 1 / 30, None), (5, "viber", 1 / 30, None), (6, "vnexpress", 1 / 30, 0.0)]


def test_rankings_other_metrics_and_filters(world: World) -> None:
    assert ranking(world, "metric=minutes_per_user_day") == [
        (1, "zalo", 14.0, 1 / 20), (2, "mocha", 40 / 3, None), (3, "messenger", 20 / 3, -1 / 3),
        (4, "vnexpress", 10 / 3, 1.0), (5, "hue-s", 2.0, None), (6, "viber", 1.0, None)]
    # installs_total: zalo 3 (up to 2021-03-31: 1 -> +200%), hue-s 2, messenger 1, then the zeros by id
    assert ranking(world, "metric=installs_total") == [
        (1, "zalo", 3, 2.0), (2, "hue-s", 2, None), (3, "messenger", 1, None), (4, "mocha", 0, None),
        (5, "viber", 0, None), (6, "vnexpress", 0, None)]
    assert ranking(world, "metric=penetration") == [(1, "hue-s", 1.5, None)]  # the only platform with a province
    assert ranking(world, "metric=mau_avg&origin=foreign") == [(1, "messenger", 2.0, 5.0), (2, "viber", 2.0, None)]
    assert ranking(world, "metric=mb_per_user_month&origin=vn") == [
        (1, "mocha", 6.0, None), (2, "zalo", 10 / 3, 13 / 27), (3, "hue-s", 0.1, None), (4, "vnexpress", 0.0, None)]
    assert ranking(world, "metric=sessions_per_month&kind=web") == [(1, "vnexpress", 1.0, 2.0)]
    assert ranking(world, "metric=mau_avg&category=communication&origin=vn") == [
        (1, "zalo", 3.0, 2.0), (2, "mocha", 1.0, None)]
    assert ranking(world, "metric=mau_avg&limit=2") == [(1, "zalo", 3.0, 2.0), (2, "hue-s", 7 / 3, None)]
    assert ranking(world, "metric=mau_peak&category=social") == []  # lotus: no session


def test_rankings_csv(world: World) -> None:
    response = world.get(f"/v1/rankings?period={T}&metric=mau_avg&origin=foreign&format=csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text == ("rank,platform,name,origin,category,kind,value,yoy\n"
                             "1,messenger,Messenger,foreign,communication,app,2.0,5.0\n"
                             "2,viber,Viber,foreign,communication,app,2.0,\n")


# -- GET /v1/compare/origin --------------------------------------------------------------------------------

def test_compare_origin(world: World) -> None:
    body = world.get(f"/v1/compare/origin?period={T}&category=communication")
    # top 5 by mau_avg: zalo 3, messenger 2, viber 2 (tie: by id), mocha 1 - all four
    # vn: zalo 10/3 + mocha 6 = 28/3 MB; foreign: messenger 3 + viber 1 = 4 MB; all 40/3
    assert body == {
        "period": T, "category": "communication", "metric": "mb_per_user_month",
        "vn": {"platforms": [{"platform": "zalo", "name": "Zalo", "mau_avg": 3.0, "value": 10 / 3},
                             {"platform": "mocha", "name": "Mocha", "mau_avg": 1.0, "value": 6.0}],
               "total": 28 / 3, "share": 0.7},  # (28/3) / (40/3)
        "foreign": {"platforms": [{"platform": "messenger", "name": "Messenger", "mau_avg": 2.0, "value": 3.0},
                                  {"platform": "viber", "name": "Viber", "mau_avg": 2.0, "value": 1.0}],
                    "total": 4.0, "share": 0.3},  # 4 / (40/3)
        "ratio_vn_to_foreign": 7 / 3,  # (28/3) / 4
    }


def test_compare_origin_top_and_empty_sides(world: World) -> None:
    # top 2: zalo, then messenger (tied with viber at 2, earlier id): 10/3 against 3 MB
    body = world.get(f"/v1/compare/origin?period={T}&category=communication&top=2")
    assert [p["platform"] for p in body["vn"]["platforms"] + body["foreign"]["platforms"]] == ["zalo", "messenger"]
    assert (body["vn"]["total"], body["foreign"]["total"]) == (10 / 3, 3.0)
    assert (body["vn"]["share"], body["foreign"]["share"], body["ratio_vn_to_foreign"]) == (10 / 19, 9 / 19, 10 / 9)
    # by mau_avg: 3 + 1 against 2 + 2
    body = world.get(f"/v1/compare/origin?period={T}&category=communication&metric=mau_avg")
    assert (body["vn"]["total"], body["foreign"]["total"], body["ratio_vn_to_foreign"]) == (4.0, 4.0, 1.0)
    # public services: hue-s only, no foreign platform: share 1 and 0, ratio without denominator
    body = world.get(f"/v1/compare/origin?period={T}&category=public_services")
    assert (body["vn"]["total"], body["vn"]["share"], body["foreign"]) == (0.1, 1.0, {"platforms": [], "total": 0,
                                                                                       "share": 0.0})
    assert body["ratio_vn_to_foreign"] is None
    # travel: no platform at all
    body = world.get(f"/v1/compare/origin?period={T}&category=travel")
    assert body["vn"] == body["foreign"] == {"platforms": [], "total": 0, "share": None}
    assert body["ratio_vn_to_foreign"] is None


def test_compare_origin_csv(world: World) -> None:
    response = world.get(f"/v1/compare/origin?period={T}&category=communication&top=2&format=csv")
    assert response.text == ("origin,platform,name,mau_avg,value,origin_total,origin_share\n"
                             f"vn,zalo,Zalo,3.0,{10 / 3!r},{10 / 3!r},{10 / 19!r}\n"
                             f"foreign,messenger,Messenger,2.0,3.0,3.0,{9 / 19!r}\n")


def test_compare_on_the_reports_figures() -> None:
    """The Q1/2022 report: Zalo + Mocha 591 MB (58.84%) against Messenger + Viber + Telegram 413.3 MB (41.16%),
    1.43 times. Per-platform MB are not published; any split with those sums gives the same totals."""
    period = parse_period(T)

    def figures(pid: str, mau: int, mb: str) -> Figures:
        values: dict[str, Any] = dict.fromkeys(metrics.METRICS)
        values.update(mau_avg=Fraction(mau), mb_per_user_month=Fraction(mb))
        return Figures(pid, period, (), period.start, values, 0)

    top = [figures("zalo", 74_700_000, "402.5"), figures("messenger", 67_800_000, "250.1"),
           figures("mocha", 4_600_000, "188.5"), figures("viber", 3_000_000, "100.2"),
           figures("telegram", 1_000_000, "63.0"), figures("other", 900_000, "999")]  # sixth: left out
    origins = {"zalo": "vn", "mocha": "vn", "messenger": "foreign", "viber": "foreign", "telegram": "foreign",
               "other": "vn"}
    body = compare_from_figures(top, origins, {pid: pid for pid in origins}, "mb_per_user_month", 5)
    assert body["vn"]["total"] == 591.0 and body["foreign"]["total"] == 413.3
    assert body["vn"]["share"] == float(Fraction(591) / Fraction("1004.3"))
    assert round(body["vn"]["share"], 4) == 0.5885
    # the report's 58.84% / 41.16% come from unrounded MB; from the rounded sums: 58.85% / 41.15%
    assert round(body["foreign"]["share"], 4) == 0.4115
    assert round(body["ratio_vn_to_foreign"], 2) == 1.43  # 591 / 413.3 = 1.42995...


def test_penetration_on_the_reports_figures() -> None:
    # Hue-S: peak MAU 610,512 at the end of 2021 over 602,677 smartphone users in Thừa Thiên Huế = 101.3%
    period = parse_period("2021-12")
    usage = Usage(months={("hue-s", date(2021, 12, 1)): MonthTotals(mau=610_512, dau_sum=1, sessions=1)})
    figures = compute_figures("hue-s", period, usage, 602_677)
    assert figures["penetration"] == Fraction(610_512, 602_677)
    assert round(float(Fraction(610_512, 602_677)) * 100, 1) == 101.3


# -- GET /v1/overview ----------------------------------------------------------------------------------------

def test_overview(world: World) -> None:
    body = world.get(f"/v1/overview?period={T}&band_edges=1,3")
    # Vietnamese platforms with sessions: zalo 3, mocha 1, hue-s 7/3, vnexpress 2/3 (lotus: no session)
    assert body == {
        "period": T,
        "platforms_active": 4,
        "mau_total": 7.0,  # 3 + 1 + 7/3 + 2/3
        "bands": [{"min": 0, "max": 1, "platforms": 1},  # vnexpress
                  {"min": 1, "max": 3, "platforms": 2},  # mocha (1 is in [1, 3)), hue-s
                  {"min": 3, "max": None, "platforms": 1}],  # zalo
        "categories": {"communication": 2, "public_services": 1},  # news: vnexpress is under 1
        # (8400 + 2400 + 840 + 400) s / 3600 over (9 + 3 + 7 + 2) user-months = 12040 / 75600 = 43/270
        "hours_per_user_month": 43 / 270,
        "share_of_users": 7 / 11,  # 7 over 7 + messenger 2 + viber 2
    }


def test_overview_default_bands_and_empty_period(world: World) -> None:
    body = world.get(f"/v1/overview?period={T}")
    assert body["bands"] == [{"min": 0, "max": 1_000_000, "platforms": 4},
                             {"min": 1_000_000, "max": 5_000_000, "platforms": 0},
                             {"min": 5_000_000, "max": None, "platforms": 0}]
    assert body["categories"] == {}
    body = world.get("/v1/overview?period=2023-Q1")
    assert body == {"period": "2023-Q1", "platforms_active": 0, "mau_total": 0.0,
                    "bands": [{"min": 0, "max": 1_000_000, "platforms": 0},
                              {"min": 1_000_000, "max": 5_000_000, "platforms": 0},
                              {"min": 5_000_000, "max": None, "platforms": 0}],
                    "categories": {}, "hours_per_user_month": None, "share_of_users": None}


def test_overview_csv(world: World) -> None:
    response = world.get(f"/v1/overview?period={T}&band_edges=1,3&format=csv")
    assert response.text == ("section,min,max,category,platforms\n"
                             "band,0,1,,1\nband,1,3,,2\nband,3,,,1\n"
                             "category,1,,communication,2\ncategory,1,,public_services,1\n")


# -- GET /v1/platforms/{id}/breakdown -----------------------------------------------------------------------

def test_breakdown_suppressed_by_default(world: World) -> None:
    # VNMETER_MIN_CELL_USERS defaults to 10: every value of this small dataset has fewer than 10 users in some
    # month of 2022, so each is hidden in every table of the year, listed by key (no value last). The list is
    # the values with users in 2022: the os-less event of u6 (local 1 April) adds the no-value row to Q1.
    body = world.get(f"/v1/platforms/zalo/breakdown?period={T}&by=os")
    assert body == {"platform": "zalo", "period": T, "by": "os", "items": [
        {"key": "android", "mau_avg": None, "share": None, "suppressed": True},
        {"key": "ios", "mau_avg": None, "share": None, "suppressed": True},
        {"key": None, "mau_avg": None, "share": None, "suppressed": True}]}


@pytest.fixture(scope="module")
def small_cells(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[int, TestClient]]:
    """Apps on the same data with VNMETER_MIN_CELL_USERS 1 and 2."""
    with app_on(world.chdb_dir, world.database, tmp_path_factory.mktemp("cells1"), min_cell_users=1) as one, \
            app_on(world.chdb_dir, world.database, tmp_path_factory.mktemp("cells2"), min_cell_users=2) as two:
        yield {1: one, 2: two}


def breakdown_items(client: TestClient, by: str, csv_format: bool = False) -> Any:
    response = client.get(f"/v1/platforms/zalo/breakdown?period={T}&by={by}{'&format=csv' if csv_format else ''}",
                          headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.text if csv_format else response.json()["items"]


def test_breakdown(small_cells: dict[int, TestClient]) -> None:
    # At 1 user no cell is under the threshold: every value with users in 2022 is shown, in Q1 too when 0.
    # os: android Jan {u1, u3} 2, Feb {u1} 1, Mar {u4, u1, u3} 3 -> 6/3 = 2; ios Jan {u2}, Feb {u2}, Mar {u5} -> 1;
    # no os: only u6 on 1 April -> 0; shares of zalo's 3 + 2 + 4 = 9 user-months: 6/9, 3/9, 0
    assert breakdown_items(small_cells[1], "os") == [
        {"key": "android", "mau_avg": 2.0, "share": 2 / 3, "suppressed": False},
        {"key": "ios", "mau_avg": 1.0, "share": 1 / 3, "suppressed": False},
        {"key": None, "mau_avg": 0.0, "share": 0.0, "suppressed": False}]
    # province: VN-HN Jan {u1}, Feb {u1}, Mar {u4, u1, u5} -> 5/3; VN-SG {u2} twice -> 2/3; none ({u3} twice) -> 2/3
    # (a tie: the key-less row last)
    assert breakdown_items(small_cells[1], "province") == [
        {"key": "VN-HN", "mau_avg": 5 / 3, "share": 5 / 9, "suppressed": False},
        {"key": "VN-SG", "mau_avg": 2 / 3, "share": 2 / 9, "suppressed": False},
        {"key": None, "mau_avg": 2 / 3, "share": 2 / 9, "suppressed": False}]
    # country: VN 2 + 2 + 3 = 7 -> 7/3; US {u3} in Jan and Mar -> 2/3
    assert breakdown_items(small_cells[1], "country") == [
        {"key": "VN", "mau_avg": 7 / 3, "share": 7 / 9, "suppressed": False},
        {"key": "US", "mau_avg": 2 / 3, "share": 2 / 9, "suppressed": False}]
    # At 2 users: android has 1 user in February, ios 1 in every month, no-os 1 in April: all three are hidden
    # for 2022. Country: VN has 1 user (u6) in April, US 1 in January: both hidden.
    assert breakdown_items(small_cells[2], "os") == [
        {"key": "android", "mau_avg": None, "share": None, "suppressed": True},
        {"key": "ios", "mau_avg": None, "share": None, "suppressed": True},
        {"key": None, "mau_avg": None, "share": None, "suppressed": True}]
    assert breakdown_items(small_cells[2], "country") == [
        {"key": "US", "mau_avg": None, "share": None, "suppressed": True},
        {"key": "VN", "mau_avg": None, "share": None, "suppressed": True}]


def test_breakdown_csv(small_cells: dict[int, TestClient]) -> None:
    assert breakdown_items(small_cells[1], "province", csv_format=True) == (
        f"key,mau_avg,share,suppressed\nVN-HN,{5 / 3!r},{5 / 9!r},false\nVN-SG,{2 / 3!r},{2 / 9!r},false\n"
        f",{2 / 3!r},{2 / 9!r},false\n")
    assert breakdown_items(small_cells[2], "province", csv_format=True) == (
        "key,mau_avg,share,suppressed\nVN-HN,,,true\nVN-SG,,,true\n,,,true\n")


# -- CSV of platform metrics, 422, 404 and access --------------------------------------------------------------

def test_platform_metrics_csv(world: World) -> None:
    response = world.get(f"/v1/platforms/zalo/metrics?period={T}&format=csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text == "month,mau\n2022-01,3\n2022-02,2\n2022-03,4\n"
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows[0] == {"month": "2022-01", "mau": "3"}


@pytest.mark.parametrize(("url", "names"), [
    ("/v1/platforms/zalo/metrics?period=2022-Q5", ["YYYY-MM", "YYYY-Qn", "YYYY-Hn", "YYYY"]),
    ("/v1/platforms/zalo/metrics?period=Q1-2022", ["YYYY-MM", "YYYY-Qn"]),
    ("/v1/platforms/zalo/metrics?period=2022-Q1&format=xml", ["json", "csv"]),
    ("/v1/platforms/zalo/breakdown?period=2022-Q1&by=city", ["province", "country", "os"]),
    ("/v1/platforms/zalo/breakdown?period=2022-13&by=os", ["YYYY-MM"]),
    ("/v1/rankings?period=2022-Q1&metric=downloads", list(metrics.METRICS)),
    ("/v1/rankings?period=2022-Q1&metric=mau_avg&origin=domestic", ["all", "vn", "foreign"]),
    ("/v1/rankings?period=2022-Q1&metric=mau_avg&kind=tv", ["app", "web"]),
    ("/v1/rankings?period=2022-Q1&metric=mau_avg&category=banking", ["communication", "payments"]),
    ("/v1/rankings?period=2022-Q1&metric=mau_avg&limit=0", ["limit"]),
    ("/v1/rankings?period=2022&metric=mau_avg&format=pdf", ["json", "csv"]),
    ("/v1/rankings?metric=mau_avg", ["period"]),
    ("/v1/compare/origin?period=2022-Q1&category=chat", ["communication"]),
    ("/v1/compare/origin?period=2022-Q1&category=communication&metric=mau", ["mb_per_user_month"]),
    ("/v1/compare/origin?period=2022-Q1&category=communication&top=0", ["top"]),
    ("/v1/overview?period=2022-Q1&band_edges=5,1", ["band_edges", "increasing"]),
    ("/v1/overview?period=2022-Q1&band_edges=0,3", ["band_edges"]),
    ("/v1/overview?period=2022-Q1&band_edges=a,b", ["band_edges"]),
    ("/v1/overview?period=2022-Q1&band_edges=", ["band_edges"]),
    ("/v1/overview?period=2022-W1", ["YYYY-Hn"]),
])
def test_invalid_requests_answer_422_naming_the_allowed_values(world: World, url: str, names: list[str]) -> None:
    body = world.get(url, status=422)
    for name in names:
        assert name in body["error"]


def test_unknown_platform_is_404(world: World) -> None:
    assert "nope" in world.get(f"/v1/platforms/nope/metrics?period={T}", status=404)["error"]
    world.get(f"/v1/platforms/nope/breakdown?period={T}&by=os", status=404)
    world.get(f"/v1/platforms/nope/metrics?period={T}", headers=world.vendors["vng"], status=404)


def test_vendor_reads_only_its_own_platforms(world: World) -> None:
    vng = world.vendors["vng"]
    assert world.get(f"/v1/platforms/zalo/metrics?period={T}", headers=vng) == ZALO_Q1
    assert world.get(f"/v1/platforms/zalo/breakdown?period={T}&by=os", headers=vng)["platform"] == "zalo"
    assert world.get(f"/v1/platforms/zalo/metrics?period={T}&format=csv", headers=vng).status_code == 200
    for url in (f"/v1/platforms/messenger/metrics?period={T}", f"/v1/platforms/mocha/breakdown?period={T}&by=os",
                f"/v1/rankings?period={T}&metric=mau_avg", f"/v1/compare/origin?period={T}&category=communication",
                f"/v1/overview?period={T}"):
        assert world.get(url, headers=vng, status=403)["error"]
    assert world.get(f"/v1/platforms/messenger/metrics?period={T}", headers=world.vendors["meta"]) == MESSENGER_Q1


def test_admin_reads_everything(world: World) -> None:
    assert world.get(f"/v1/platforms/hue-s/metrics?period={T}", headers=ADMIN) == HUE_S_Q1
    assert world.get(f"/v1/rankings?period={T}&metric=penetration", headers=ADMIN)["items"][0]["value"] == 1.5


def test_no_key_is_401(world: World) -> None:
    assert world.client.get(f"/v1/overview?period={T}").status_code == 401
