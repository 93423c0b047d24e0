"""Period summaries: figures equal the metrics endpoints, versions are immutable and say what changed,
every format and both languages render, and the API's 401/403/404/422 paths."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.utils import get_column_letter

from queries.store import Store
from service.summaries.text import Words
from tests.factories import ADMIN, Api, api_on_fresh_store, bearer, running_api

PERIOD = "2022-Q1"
# id: (name, vendor, origin, category, kind, province)
PLATFORMS = {
    "zalo": ("Zalo", "vng", "vn", "communication", "app", None),
    "mocha": ("Mocha", "viettel", "vn", "communication", "app", None),
    "messenger": ("Messenger", "meta", "foreign", "communication", "app", None),
    "viber": ("Viber", "rakuten", "foreign", "communication", "app", None),
    "telegram": ("Telegram", "telegram", "foreign", "communication", "app", None),
    "grab": ("Grab", "grab", "foreign", "mobility", "app", None),
    "be": ("Be", "be-group", "vn", "mobility", "app", None),
    "anvui": ("An Vui", "anvui", "vn", "mobility", "app", None),
    "vexere": ("Vé xe rẻ", "vexere", "vn", "mobility", "app", None),
    "vnexpress": ("VnExpress", "fpt", "vn", "news", "web", None),
    "hues": ("Hue-S", "hue", "vn", "public_services", "app", "VN-26"),
}
# Monthly active users (apps) per month of Q1, seconds per active day, bytes per user per month.
USERS_2022 = {"zalo": (30, 33, 30), "mocha": (4, 4, 4), "messenger": (20, 20, 20), "viber": (6, 6, 6),
              "telegram": (5, 5, 5), "grab": (8, 8, 8), "be": (5, 5, 5), "anvui": (2, 2, 2), "vexere": (1, 1, 1),
              "hues": (7, 6, 6)}
USERS_2021 = {"zalo": (25, 25, 25), "mocha": (4, 4, 4), "messenger": (20, 20, 20), "viber": (6, 6, 6),
              "telegram": (2, 2, 2), "grab": (8, 8, 8), "be": (5, 5, 5), "anvui": (10, 10, 10),
              "vexere": (5, 5, 5), "hues": (5, 5, 5)}
SECONDS = {"zalo": 1680, "mocha": 720, "messenger": 1200, "viber": 540, "telegram": 660, "grab": 540, "be": 480,
           "anvui": 300, "vexere": 360, "hues": 2092, "vnexpress": 240}
BYTES = {"zalo": 420_000_000, "mocha": 170_900_000, "messenger": 250_000_000, "viber": 93_300_000,
         "telegram": 70_000_000, "grab": 25_000_000, "be": 18_000_000, "anvui": 6_000_000, "vexere": 7_000_000,
         "hues": 45_000_000, "vnexpress": 3_000_000}
VISITORS = {2021: 3, 2022: 4}  # VnExpress visitors per month; each makes 3 visits a month


def session(platform: str, user: str, day: date, **fields: Any) -> dict[str, Any]:
    row = {"event_id": str(uuid.uuid4()), "platform": platform, "user": user, "ts": f"{day.isoformat()}T10:00:00+07:00",
           "duration_s": SECONDS[platform], "bytes": BYTES[platform]}
    if PLATFORMS[platform][5]:
        row["province"] = PLATFORMS[platform][5]
    row.update(fields)
    return row


def dataset() -> dict[str, list[dict[str, Any]]]:
    """Events per vendor: each app user is active on one day of each month with one session."""
    by_vendor: dict[str, list[dict[str, Any]]] = {}
    for year, users in ((2021, USERS_2021), (2022, USERS_2022)):
        for platform, per_month in users.items():
            for month, count in enumerate(per_month, start=1):
                rows = [session(platform, f"u{n}", date(year, month, 1 + n % 28)) for n in range(count)]
                by_vendor.setdefault(PLATFORMS[platform][1], []).extend(rows)
        for month in (1, 2, 3):
            for visitor in range(VISITORS[year]):
                by_vendor.setdefault("fpt", []).extend(
                    session("vnexpress", f"v{visitor}", date(year, month, day + visitor)) for day in (1, 10, 20))
    return by_vendor


def load(api: Api) -> None:
    for platform, (name, vendor, origin, category, kind, province) in PLATFORMS.items():
        api.put_platform(platform, vendor, name=name, origin=origin, category=category, kind=kind,
                         province=province)
    response = api.client.put("/v1/reference/provinces/VN-26", headers=ADMIN,
                              json={"name": "Thừa Thiên Huế", "smartphone_users": 6})
    assert response.status_code == 200, response.text
    for vendor, rows in dataset().items():
        response = api.post_events(api.vendor(vendor), rows, gzipped=True)
        assert response.status_code == 200 and response.json()["accepted"] == len(rows), response.text


@pytest.fixture(scope="module")
def loaded(chdb_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Api, dict[str, Any]]]:
    """The dataset and one generated summary of 2022-Q1 (version 1), read-only for the tests that use it."""
    with api_on_fresh_store(chdb_dir, tmp_path_factory.mktemp("summaries")) as api:
        load(api)
        created = api.client.post(f"/v1/summaries/{PERIOD}", headers=ADMIN)
        assert created.status_code == 201, created.text
        yield api, created.json()


@pytest.fixture(scope="module")
def analyst(loaded: tuple[Api, dict[str, Any]]) -> dict[str, str]:
    return bearer(loaded[0].create_key("analyst")["key"])


def rows_by_platform(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["platform"]: row for block in figures["categories"] for row in block["platforms"]}


# -- figures ------------------------------------------------------------------------------------------
def test_post_answers_201_with_the_new_versions_metadata(loaded: tuple[Api, dict[str, Any]]) -> None:
    _, created = loaded
    assert created["period"] == PERIOD and created["version"] == 1 and created["trigger"] == "api"
    assert created["created_by"] == "env-admin" and created["created_at"].endswith("+00:00")


def test_figures_equal_the_metrics_endpoints(loaded: tuple[Api, dict[str, Any]], analyst: dict[str, str]) -> None:
    api, _ = loaded
    document = api.client.get(f"/v1/summaries/{PERIOD}", headers=analyst).json()
    figures = document["figures"]
    rows = rows_by_platform(figures)
    assert set(rows) == set(PLATFORMS)
    for platform, row in rows.items():
        expected = api.client.get(f"/v1/platforms/{platform}/metrics", params={"period": PERIOD},
                                  headers=analyst).json()
        for key, value in expected.items():
            if key != "period":
                assert row[key] == value, (platform, key)
    for block in figures["categories"]:
        for kind, metric in (("app", "mau_avg"), ("web", "sessions_per_month")):
            ranked = api.client.get("/v1/rankings", headers=analyst, params={
                "period": PERIOD, "metric": metric, "category": block["category"], "kind": kind}).json()
            for item in ranked["items"]:
                assert rows[item["platform"]]["rank"] == item["rank"]
    share = api.client.get("/v1/compare/origin", headers=analyst,
                           params={"period": PERIOD, "category": "communication", "top": 5}).json()
    assert figures["data_share"] == share
    overview = api.client.get("/v1/overview", headers=analyst, params={"period": PERIOD}).json()
    assert figures["overview"] == overview
    assert [r["platform"] for r in figures["provincial"]] == ["hues"]
    assert figures["provincial"][0]["penetration"] == rows["hues"]["penetration"]


def test_figures_match_a_hand_computation(loaded: tuple[Api, dict[str, Any]], analyst: dict[str, str]) -> None:
    api, _ = loaded
    figures = api.client.get(f"/v1/summaries/{PERIOD}", headers=analyst).json()["figures"]
    rows = rows_by_platform(figures)
    zalo = rows["zalo"]
    assert zalo["mau_avg"] == 31  # (30 + 33 + 30) / 3
    assert (zalo["mau_peak"], zalo["mau_peak_month"]) == (33, "2022-02")
    assert zalo["minutes_per_user_day"] == 28  # 1680 s on each active day / 60
    assert zalo["mb_per_user_month"] == 420  # 420,000,000 bytes per user per month / 10^6
    assert zalo["yoy"]["mau_avg"] == pytest.approx(0.24)  # (31 - 25) / 25
    assert rows["anvui"]["yoy"]["mau_avg"] == pytest.approx(-0.8)  # (2 - 10) / 10
    assert rows["vexere"]["yoy"]["mau_avg"] == pytest.approx(-0.8)  # (1 - 5) / 5
    assert rows["vnexpress"]["sessions_per_month"] == 12  # 4 visitors x 3 visits
    assert [rows[p]["rank"] for p in ("zalo", "messenger", "viber", "telegram", "mocha")] == [1, 2, 3, 4, 5]
    assert [rows[p]["rank"] for p in ("grab", "be", "anvui", "vexere")] == [1, 2, 3, 4]
    share = figures["data_share"]
    assert share["vn"]["total"] == pytest.approx(590.9)  # 420 + 170.9
    assert share["foreign"]["total"] == pytest.approx(413.3)  # 250 + 93.3 + 70
    assert share["vn"]["share"] == pytest.approx(590.9 / 1004.2)
    assert share["ratio_vn_to_foreign"] == pytest.approx(590.9 / 413.3)
    hues = figures["provincial"][0]
    assert (hues["mau_peak"], hues["smartphone_users"]) == (7, 6)
    assert hues["penetration"] == pytest.approx(7 / 6)


# -- formats and languages ------------------------------------------------------------------------------
SENTENCES_VI = [
    "Zalo có trung bình khoảng 31 người sử dụng hằng tháng, đứng đầu nhóm liên lạc.",
    "Be có trung bình khoảng 5 người sử dụng hằng tháng, xếp thứ 2 trong nhóm, chỉ xếp sau Grab.",
    "Số lượng người sử dụng An Vui và Vé xe rẻ sụt giảm khoảng 80% so với cùng kỳ Quý I/2021.",
    "Số lượng người sử dụng Telegram tăng khoảng 150% so với cùng kỳ Quý I/2021.",
    "Thời gian mỗi người sử dụng Zalo trung bình hằng ngày là ~28 phút so với Messenger (~20 phút), Viber (~9 phút).",
    "trên Zalo và Mocha xấp xỉ 591 MB (~58,84% toàn thị trường), nhiều hơn 1,43 lần so với tổng lượng dữ liệu "
    "trao đổi trên 3 nền tảng nước ngoài (tổng Messenger, Viber và Telegram là 413,3 MB, chiếm 41,16%).",
    "Tổng số lượt truy cập trung bình hằng tháng của VnExpress là 12 lượt, dẫn đầu nhóm.",
    "tương đương 116,7% tổng số người dân Thừa Thiên Huế có sử dụng điện thoại di động thông minh",
    "thời gian sử dụng trung bình hằng ngày của mỗi người dùng là 34 phút 52 giây",
]
SENTENCES_EN = [
    "Zalo had about 31 monthly active users on average, leading the communication group.",
    "The number of users of An Vui and Vé xe rẻ fell by about 80% from Q1 2021.",
    "on Zalo and Mocha came to about 591 MB (~58.84% of the total), 1.43 times that on the 3 foreign platforms "
    "(Messenger, Viber and Telegram: 413.3 MB, 41.16%).",
]


def test_html_is_self_contained_with_charts_and_vietnamese_sentences(loaded: tuple[Api, dict[str, Any]],
                                                                     analyst: dict[str, str]) -> None:
    api, _ = loaded
    response = api.client.get(f"/v1/summaries/{PERIOD}", params={"format": "html"}, headers=analyst)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    html = response.text
    assert html.count("<svg") == 5  # MAU charts of 3 app categories, visits of news websites, the data share
    assert "<style>" in html and "<script" not in html and 'src="http' not in html
    assert "<h1>Đo lường hoạt động của người dân trên các nền tảng số" in html and "Quý I/2022" in html
    for sentence in SENTENCES_VI:
        assert sentence in html, sentence


def test_html_in_english(loaded: tuple[Api, dict[str, Any]], analyst: dict[str, str]) -> None:
    api, _ = loaded
    html = api.client.get(f"/v1/summaries/{PERIOD}", params={"format": "html", "lang": "en"}, headers=analyst).text
    assert '<html lang="en">' in html and "Q1 2022" in html
    for sentence in SENTENCES_EN:
        assert sentence in html, sentence


def test_markdown(loaded: tuple[Api, dict[str, Any]], analyst: dict[str, str]) -> None:
    api, _ = loaded
    response = api.client.get(f"/v1/summaries/{PERIOD}", params={"format": "md"}, headers=analyst)
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    text = response.text
    assert text.startswith("# Đo lường hoạt động của người dân trên các nền tảng số – Quý I/2022\n")
    assert "\n## 1. Liên lạc\n" in text and SENTENCES_VI[0] in text
    assert "| 1 | Zalo | Việt Nam | Ứng dụng | 31 | 33 | 2/2022 | 28 | 420 | – | +24% | – |" in text
    english = api.client.get(f"/v1/summaries/{PERIOD}", params={"format": "md", "lang": "en"}, headers=analyst).text
    assert "\n## 1. Communication\n" in english and SENTENCES_EN[0] in english


def test_xlsx_has_one_sheet_per_table(loaded: tuple[Api, dict[str, Any]], analyst: dict[str, str]) -> None:
    api, _ = loaded
    response = api.client.get(f"/v1/summaries/{PERIOD}", params={"format": "xlsx"}, headers=analyst)
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert response.headers["content-disposition"] == f'attachment; filename="vnmeter-summary-{PERIOD}-v1.xlsx"'
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["Thông tin", "Tổng quan", "Quy mô", "Quy mô – Nhóm", "Liên lạc", "Đi lại", "Tin tức",
                               "Dịch vụ công", "Dữ liệu VN - nước ngoài", "Địa phương", "Hệ điều hành", "Phương pháp"]
    rows = list(book["Liên lạc"].iter_rows(values_only=True))
    assert rows[0][:5] == ("Hạng", "Nền tảng", "Nguồn gốc", "Loại", "Người dùng hằng tháng (TB)")
    assert rows[1] == (1, "Zalo", "Việt Nam", "Ứng dụng", 31, 33, "2022-02", 28, 420, None, pytest.approx(0.24), None)
    share = {row[0]: row for row in book["Dữ liệu VN - nước ngoài"].iter_rows(values_only=True)}
    assert share["Tổng – Việt Nam"][3:] == (pytest.approx(590.9), pytest.approx(590.9 / 1004.2))
    english = openpyxl.load_workbook(io.BytesIO(api.client.get(
        f"/v1/summaries/{PERIOD}", params={"format": "xlsx", "lang": "en"}, headers=analyst).content))
    assert english.sheetnames[:5] == ["About", "Overview", "Bands", "Bands – Category", "Communication"]


def test_csv_parses(loaded: tuple[Api, dict[str, Any]], analyst: dict[str, str]) -> None:
    api, _ = loaded
    for lang, label in (("vi", "Liên lạc"), ("en", "Communication")):
        response = api.client.get(f"/v1/summaries/{PERIOD}", params={"format": "csv", "lang": lang},
                                  headers=analyst)
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        rows = {row["platform"]: row for row in csv.DictReader(io.StringIO(response.text))}
        assert set(rows) == set(PLATFORMS)
        assert rows["zalo"]["category_label"] == label
        assert (float(rows["zalo"]["mau_avg"]), rows["zalo"]["rank"], rows["zalo"]["sessions_per_month"]) == \
            (31.0, "1", "31.0")  # 93 sessions / 3 months
        assert float(rows["vnexpress"]["sessions_per_month"]) == 12
        assert rows["hues"]["yoy_sessions_per_month"] != "" and rows["vexere"]["yoy_mau_avg"] == "-0.8"


def test_json_is_the_stored_document(loaded: tuple[Api, dict[str, Any]], analyst: dict[str, str]) -> None:
    api, created = loaded
    response = api.client.get(f"/v1/summaries/{PERIOD}/versions/1", params={"format": "json"}, headers=analyst)
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert {k: document[k] for k in ("period", "version", "created_at", "trigger", "created_by")} == \
        {k: created[k] for k in ("period", "version", "created_at", "trigger", "created_by")}
    assert document["changes"] == {"against_version": None, "items": [], "added": [], "removed": []}
    listed = api.client.get(f"/v1/summaries/{PERIOD}/versions", headers=analyst).json()
    assert listed == {"period": PERIOD, "items": [{k: created[k] for k in
                                                   ("period", "version", "created_at", "trigger", "created_by")}]}


# -- versions -------------------------------------------------------------------------------------------
def test_versions_are_immutable_and_the_next_one_says_what_changed(store: Store, tmp_path: Path) -> None:
    with running_api(store, tmp_path) as api:
        api.put_platform("zalo", "vng", name="Zalo")
        vng = api.vendor("vng")
        rows = [session("zalo", f"u{n}", date(2022, month, 1 + n)) for month in (1, 2, 3) for n in range(3)]
        assert api.post_events(vng, rows).json()["accepted"] == 9
        assert api.client.post("/v1/summaries/2022-Q1", headers=ADMIN).status_code == 201
        first = api.client.get("/v1/summaries/2022-Q1/versions/1", headers=ADMIN).json()
        assert rows_by_platform(first["figures"])["zalo"]["mau_avg"] == 3

        late = session("zalo", "late-user", date(2022, 2, 20))
        assert api.post_events(vng, [late]).json()["accepted"] == 1
        assert api.client.get("/v1/summaries/2022-Q1/versions/1", headers=ADMIN).json() == first
        assert api.client.get("/v1/summaries/2022-Q1", headers=ADMIN).json() == first

        second = api.client.post("/v1/summaries/2022-Q1", headers=ADMIN).json()
        assert second["version"] == 2
        assert api.client.get("/v1/summaries/2022-Q1/versions/1", headers=ADMIN).json() == first
        latest = api.client.get("/v1/summaries/2022-Q1", headers=ADMIN).json()
        assert latest["version"] == 2
        assert rows_by_platform(latest["figures"])["zalo"]["mau_avg"] == pytest.approx(10 / 3)  # (3 + 4 + 3) / 3
        changes = latest["changes"]
        assert changes["against_version"] == 1
        moved = {(item["subject"], item["figure"]): item for item in changes["items"]}
        assert moved[("zalo", "mau_avg")]["before"] == 3
        assert moved[("zalo", "mau_avg")]["after"] == pytest.approx(10 / 3)
        assert moved[("zalo", "mau_avg")]["relative"] == pytest.approx(1 / 9)  # (10/3 - 3) / 3
        assert (moved[("zalo", "mau_peak")]["before"], moved[("zalo", "mau_peak")]["after"]) == (3, 4)
        assert ("zalo", "minutes_per_user_day") not in moved  # every session lasts 1680 s, before and after
        assert second["changed_figures"] == len(changes["items"])
        html = api.client.get("/v1/summaries/2022-Q1", params={"format": "html"}, headers=ADMIN).text
        assert f"So với phiên bản 1, {len(changes['items'])} số liệu đã thay đổi" in html
        assert "<td>Người dùng hằng tháng (TB)</td><td class=\"num\">3</td><td class=\"num\">3,33</td>" in html
        listed = api.client.get("/v1/summaries/2022-Q1/versions", headers=ADMIN).json()["items"]
        assert [(item["version"], item["trigger"]) for item in listed] == [(1, "api"), (2, "api")]


# -- errors ---------------------------------------------------------------------------------------------
def test_error_paths(loaded: tuple[Api, dict[str, Any]], analyst: dict[str, str]) -> None:
    api, _ = loaded
    get = api.client.get
    for bad in ("2022-Q5", "22-Q1", "2022-W01"):
        for path in (f"/v1/summaries/{bad}", f"/v1/summaries/{bad}/versions", f"/v1/summaries/{bad}/versions/1"):
            response = get(path, headers=analyst)
            assert response.status_code == 422 and "YYYY-Qn" in response.json()["error"], path
        assert api.client.post(f"/v1/summaries/{bad}", headers=ADMIN).status_code == 422
    assert get(f"/v1/summaries/{PERIOD}", params={"format": "pdf"}, headers=analyst).status_code == 422
    assert get(f"/v1/summaries/{PERIOD}", params={"lang": "fr"}, headers=analyst).status_code == 422
    missing = get("/v1/summaries/2023-Q1", headers=analyst)
    assert missing.status_code == 404
    assert missing.json()["error"] == ("no summary of 2023-Q1 yet; an admin key can make one with "
                                       "POST /v1/summaries/2023-Q1")
    assert get("/v1/summaries/2023-Q1/versions", headers=analyst).status_code == 404
    assert get(f"/v1/summaries/{PERIOD}/versions/7", headers=analyst).status_code == 404
    vendor = api.vendor("vng")
    assert get(f"/v1/summaries/{PERIOD}", headers=vendor).status_code == 403
    assert get(f"/v1/summaries/{PERIOD}/versions", headers=vendor).status_code == 403
    assert api.client.post(f"/v1/summaries/{PERIOD}", headers=vendor).status_code == 403
    assert api.client.post(f"/v1/summaries/{PERIOD}", headers=analyst).status_code == 403
    assert get(f"/v1/summaries/{PERIOD}").status_code == 401
    assert get(f"/v1/summaries/{PERIOD}", headers=ADMIN).status_code == 200


# -- formatting -----------------------------------------------------------------------------------------
def test_vietnamese_and_english_number_formatting() -> None:
    vi, en = Words("vi"), Words("en")
    assert vi.count(74_700_000) == "74,7 triệu" and en.count(74_700_000) == "74.7 million"
    assert vi.count(41_070_000) == "41,07 triệu" and vi.count(20_000) == "20 nghìn" and vi.count(610_512) == "610.512"
    assert vi.minutes(28.4) == "28 phút" and vi.minutes(80) == "1 giờ 20 phút" and en.minutes(80) == "1 h 20 min"
    assert vi.minutes_seconds(2092 / 60) == "34 phút 52 giây"
    assert vi.mb(590.9, 0) == "591 MB" and vi.mb(413.3) == "413,3 MB" and en.mb(413.3) == "413.3 MB"
    assert vi.percent(590.9 / 1004.2) == "58,84%" and vi.percent(413.3 / 1004.2) == "41,16%"
    assert vi.percent(610_512 / 602_677, 1) == "101,3%"
    assert vi.number(2.5) == "3" and vi.fixed(0.125, 2) == "0,13"  # half up, as printed reports round
    assert vi.fixed(590.9 / 413.3, 2) == "1,43"
    assert vi.change(-0.8) == "-80%" and vi.change(0.024) == "+2,4%"
    assert [vi.period(p) for p in ("2022-Q1", "2022-H2", "2022", "2022-03")] == \
        ["Quý I/2022", "6 tháng cuối năm 2022", "năm 2022", "tháng 3/2022"]
    assert [en.period(p) for p in ("2022-Q1", "2022-H2", "2022", "2022-03")] == ["Q1 2022", "H2 2022", "2022",
                                                                                 "March 2022"]
    assert vi.names(["Messenger", "Viber", "Telegram"]) == "Messenger, Viber và Telegram"


# -- polish: chart axes, the generated time, ranks, spreadsheet -------------------------------------------
def test_chart_ticks_are_written_in_the_reports_language(loaded: tuple[Api, dict[str, Any]],
                                                         analyst: dict[str, str]) -> None:
    from service.summaries.charts import LocaleFormatter

    assert LocaleFormatter(Words("vi")).format_ticks([0, 0.5, 1.0, 1.5]) == ["0,0", "0,5", "1,0", "1,5"]
    assert LocaleFormatter(Words("en")).format_ticks([0, 0.5, 1.0, 1.5]) == ["0.0", "0.5", "1.0", "1.5"]
    assert LocaleFormatter(Words("vi")).format_ticks([0, 2000, 4000]) == ["0", "2.000", "4.000"]
    api, _ = loaded
    # Zalo's 31 users a month, in millions: ticks of 0.000005 million
    vi = api.client.get(f"/v1/summaries/{PERIOD}", params={"format": "html"}, headers=analyst).text
    en = api.client.get(f"/v1/summaries/{PERIOD}", params={"format": "html", "lang": "en"}, headers=analyst).text
    assert ">0,000030</text>" in vi and ">0.000030</text>" in en
    assert ">0.000030</text>" not in vi


def test_the_generated_time_is_vietnams(loaded: tuple[Api, dict[str, Any]], analyst: dict[str, str]) -> None:
    api, created = loaded
    utc = datetime.fromisoformat(created["created_at"])
    local = utc + timedelta(hours=7)  # Asia/Ho_Chi_Minh has been UTC+7 since 1975
    html = api.client.get(f"/v1/summaries/{PERIOD}", params={"format": "html"}, headers=analyst).text
    assert (f"Thời điểm tạo: {local:%H:%M:%S} ngày {local.day}/{local.month}/{local.year} (UTC+07:00)"
            in html)
    markdown = api.client.get(f"/v1/summaries/{PERIOD}", params={"format": "md", "lang": "en"}, headers=analyst).text
    assert f"- Created: {local.day} {local:%B} {local.year}, {local:%H:%M:%S} (UTC+07:00)\n" in markdown


def ranks_of(book: openpyxl.Workbook) -> dict[str, list[int | None]]:
    """The rank column of every sheet that has one."""
    found = {}
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        if rows and rows[0] and rows[0][0] in {"Hạng", "Rank"}:
            found[sheet.title] = [row[0] for row in rows[1:]]
    return found


def test_spreadsheet_filters_fits_wraps_and_ranks_one_table_from_1(loaded: tuple[Api, dict[str, Any]],
                                                                    analyst: dict[str, str]) -> None:
    api, _ = loaded
    response = api.client.get(f"/v1/summaries/{PERIOD}", params={"format": "xlsx"}, headers=analyst)
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    for sheet in book.worksheets[1:]:
        rows = list(sheet.iter_rows(values_only=True))
        table_rows = next((i for i, row in enumerate(rows) if not any(v is not None for v in row)), len(rows))
        assert sheet.auto_filter.ref == f"A1:{get_column_letter(len(rows[0]))}{table_rows}", sheet.title
    communication = book["Liên lạc"]
    # the platform names: "Messenger" (9 characters) is the longest, the header wraps
    assert communication.column_dimensions["B"].width == 11
    assert communication["A1"].alignment.wrap_text
    method = book["Phương pháp"]
    definitions = {row[0].value: row[1] for row in method.iter_rows() if row[0].value}
    long_cell = definitions["Dữ liệu Việt Nam và nước ngoài"]
    assert len(long_cell.value) > 60 and long_cell.alignment.wrap_text
    assert method.column_dimensions["B"].width == 60  # wrapped text does not widen its column past 60
    assert not definitions["So với cùng kỳ"].alignment.wrap_text  # 47 characters
    about = book.worksheets[0]
    highlight = next(cell for cell in about["A"] if isinstance(cell.value, str) and len(cell.value) > 60)
    assert highlight.alignment.wrap_text
    # ranks run 1..n inside every table
    for title, ranks in ranks_of(book).items():
        assert ranks == list(range(1, len(ranks) + 1)), title
