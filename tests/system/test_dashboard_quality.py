"""The dashboard's data-quality and reconciliation pages in a real browser (tests/browser.py), on `vnmeter serve`
with an empty store fed through the API with events of known outcomes, and no network beyond this machine.

Every expected count is added up by hand from the events `post_events` sends (listed there with what becomes
of each); the arrival day and the lateness buckets come from `ts` values relative to the clock at posting.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest
from playwright.sync_api import expect

from tests.browser import DemoService, Offline, chromium_or_skip, exported_csv, screenshot, sign_in, table, text
from tests.factories import event, platform_body
from tests.processes import environment, serving

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
PLATFORMS = {"zalo": ("Zalo", "vng"), "zingmp3": ("Zing MP3", "vng"), "mocha": ("Mocha", "viettel")}


@dataclass
class Fed:
    service: DemoService  # its vendor key is vng's (Zalo, Zing MP3)
    viettel: str  # a key of vendor viettel (Mocha)
    day: date  # the arrival day of every posted event, in Vietnam

    @property
    def month(self) -> str:
        return f"{self.day:%Y-%m}"


def call(url: str, key: str, method: str, path: str, headers: dict[str, str] | None = None, **options: Any) -> Any:
    response = httpx.request(method, f"{url}{path}", headers={"Authorization": f"Bearer {key}", **(headers or {})},
                             timeout=60, **options)
    assert response.status_code in {200, 201}, response.text
    return response.json()


def wait_past_midnight(margin: float = 120) -> None:
    """Sleep over Vietnam's midnight when it is less than `margin` seconds away: every event then arrives on one
    day (posting takes a few seconds)."""
    now = datetime.now(VIETNAM)
    left = (datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), VIETNAM) - now).total_seconds()
    if left < margin:
        time.sleep(left + 1)


def stamp(moment: datetime) -> str:
    return moment.astimezone(VIETNAM).isoformat(timespec="seconds")


def post_events(url: str, vng: str, viettel: str) -> None:
    """What becomes of each event is in its comment; 2022-03 and earlier months are older than 7 days."""
    now = datetime.now(VIETNAM)
    ago = lambda **delta: stamp(now - timedelta(**delta))  # noqa: E731 - a short spelling for the list below
    accepted = [
        event(platform="zalo", user="u1", ts=ago(minutes=10)),  # accepted, lt_1h
        event(platform="zalo", user="u2", ts=ago(minutes=40)),  # accepted, lt_1h
        event(platform="zalo", user="u1", ts=ago(hours=5)),  # accepted, lt_1d
        event(platform="zalo", user="u3", ts=ago(days=3)),  # accepted, lt_7d
        event(platform="zalo", user="u1", ts="2022-03-05T09:00:00+07:00"),  # accepted, older; March: u1
        event(platform="zalo", user="u2", ts="2022-03-06T09:00:00+07:00"),  # accepted, older; March: u2
        event(platform="zalo", user="u1", ts="2022-03-20T09:00:00+07:00"),  # accepted, older; March: u1 again
        event(platform="zingmp3", user="u7", ts=ago(minutes=20)),  # accepted, lt_1h
    ]
    rejected = [
        event(platform="zalo", without=["user"], ts=ago(minutes=5)),  # zalo: missing_field
        event(platform="zalo", duration_s="60", ts="2022-03-07T09:00:00+07:00"),  # zalo: invalid_field, March
        event(platform="zalo", ts=ago(hours=-2)),  # zalo: future_timestamp
        event(platform="zalo", ts="2021-03-10T09:00:00+07:00"),  # zalo: month_sealed (sealed before 2021-07)
        event(platform="tiktok"),  # no platform of vng's: unknown_platform
        event(platform="mocha"),  # no platform of vng's: platform_not_allowed (viettel's)
    ]
    lines = [orjson.dumps(row) for row in accepted + rejected] + [b'{"event_id": "not closed"']  # malformed
    answer = post(url, vng, b"\n".join(lines) + b"\n")
    assert (answer["accepted"], len(answer["rejected"])) == (8, 7)
    retried = post(url, vng, b"\n".join(orjson.dumps(row) for row in (accepted[0], accepted[4])) + b"\n")
    assert retried["duplicates"] == 2  # zalo: 2 duplicates, one of them March's
    mocha = [event(platform="mocha", user="v1", ts=ago(minutes=15)),  # accepted, lt_1h
             event(platform="mocha", user="v2", ts=ago(minutes=25)),  # accepted, lt_1h
             event(platform="mocha", duration_s=-1, ts=ago(minutes=5))]  # mocha: invalid_field
    answer = post(url, viettel, b"\n".join(orjson.dumps(row) for row in mocha) + b"\n")
    assert (answer["accepted"], len(answer["rejected"])) == (2, 1)


def post(url: str, key: str, ndjson: bytes) -> Any:
    return call(url, key, "POST", "/v1/events", content=gzip.compress(ndjson),
                headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"})


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fed]:
    chromium_or_skip()
    directory = tmp_path_factory.mktemp("dashboard-quality")
    env = environment(directory / "data")
    with serving(env, directory, directory / "serve.log") as url:
        admin = (directory / "data" / "admin.key").read_text().strip()
        for platform, (name, vendor) in PLATFORMS.items():
            call(url, admin, "PUT", f"/v1/platforms/{platform}", json=platform_body(vendor, name=name))
        keys = {vendor or role: call(url, admin, "POST", "/v1/keys",
                                     json={"role": role, **({"vendor": vendor} if vendor else {})})["key"]
                for role, vendor in (("analyst", None), ("vendor", "vng"), ("vendor", "viettel"))}
        call(url, admin, "POST", "/v1/admin/seal", json={"before": "2021-07"})
        wait_past_midnight()
        day = datetime.now(VIETNAM).date()
        post_events(url, keys["vng"], keys["viettel"])
        assert datetime.now(VIETNAM).date() == day, "posting took longer than wait_past_midnight allows for"
        yield Fed(DemoService(url, admin, keys["analyst"], keys["vng"]), keys["viettel"], day)


def show(page: Any, fed: Fed, route: str, period: str, ready: str) -> None:
    """Open a page of the dashboard for `period` (kept in the tab's session, as the period picker keeps it)."""
    page.evaluate(f"sessionStorage.setItem('vnmeter.period', '{period}')")
    page.goto(f"{fed.service.url}/#/{route}")
    page.reload()
    expect(page.locator("[data-testid=period-label]")).to_have_text(period)
    page.wait_for_selector(ready)
    page.wait_for_selector("[data-testid=loading]", state="detached")


def chart_data(page: Any, chart: str) -> Any:
    return page.evaluate(f"""(() => {{
        const chart = Chart.getChart(document.querySelector('[data-testid=chart-{chart}] canvas'));
        return {{ labels: chart.data.labels, data: chart.data.datasets.map((d) => [d.label, d.data]) }};
    }})()""")


# the totals of the arrival day, added up by hand from post_events: vendor, platform, received, accepted,
# duplicates, rejected (received = accepted + duplicates + rejected)
MOCHA = ["viettel", "Mocha", "3", "2", "0", "1"]  # 2 accepted + 1 invalid_field
ZALO = ["vng", "Zalo", "13", "7", "2", "4"]  # 4 + 3 accepted, 2 retried, 4 rejected
ZING = ["vng", "Zing MP3", "1", "1", "0", "0"]
NOT_ATTRIBUTED = ["vng", "Không thuộc nền tảng nào của nhà cung cấp", "3", "0", "0", "3"]  # tiktok, mocha, malformed


def test_quality_page_shows_exactly_the_posted_outcomes(offline: Offline, fed: Fed) -> None:  # noqa: F811
    page = sign_in(offline, fed.service, fed.service.analyst)
    show(page, fed, "quality", fed.month, "[data-testid=table-quality-totals]")
    assert table(page, "quality-totals") == [MOCHA, ZALO, ZING, NOT_ATTRIBUTED]
    # one arrival day: received 3 + 13 + 1 + 3, accepted 2 + 7 + 1, duplicates 2, rejected 1 + 4 + 3
    assert table(page, "quality-days") == [[fed.day.strftime("%d/%m/%Y"), "20", "10", "2", "8"]]
    assert chart_data(page, "quality-days") == {"labels": [fed.day.strftime("%d/%m/%Y")], "data": [
        ["Được chấp nhận", [10]], ["Trùng lặp", [2]], ["Bị từ chối", [8]]]}
    assert table(page, "quality-reasons") == [
        ["viettel", "Mocha", "Trường không hợp lệ invalid_field", "1"],
        ["vng", "Zalo", "Thiếu trường bắt buộc missing_field", "1"],
        ["vng", "Zalo", "Trường không hợp lệ invalid_field", "1"],
        ["vng", "Zalo", "Thời điểm ở tương lai future_timestamp", "1"],
        ["vng", "Zalo", "Tháng đã niêm phong month_sealed", "1"],
        ["vng", NOT_ATTRIBUTED[1], "Không phải đối tượng JSON malformed", "1"],
        ["vng", NOT_ATTRIBUTED[1], "Nền tảng chưa đăng ký unknown_platform", "1"],
        ["vng", NOT_ATTRIBUTED[1], "Nền tảng của nhà cung cấp khác platform_not_allowed", "1"],
    ]
    # lateness of the accepted rows: under 1 hour, under 1 day, under 7 days, older
    assert table(page, "quality-lateness") == [["viettel", "Mocha", "2", "0", "0", "0"],
                                               ["vng", "Zalo", "2", "1", "1", "3"],
                                               ["vng", "Zing MP3", "1", "0", "0", "0"]]
    assert [row[1] for row in table(page, "quality-months")] == ["Còn mở"]
    exported = exported_csv(page, "quality-totals")
    assert [(r["Nhà cung cấp"], r["Nền tảng"], r["Đã nhận"], r["Dưới 1 giờ"], r["Từ 7 ngày"],
             r["Bị từ chối: month_sealed"]) for r in exported] == [
        ("viettel", "Mocha", "3", "2", "0", "0"), ("vng", "Zalo", "13", "2", "3", "1"),
        ("vng", "Zing MP3", "1", "1", "0", "0"), ("vng", NOT_ATTRIBUTED[1], "3", "0", "0", "0")]
    screenshot(page, "quality")

    page.select_option("[data-testid=select-quality-platform]", "zalo")  # one platform: the API's platform=
    expect(page.locator("[data-testid=table-quality-totals] tbody tr")).to_have_count(1)
    assert table(page, "quality-totals") == [ZALO]
    page.select_option("[data-testid=select-lang]", "en")
    page.wait_for_selector("html[lang=en]")
    assert "Received" in text(page, "[data-testid=table-quality-totals] thead")
    assert table(page, "quality-days") == [[fed.day.strftime("%m/%d/%Y"), *ZALO[2:]]]
    screenshot(page, "quality-en")


def test_sealed_months_and_an_empty_period(offline: Offline, fed: Fed) -> None:  # noqa: F811
    page = sign_in(offline, fed.service, fed.service.analyst)
    show(page, fed, "quality", "2021", "[data-testid=table-quality-months]")
    assert text(page, "[data-testid=no-rows]") == "Không có dòng dữ liệu nào đến trong kỳ này."
    assert text(page, "[data-testid=sealed-before]") == "Các tháng trước thg 7 2021 đã được niêm phong."
    assert page.locator("[data-testid=table-quality-totals]").count() == 0
    assert [row[1] for row in table(page, "quality-months")] == ["Đã niêm phong"] * 6 + ["Còn mở"] * 6  # before 2021-07
    exported = exported_csv(page, "quality-months")
    assert [(r["Tháng"], r["Trạng thái"]) for r in exported] == \
        [(f"2021-{m:02d}", "true" if m < 7 else "false") for m in range(1, 13)]
    screenshot(page, "quality-sealed")


def test_a_vendor_key_sees_only_its_own_rows(offline: Offline, fed: Fed) -> None:  # noqa: F811
    page = sign_in(offline, fed.service, fed.viettel)
    links = page.locator("[data-testid=nav] a[data-testid]")
    assert [links.nth(i).get_attribute("data-testid") for i in range(links.count())] == \
        ["nav-platform", "nav-quality", "nav-reconciliation"]
    show(page, fed, "quality", fed.month, "[data-testid=table-quality-totals]")
    assert page.locator("[data-testid=select-quality-platform] option").all_inner_texts() == \
        ["Tất cả nền tảng", "Mocha"]
    assert table(page, "quality-totals") == [MOCHA[1:]]  # no vendor column: it is the key's own
    assert table(page, "quality-reasons") == [["Mocha", "Trường không hợp lệ invalid_field", "1"]]
    assert chart_data(page, "quality-days")["data"] == [["Được chấp nhận", [2]], ["Trùng lặp", [0]],
                                                         ["Bị từ chối", [1]]]
    screenshot(page, "quality-vendor")


def test_a_declaration_made_in_the_form_is_reconciled(offline: Offline, fed: Fed) -> None:  # noqa: F811
    page = sign_in(offline, fed.service, fed.service.vendor)  # vng
    show(page, fed, "reconciliation", "2022-03", "[data-testid=declare-form]")
    assert text(page, "[data-testid=no-declarations]") == "Chưa có khai báo nào cho các tháng của kỳ này."
    assert page.locator("[data-testid=select-declare-platform] option").all_inner_texts() == ["Zalo", "Zing MP3"]

    page.click("[data-testid=declare-button]")  # nothing declared: the API's 422, shown as it says it
    expect(page.locator("[data-testid=error]")).to_contain_text("422")
    assert "declare at least one of events and users" in text(page, "[data-testid=error]")
    page.fill("[data-testid=declare-events]", "-5")
    page.click("[data-testid=declare-button]")
    expect(page.locator("[data-testid=error]")).to_contain_text("events")
    screenshot(page, "reconciliation-error")

    page.fill("[data-testid=declare-events]", "6")
    page.fill("[data-testid=declare-users]", "3")
    page.click("[data-testid=declare-button]")
    page.wait_for_selector("[data-testid=table-recon-events]")
    assert text(page, "[data-testid=declared]").startswith("Đã khai báo: Zalo,")
    assert page.locator("[data-testid=error]").count() == 0
    # zalo, ts in 2022-03: accepted 3 (older), the retried one, the invalid_field one: received 5
    # 5 - 6 = -1, -1 / 6 = -16.67%; accepted 3 - 6 = -3, -3 / 6 = -50%
    (events,) = table(page, "recon-events")
    assert events[0] == "Zalo" and events[2:9] == ["6", "5", "-1", "-16,67%", "3", "-3", "-50,00%"]
    # March's users: u1 and u2, so a measured MAU of 2: 2 - 3 = -1, -1 / 3 = -33.33%
    (users,) = table(page, "recon-users")
    assert users[0] == "Zalo" and users[2:6] == ["3", "2", "-1", "-33,33%"]
    exported = exported_csv(page, "recon-events")
    assert [(r["Tháng"], r["Khai báo"], r["Đã nhận"], r["Trùng lặp"], r["Bị từ chối"], r["Tỷ lệ (đã nhận)"])
            for r in exported] == [("2022-03", "6", "5", "1", "1", repr(-1 / 6))]
    screenshot(page, "reconciliation")

    # a correction of events alone replaces the declaration: no users declared any more
    # 5 - 2000 = -1995, -1995 / 2000 = -99.75%; 3 - 2000 = -1997, -1997 / 2000 = -99.85%
    page.fill("[data-testid=declare-events]", "2000")
    page.fill("[data-testid=declare-users]", "")
    page.click("[data-testid=declare-button]")
    expect(page.locator("[data-testid=table-recon-events] td[data-col=declared]")).to_have_text("2.000")
    assert table(page, "recon-events")[0][2:9] == ["2.000", "5", "-1.995", "-99,75%", "3", "-1.997", "-99,85%"]
    assert table(page, "recon-users")[0][2:6] == ["–", "2", "–", "–"]
    page.select_option("[data-testid=select-lang]", "en")
    page.wait_for_selector("html[lang=en]")
    assert table(page, "recon-events")[0][2:9] == ["2,000", "5", "-1,995", "-99.75%", "3", "-1,997", "-99.85%"]
    assert text(page, "[data-testid=declared]") == "Declared: Zalo, Mar 2022."
    screenshot(page, "reconciliation-en")

    # viettel sees none of vng's declarations; an analyst sees it, without the form
    other = sign_in(offline, fed.service, fed.viettel)
    show(other, fed, "reconciliation", "2022-03", "[data-testid=no-declarations]")
    analyst = sign_in(offline, fed.service, fed.service.analyst)
    show(analyst, fed, "reconciliation", "2022-Q1", "[data-testid=table-recon-users]")
    assert analyst.locator("[data-testid=declare-form]").count() == 0
    assert [row[:2] + row[3:7] for row in table(analyst, "recon-users")] == \
        [["vng", "Zalo", "–", "2", "–", "–"]]
    assert table(analyst, "recon-events")[0][3:5] == ["2,000", "5"]  # in English: the language chosen above stays
