"""`vnmeter demo` at a reduced scale: the summary's figures, multiplied back by the scale, are the Q1/2022
report's headline figures; events go through the ingestion pipeline; a non-empty store is refused."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import openpyxl
import orjson
import pytest

from queries.registry import Platform
from queries.store import Store
from service.context import Services, build
from service.demo import DemoError, run_demo
from service.settings import Settings
from service.summaries import summaries_of

USERS_SCALE = 20_000  # 1 demo user for 20,000 (the CLI default is 2,000)
VISITS_SCALE = 100_000


def report_rows() -> dict[str, dict[str, str]]:
    """The demo's input table, read here independently of service.demo."""
    text = (resources.files("service") / "demo" / "platforms.csv").read_text(encoding="utf-8")
    return {row["platform_id"]: row for row in csv.DictReader(text.splitlines())}


def half_up(value: float) -> int:
    return int(value + 0.5)


@pytest.fixture
def services(store: Store, tmp_path: Path) -> Iterator[Services]:
    ctx = build(Settings(data_dir=tmp_path, admin_key="d" * 40), store)
    yield ctx
    ctx.writer.close()


@pytest.fixture
def demo(services: Services) -> tuple[Any, list[str], str]:
    printed: list[str] = []
    progress = io.StringIO()
    result = run_demo(services, USERS_SCALE, VISITS_SCALE, out=printed.append, progress_stream=progress)
    return result, printed, progress.getvalue()


def test_the_scaled_summary_reproduces_the_report(services: Services, demo: tuple[Any, list[str], str]) -> None:
    result, printed, progress = demo
    figures = result.version.figures
    assert figures["demo"] == {"users": USERS_SCALE, "visits": VISITS_SCALE}
    rows = {row["platform"]: row for block in figures["categories"] for row in block["platforms"]}

    # Zalo: 74,700,000 / 20,000 = 3,735 average monthly users, x 20,000 = 74.7 million as in the report.
    assert rows["zalo"]["mau_avg"] == 3735 and rows["zalo"]["mau_avg"] * USERS_SCALE == 74_700_000
    assert rows["messenger"]["mau_avg"] * USERS_SCALE == 67_800_000
    share = figures["data_share"]
    assert [p["name"] for p in share["vn"]["platforms"]] == ["Zalo", "Mocha"]
    assert [p["name"] for p in share["foreign"]["platforms"]] == ["Messenger", "Viber", "Telegram"]
    # As the report prints them: 591 MB = 58.84% against 413.3 MB = 41.16%, 1.43 times.
    assert f"{share['vn']['total']:.0f}" == "591" and f"{share['foreign']['total']:.1f}" == "413.3"
    assert f"{100 * share['vn']['share']:.2f}" == "58.84" and f"{100 * share['foreign']['share']:.2f}" == "41.16"
    assert f"{share['ratio_vn_to_foreign']:.2f}" == "1.43"
    # Minutes per user per day and MB per user per month are exact at any scale.
    assert [rows[p]["minutes_per_user_day"] for p in ("zalo", "messenger", "facebook", "vtvgo", "mobiedu")] == \
        [28, 20, 30, 28, 80]
    assert rows["vtvgo"]["mb_per_user_month"] == 300
    # The coach-ticket apps fell 80% on Q1/2021: 40,000 -> 2 users against 200,000 -> 10; 120,000 -> 6 against 30.
    assert rows["anvui"]["yoy"]["mau_avg"] == pytest.approx(-0.8)
    assert rows["vexere"]["yoy"]["mau_avg"] == pytest.approx(-0.8)
    assert rows["vnexpress"]["sessions_per_month"] * VISITS_SCALE == 135_700_000
    # Every app's average users, multiplied back, is the report's figure within half a scaled user.
    for platform, row in report_rows().items():
        scale = USERS_SCALE if row["kind"] == "app" else VISITS_SCALE
        measured = rows[platform]["mau_avg"] if row["kind"] == "app" else rows[platform]["sessions_per_month"]
        assert abs(measured * scale - int(row["avg_2022_q1"])) <= scale / 2, platform
    # Hue-S: peak 610,512 / 20,000 -> 31 users; the province's 602,677 smartphone users / 20,000 -> 30.
    hues = figures["provincial"][0]
    assert (hues["mau_peak"], hues["mau_peak_month"], hues["smartphone_users"]) == \
        (half_up(610_512 / USERS_SCALE), "2022-01", half_up(602_677 / USERS_SCALE))
    assert hues["penetration"] == pytest.approx(31 / 30)

    html = result.files["html"].read_text(encoding="utf-8")
    assert "Zalo có trung bình khoảng 74,7 triệu người sử dụng hằng tháng, đứng đầu nhóm liên lạc." in html
    assert ("trên Zalo và Mocha xấp xỉ 591 MB (~58,84% toàn thị trường), nhiều hơn 1,43 lần so với tổng lượng dữ "
            "liệu trao đổi trên 3 nền tảng nước ngoài (tổng Messenger, Viber và Telegram là 413,3 MB, chiếm 41,16%)"
            in html)
    assert "Số lượng người sử dụng Vé xe rẻ và An Vui sụt giảm khoảng 80% so với cùng kỳ Quý I/2021." in html
    assert "Tổng số lượt truy cập trung bình hằng tháng của VnExpress là 135,7 triệu lượt, dẫn đầu nhóm." in html
    assert "<svg" in html and "tỷ lệ 1:20.000" in html
    assert sorted(result.files) == ["html", "json", "manifest", "md", "xlsx"]
    assert all(path.is_file() for path in result.files.values())
    # a fresh demo's summary verifies: the stored data still gives every published figure
    assert summaries_of(services).verify(result.version) == []
    # news has an app and websites: one table each, ranked from 1 (apps by users, websites by visits)
    book = openpyxl.load_workbook(result.files["xlsx"])
    ranked = {sheet.title: [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
              for sheet in book.worksheets if sheet["A1"].value == "Hạng"}
    assert ranked["Tin tức – Ứng dụng"] == [1] and ranked["Tin tức – Website"] == [1, 2, 3]
    for title, ranks in ranked.items():
        assert ranks == list(range(1, len(ranks) + 1)), title
    assert result.files["html"] == (services.settings.data_dir / "summaries" / "2022-Q1" / "v1.html").resolve()

    # Through the ingestion pipeline: every generated event is stored once, one vendor key per vendor.
    assert services.store.command("SELECT count() FROM events") == result.events == result.accepted
    vendors = {row["vendor"] for row in report_rows().values()}
    assert services.store.command("SELECT count() FROM api_keys WHERE role = 'vendor'") == len(vendors)
    assert "users scaled 1:20,000, website visits (and visitors) 1:100,000" in printed[0]
    assert f"] 100% {result.events:,}/{result.events:,} events" in progress


def test_the_demo_refuses_a_store_with_events(services: Services) -> None:
    services.registry.put_platform(Platform("zalo", "Zalo", "vng", "vn", "communication", "app", None))
    event = {"event_id": "123e4567-e89b-12d3-a456-426614174000", "platform": "zalo", "user": "u1",
             "ts": "2022-03-01T10:00:00+07:00"}
    assert services.ingestor.ingest(orjson.dumps(event), "application/x-ndjson", None, "vng").accepted == 1
    with pytest.raises(DemoError, match="the store already holds 1 event; the demo only fills an empty store"):
        run_demo(services, USERS_SCALE, VISITS_SCALE, out=lambda _: None, progress_stream=io.StringIO())
    assert services.store.command("SELECT count() FROM events") == 1


def test_the_cli_prints_where_to_open_the_summary(tmp_path: Path) -> None:
    env = {**os.environ, "VNMETER_DATA_DIR": str(tmp_path), "VNMETER_ADMIN_KEY": "e" * 40}
    command = [sys.executable, "-m", "service.cli", "demo", "--users-scale", "1000000", "--visits-scale", "10000000"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "summaries" / "2022-Q1" / "v1.html").resolve()
    assert f"Open the summary: {html}" in done.stdout and html.is_file()
    assert "100%" in done.stderr  # the progress bar
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 1 and "the demo only fills an empty store" in again.stderr
