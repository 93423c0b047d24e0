"""Every summary version's reproducibility manifest (stored, served, written beside the files), its
methodology statement in both languages, and `vnmeter summary verify` before and after a rollup is altered.

Every count of ingest_quality comes from the ingestion path: the fixture posts stored, repeated and refused
rows through the API.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from queries.store import Store
from service.cli import main
from tests.factories import ADMIN, ADMIN_KEY, Api, running_api

ROOT = Path(__file__).resolve().parents[2]


def session(user: str, day: date, **fields: Any) -> dict[str, Any]:
    return {"event_id": str(uuid.uuid4()), "platform": "zalo", "user": user, "ts": f"{day.isoformat()}T10:00:00+07:00",
            "duration_s": 600, "bytes": 2_000_000, "os": "android", **fields}


@pytest.fixture
def api(store: Store, tmp_path: Path, chdb_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """zalo with 12, 15 and 12 users in January to March 2022 (one of them on iOS in March); the CLI is
    pointed at the same database and data directory."""
    for name, value in (("DATA_DIR", str(tmp_path)), ("CLICKHOUSE_URL", f"chdb://{chdb_dir}"),
                        ("CLICKHOUSE_DATABASE", store.target.database), ("ADMIN_KEY", ADMIN_KEY)):
        monkeypatch.setenv(f"VNMETER_{name}", value)
    with running_api(store, tmp_path) as api:
        api.put_platform("zalo", "vng", name="Zalo")
        rows = [session(f"u{n}", date(2022, month, 1 + n), **({"os": "ios"} if (month, n) == (3, 0) else {}))
                for month, count in ((1, 12), (2, 15), (3, 12)) for n in range(count)]
        vendor = api.vendor("vng")
        assert api.post_events(vendor, rows).json()["accepted"] == len(rows)
        assert api.post_events(vendor, rows[:3]).json()["duplicates"] == 3  # a retry of three January rows
        refused = [session("x1", date(2022, 2, 3), duration_s=-1), session("x2", date(2022, 2, 4), bytes=-5),
                   *(session(f"y{n}", date(2022, 3, 2), platform="tiktok") for n in range(4))]
        assert len(api.post_events(vendor, refused).json()["rejected"]) == 6
        now = datetime.now(UTC)
        store.insert("service_state", [["sealed_before", "2022-02-01", now]], ["name", "value", "updated_at"])
        yield api


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_version_has_a_manifest_beside_its_files_and_in_the_api(api: Api, tmp_path: Path,
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "2022-Q1"]) == 0
    folder = tmp_path / "summaries" / "2022-Q1"
    written = orjson.loads((folder / "v1.manifest.json").read_bytes())
    assert written == api.client.get("/v1/summaries/2022-Q1/versions/1/manifest", headers=ADMIN).json()
    inputs = written["inputs"]
    months = {(m["platform"], m["month"]): m for m in inputs["months"]}
    assert months[("zalo", "2022-01")] == {"platform": "zalo", "month": "2022-01", "accepted": 12, "duplicate": 3,
                                           "rejected": {}, "sealed": True}
    assert months[("zalo", "2022-02")] == {"platform": "zalo", "month": "2022-02", "accepted": 15, "duplicate": 0,
                                           "rejected": {"invalid_field": 2}, "sealed": False}
    assert months[("zalo", "2022-03")]["accepted"] == 12 and not months[("zalo", "2022-03")]["sealed"]
    assert months[("", "2022-03")]["rejected"] == {"unknown_platform": 4}  # rows that named no platform of theirs
    assert inputs["sealed_before"] == "2022-02"
    migrations = (ROOT / "queries" / "migrations" / "single").glob("0*.sql")
    assert inputs["schema_migration"] == max(int(p.name[:4]) for p in migrations)
    software = inputs["software"]
    assert software["version"] == "0.1.0" and re.fullmatch(r"[0-9a-f]{40}|unknown", software["commit"])
    assert inputs["sql_sha256"] == {p.name: sha256(p) for p in sorted((ROOT / "queries" / "sql").glob("*.sql"))}
    assert inputs["settings"]["timezone"] == "Asia/Ho_Chi_Minh" and inputs["settings"]["min_cell_users"] == 10
    assert inputs["settings"]["max_duration_s"] == 86_400
    assert written["files"] == {name: sha256(folder / name) for name in ("v1.html", "v1.md", "v1.xlsx", "v1.json")}
    # the served files are the published ones, byte for byte
    for fmt in ("html", "md", "xlsx", "json"):
        served = api.client.get("/v1/summaries/2022-Q1/versions/1", params={"format": fmt}, headers=ADMIN).content
        assert hashlib.sha256(served).hexdigest() == written["files"][f"v1.{fmt}"], fmt


def test_methodology_in_both_languages_and_what_changed(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["summary", "2022-Q1"]) == 0
    monkeypatch.setenv("VNMETER_MIN_CELL_USERS", "5")
    assert main(["summary", "2022-Q1"]) == 0
    get = api.client.get
    for fmt in ("html", "md"):
        vi = get("/v1/summaries/2022-Q1/versions/1", params={"format": fmt}, headers=ADMIN).text
        en = get("/v1/summaries/2022-Q1/versions/1", params={"format": fmt, "lang": "en"}, headers=ADMIN).text
        for text, expected in ((vi, [
            "Phương pháp", "Múi giờ", "giờ Asia/Ho_Chi_Minh", "Người dùng hoạt động", "tối đa 86.400 giây",
            "Sự kiện trùng", "hệ thống đã nhận 39 sự kiện, 3 sự kiện trùng và từ chối 6 sự kiện",
            "1/2022 đã niêm phong, 2/2022 chưa niêm phong, 3/2022 chưa niêm phong", "dưới 10 người dùng",
            "±10 người-tháng", "Chính sách sửa đổi", "Đây là phiên bản đầu tiên của báo cáo kỳ này.",
            "(mau(m1) + … + mau(mk)) / k"]), (en, [
            "Methodology", "Time zone", "calendar days and months of Asia/Ho_Chi_Minh", "Active users",
            "at most 86,400 seconds", "ingestion accepted 39 events, found 3 duplicates and rejected 6",
            "Jan 2022 sealed, Feb 2022 open, Mar 2022 open", "fewer than 10 users", "±10 user-months",
            "Revision policy", "This is the first version of this period"])):
            for phrase in expected:
                assert phrase in text, (fmt, phrase)
    second = get("/v1/summaries/2022-Q1/versions/2", params={"format": "md", "lang": "en"}, headers=ADMIN).text
    assert "Against version 1: 0 figures changed; method: settings.min_cell_users 10 → 5; " \
           "settings.protection_user_months 10 → 5." in second
    assert "fewer than 5 users" in second


def test_verify_passes_then_names_the_figure_of_an_altered_rollup(api: Api, store: Store,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "2022-Q1"]) == 0
    capsys.readouterr()
    assert main(["summary", "verify", "2022-Q1"]) == 0
    out = capsys.readouterr().out
    assert "summary of 2022-Q1 version 1 verified" in out and "files unchanged: v1.html, v1.json, v1.md, v1.xlsx" in out

    # By hand: five more February sessions of 600 s in zalo's rollup, without events behind them.
    store.command("INSERT INTO platform_monthly (platform, month, sessions, installs, duration_s, bytes) "
                  "VALUES ('zalo', '2022-02-01', 5, 0, 3000, 0)")
    assert main(["summary", "verify", "2022-Q1", "--version", "1"]) == 1
    err = capsys.readouterr().err
    assert "summary of 2022-Q1 version 1 does NOT hold" in err
    # 39 sessions -> 44 in the quarter: 13 -> 44/3 a month
    assert "5 figures differ from the stored data, 0 files differ" in err
    assert (f"categories.communication.platforms.zalo.sessions_per_month: published 13.0, recomputed {44 / 3!r}"
            in err)
    # 39 x 600 s -> 39 x 600 + 3,000 s over the same 39 user-days: 10 minutes -> 26,400 / 60 / 39
    assert (f"categories.communication.platforms.zalo.minutes_per_user_day: published 10.0, recomputed "
            f"{26_400 / 60 / 39!r}" in err)
    assert "zalo.mau_avg" not in err  # the users did not change


def test_verify_of_a_missing_version_is_a_message(api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", "verify", "2022-Q1", "--version", "3"]) == 1
    assert "no summary of 2022-Q1 version 3" in capsys.readouterr().err
    assert main(["summary", "verify"]) == 1
    assert "usage: vnmeter summary verify PERIOD" in capsys.readouterr().err
