"""The dashboard and the API's documentation in a real browser (tests/browser.py), on `vnmeter demo` at 1:20,000
users served by `vnmeter serve`, with no network beyond this machine.

The page's Content-Security-Policy holds in the tests too: they read the page through Playwright's locators
(`page.wait_for_function` would need 'unsafe-eval'). Each page is checked against the API's own figures,
formatted by the summaries' own Python formatting (Babel's Vietnamese locale, half-up rounding, the reports'
words), which the page must match; the headline figures of the Q1/2022 report are written out by hand. A
screenshot of every page goes to tests/screenshots/.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import expect

from service.summaries.text import Words
from tests.browser import (
    DemoService,
    Offline,
    chromium_or_skip,
    exported_csv,
    open_page,
    screenshot,
    sign_in,
    table,
    text,
)
from tests.processes import VNMETER, environment, serving

USERS_SCALE = 20_000  # 1 demo user for 20,000 (the CLI default is 2,000): a demo of a few seconds
VISITS_SCALE = 100_000
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
READER_PAGES = ["overview", "rankings", "origin", "platform", "summaries", "quality", "reconciliation"]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoService]:
    chromium_or_skip()  # no demo to make when there is no browser to look at it
    directory = tmp_path_factory.mktemp("dashboard")
    env = environment(directory / "data")
    try:
        made = subprocess.run([VNMETER, "demo", "--users-scale", str(USERS_SCALE), "--visits-scale",
                               str(VISITS_SCALE)], env=env, cwd=directory, capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"vnmeter demo did not finish in {exc.timeout} s; it printed {exc.stdout!r} {exc.stderr!r}")
    assert made.returncode == 0, made.stderr
    assert "open http://127.0.0.1:8000/ and sign in with the admin key in" in made.stdout
    with serving(env, directory, directory / "serve.log") as url:
        admin = (directory / "data" / "admin.key").read_text().strip()
        keys = {}
        for role, vendor in (("analyst", None), ("vendor", "meta")):
            created = httpx.post(f"{url}/v1/keys", json={"role": role, **({"vendor": vendor} if vendor else {})},
                                 headers={"Authorization": f"Bearer {admin}"}, timeout=30)
            assert created.status_code == 201, created.text
            keys[role] = created.json()["key"]
        yield DemoService(url, admin, keys["analyst"], keys["vendor"])


# -- expected text: the summaries' own formatting (service/summaries/text.py, Babel), not the page's JavaScript ----
VI = Words("vi")
count_vi = VI.count  # '74,7 triệu', '30 nghìn', '610.512'
percent_vi = VI.percent  # '58,84%'


def scale(kind: str) -> int:
    return VISITS_SCALE if kind == "web" else USERS_SCALE


# -- tests -------------------------------------------------------------------------------------------------------
def test_sign_in_keeps_the_key_in_the_session_and_out_of_urls(offline: Offline, service: DemoService) -> None:
    page = offline.page()
    page.goto(f"{service.url}/")
    page.fill("[data-testid=key-input]", "vnm_not-a-key")
    page.click("[data-testid=sign-in-button]")
    assert "401" in text(page, "[data-testid=error]")
    screenshot(page, "sign-in")

    page.fill("[data-testid=key-input]", service.analyst)
    page.click("[data-testid=sign-in-button]")
    page.wait_for_selector("[data-testid=nav]")
    links = page.locator("[data-testid=nav] a[data-testid]")
    assert [links.nth(i).get_attribute("data-testid") for i in range(links.count())] == \
        [f"nav-{p}" for p in READER_PAGES]
    assert page.evaluate("sessionStorage.getItem('vnmeter.key')") == service.analyst
    assert service.analyst not in page.evaluate("JSON.stringify(localStorage)")
    assert text(page, "[data-testid=period-label]") == "2022-Q1"  # the latest quarter with figures
    assert "người dùng ×20.000, lượt truy cập website ×100.000" in text(page, "[data-testid=demo-banner]")
    for route, ready in (("rankings", "[data-testid=table-rankings]"), ("summaries", "[data-testid=table-versions]")):
        open_page(page, service, route, ready)
    page.reload()  # the session survives a reload of the tab
    page.wait_for_selector("[data-testid=nav]")

    api_calls = [r for r in offline.requests if "/v1/" in r.url]  # type: ignore[attr-defined]
    assert len(api_calls) > 10
    assert all(service.analyst not in r.url for r in offline.requests)  # type: ignore[attr-defined]
    assert all(r.headers.get("authorization") in {f"Bearer {service.analyst}", "Bearer vnm_not-a-key"}
               for r in api_calls)
    page.click("[data-testid=sign-out]")
    page.wait_for_selector("[data-testid=sign-in]")
    assert page.evaluate("sessionStorage.getItem('vnmeter.key')") is None


def test_overview_shows_the_apis_figures(offline: Offline, service: DemoService) -> None:
    page = sign_in(offline, service, service.analyst)
    open_page(page, service, "overview", "[data-testid=value-mau_total]")
    # the reports' bands (1 and 5 million users) at the demo's scale: 1,000,000 / 20,000 and 5,000,000 / 20,000
    overview = service.get("/v1/overview", period="2022-Q1", band_edges="50,250")
    assert text(page, "[data-testid=value-platforms_active]") == str(overview["platforms_active"])
    assert text(page, "[data-testid=value-mau_total]") == count_vi(overview["mau_total"] * USERS_SCALE)
    assert text(page, "[data-testid=value-share_of_users]") == percent_vi(overview["share_of_users"])
    assert [row[0] for row in table(page, "bands")] == ["< 1 triệu", "1 triệu – 5 triệu", "≥ 5 triệu"]
    assert [row[3] for row in table(page, "bands")] == [str(b["platforms"]) for b in overview["bands"]]
    assert [int(row[1]) for row in table(page, "categories")] == list(overview["categories"].values())
    screenshot(page, "overview")

    # the period picker: a month, then a half year, each read again from the API
    page.select_option("[data-testid=select-period-kind]", "month")
    page.select_option("[data-testid=select-period-index]", "3")
    expect(page.locator("[data-testid=period-label]")).to_have_text("2022-03")
    march = service.get("/v1/overview", period="2022-03", band_edges="50,250")
    expect(page.locator("[data-testid=value-mau_total]")).to_have_text(count_vi(march["mau_total"] * USERS_SCALE))
    page.select_option("[data-testid=select-period-kind]", "half")
    expect(page.locator("[data-testid=period-label]")).to_have_text("2022-H1")
    half = service.get("/v1/overview", period="2022-H1", band_edges="50,250")
    expect(page.locator("[data-testid=value-mau_total]")).to_have_text(count_vi(half["mau_total"] * USERS_SCALE))
    assert march["mau_total"] != half["mau_total"]  # (three months of users over six: half of March's average)


def test_rankings_show_the_apis_order_and_values_and_export_them(offline: Offline, service: DemoService) -> None:
    page = sign_in(offline, service, service.analyst)
    open_page(page, service, "rankings", "[data-testid=table-rankings]")
    page.select_option("[data-testid=select-category]", "communication")
    ranking = service.get("/v1/rankings", period="2022-Q1", metric="mau_avg", category="communication")
    assert len(ranking["items"]) == 5  # Zalo, Messenger, Viber, Mocha, Telegram
    expect(page.locator("[data-testid=table-rankings] tbody tr")).to_have_count(5)
    shown = table(page, "rankings")
    assert [row[1] for row in shown] == [item["name"] for item in ranking["items"]]
    assert [row[5] for row in shown] == [count_vi(item["value"] * scale(item["kind"])) for item in ranking["items"]]
    assert shown[0][1:6] == ["Zalo", "Việt Nam", "Liên lạc", "Ứng dụng", "74,7 triệu"]  # the report's 74.7 million
    exported = exported_csv(page, "rankings")
    assert [(r["Hạng"], r["Nền tảng"], float(r["Người dùng hằng tháng (TB)"])) for r in exported] == \
        [(str(i["rank"]), i["name"], i["value"] * scale(i["kind"])) for i in ranking["items"]]
    screenshot(page, "rankings")


def test_vietnamese_vs_foreign_shows_the_reports_data_split(offline: Offline, service: DemoService) -> None:
    page = sign_in(offline, service, service.analyst)
    open_page(page, service, "origin", "[data-testid=value-vn-share]")
    # the Q1/2022 report: Zalo + Mocha 591 MB (58.84%) against Messenger + Viber + Telegram 413.3 MB (41.16%), 1.43x
    assert text(page, "[data-testid=value-vn-share]") == "58,84%"
    assert text(page, "[data-testid=value-foreign-share]") == "41,16%"
    assert text(page, "[data-testid=value-ratio]") == "1,43"
    assert "Zalo, Mocha" in text(page, "[data-testid=figure-vn-share]")
    assert "Messenger, Viber, Telegram" in text(page, "[data-testid=figure-foreign-share]")
    assert page.locator("[data-testid=chart-split] canvas").count() == 1
    for row in table(page, "per-category"):
        category = {"Liên lạc": "communication", "Đi lại": "mobility", "Tin tức": "news"}.get(row[0])
        if category:
            compare = service.get("/v1/compare/origin", period="2022-Q1", category=category)
            assert row[3:5] == [percent_vi(compare["vn"]["share"]), percent_vi(compare["foreign"]["share"])]
    screenshot(page, "origin")


def test_platform_page_shows_figures_trend_and_breakdowns(offline: Offline, service: DemoService) -> None:
    page = sign_in(offline, service, service.analyst)
    open_page(page, service, "platform/zalo", "[data-testid=value-mau_avg]")
    metrics = service.get("/v1/platforms/zalo/metrics", period="2022-Q1")
    assert text(page, "[data-testid=value-mau_avg]") == "74,7 triệu" == count_vi(metrics["mau_avg"] * USERS_SCALE)
    assert text(page, "[data-testid=value-minutes_per_user_day]") == "28"
    assert text(page, "[data-testid=value-mb_per_user_month]") == "420 MB"
    assert text(page, "[data-testid=value-mau_peak]") == count_vi(metrics["mau_peak"] * USERS_SCALE)
    assert f"+{round(100 * metrics['yoy']['mau_avg'])}%" in text(page, "[data-testid=figure-mau_avg]")
    # the trend: the months with sessions among 2021-01 .. 2022-03, each month's own figures
    trend = table(page, "trend")
    months = ["2021-01", "2021-02", "2021-03", "2022-01", "2022-02", "2022-03"]
    assert len(trend) == len(months)
    for row, month in zip(trend, months, strict=True):
        assert row[1] == count_vi(service.get("/v1/platforms/zalo/metrics", period=month)["mau_avg"] * USERS_SCALE)
    by_os = service.get("/v1/platforms/zalo/breakdown", period="2022-Q1", by="os")["items"]
    assert table(page, "breakdown-os") == [[{"android": "Android", "ios": "iOS"}[i["key"]],
                                            count_vi(i["mau_avg"] * USERS_SCALE), percent_vi(i["share"])]
                                           for i in by_os]
    screenshot(page, "platform")

    # Hue-S: its iOS users are too few to publish, and Android is hidden with them (the platform's users minus
    # Android's would give iOS away); the cells say so and the CSV marks them, without a figure
    open_page(page, service, "platform/hues", "[data-testid=value-mau_avg]")
    by_os = service.get("/v1/platforms/hues/breakdown", period="2022-Q1", by="os")["items"]
    assert [(i["key"], i["suppressed"], i["mau_avg"]) for i in by_os] == [("android", True, None),
                                                                           ("ios", True, None)]
    assert table(page, "breakdown-os") == [["Android", "bị ẩn", ""], ["iOS", "bị ẩn", ""]]
    exported = exported_csv(page, "breakdown-os")
    assert [(r["Hệ điều hành"], r["Người dùng hằng tháng (TB)"], r["bị ẩn"]) for r in exported] == \
        [("android", "", "true"), ("ios", "", "true")]
    screenshot(page, "platform-suppressed")
    open_page(page, service, "platform/zalo", "[data-testid=value-mau_avg]")

    page.select_option("[data-testid=select-lang]", "en")
    page.wait_for_selector("html[lang=en]")
    assert text(page, "[data-testid=value-mau_avg]") == "74.7 million"
    assert "Monthly active users (avg)" in text(page, "[data-testid=figure-mau_avg]")
    screenshot(page, "platform-en")


def test_summaries_show_versions_changes_and_every_format(offline: Offline, service: DemoService) -> None:
    page = sign_in(offline, service, service.admin)
    open_page(page, service, "summaries", "[data-testid=table-versions]")
    versions = service.get("/v1/summaries/2022-Q1/versions")["items"]
    assert len(table(page, "versions")) == len(versions) == 1
    assert text(page, "[data-testid=changes-note]") == "Đây là phiên bản đầu tiên của báo cáo kỳ này."

    page.click("[data-testid=open-html]")
    frame = page.frame_locator("[data-testid=summary-frame]")
    assert "74,7 triệu" in frame.locator("body").inner_text()  # the summary's own wording of Zalo's users
    for fmt, start in (("xlsx", b"PK"), ("csv", b"period,"), ("md", b"# "), ("json", b"{"), ("html", b"<!DOCTYPE")):
        with page.expect_download() as download:
            page.click(f"[data-testid=download-{fmt}]")
        assert download.value.suggested_filename == f"vnmeter-2022-Q1-v1-vi.{fmt}"
        assert Path(download.value.path()).read_bytes().lstrip(b"\xef\xbb\xbf").startswith(start), fmt
    page.click("[data-testid=open-md]")
    assert "Zalo" in text(page, "[data-testid=viewer-md]")
    screenshot(page, "summaries")

    page.click("[data-testid=create-summary]")  # an admin makes version 2: nothing changed since version 1
    page.wait_for_selector("[data-testid=version-2]")
    expect(page.locator("[data-testid=changes-note]")).to_have_text("Không có số liệu nào thay đổi so với phiên bản 1.")
    assert [v["version"] for v in service.get("/v1/summaries/2022-Q1/versions")["items"]] == [1, 2]
    screenshot(page, "summaries-v2")


def test_a_vendor_key_sees_only_its_own_platforms(offline: Offline, service: DemoService) -> None:
    page = sign_in(offline, service, service.vendor)
    links = page.locator("[data-testid=nav] a[data-testid]")
    assert [links.nth(i).get_attribute("data-testid") for i in range(links.count())] == \
        ["nav-platform", "nav-quality", "nav-reconciliation"]
    page.wait_for_selector("[data-testid=value-mau_avg]")
    options = page.locator("[data-testid=select-platform] option").all_inner_texts()
    assert options == ["Facebook", "Messenger"]
    assert text(page, "[data-testid=value-mau_avg]") == count_vi(
        service.get("/v1/platforms/facebook/metrics", key=service.vendor, period="2022-Q1")["mau_avg"] * USERS_SCALE)
    screenshot(page, "vendor")

    page.goto(f"{service.url}/#/overview")
    page.wait_for_selector("[data-testid=forbidden]")
    assert page.locator("[data-testid=page-platform]").count() == 1
    page.goto(f"{service.url}/#/platform/zalo")  # another vendor's platform: the API answers 403
    page.wait_for_selector("[data-testid=error]")
    assert "403" in text(page, "[data-testid=error]")
    assert page.locator("[data-testid=value-mau_avg]").count() == 0
    screenshot(page, "vendor-forbidden")


def test_data_quality_of_the_demo_is_the_apis(offline: Offline, service: DemoService) -> None:
    """The demo posted its events through the ingestion path before the tests: the quality page of the year they
    arrived in shows the API's counts of every platform, written with Vietnamese thousands separators.
    (tests/system/test_dashboard_quality.py checks the page against events of known outcomes.)"""
    now = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    year, quality = next((str(y), q) for y in (now.year, now.year - 1)  # the year before: a demo of New Year's Eve
                         if (q := service.get("/v1/quality", period=str(y)))["totals"])
    names = {p["platform_id"]: p["name"] for p in service.get("/v1/platforms")["items"]}
    assert sum(row["accepted"] for row in quality["totals"]) > 10_000  # so that separators show
    page = sign_in(offline, service, service.analyst)
    page.evaluate(f"sessionStorage.setItem('vnmeter.period', '{year}')")
    page.goto(f"{service.url}/#/quality")
    page.reload()
    page.wait_for_selector("[data-testid=table-quality-totals]")
    expected = [[row["vendor"], names[row["platform"]], *(VI.integer(row[outcome]) for outcome in
                                                         ("received", "accepted", "duplicates", "rejected"))]
                for row in quality["totals"]]
    assert sorted(table(page, "quality-totals")) == sorted(expected)
    screenshot(page, "quality-demo")


def test_docs_work_offline_and_authorize_sends_the_key(offline: Offline, service: DemoService) -> None:
    page = offline.page()
    page.goto(f"{service.url}/docs")
    page.wait_for_selector(".swagger-ui .opblock")
    page.click("button.authorize")
    page.fill(".modal-ux input", service.analyst)
    page.click(".modal-ux button.authorize")
    page.click(".modal-ux button.btn-done")
    operation = page.locator(".opblock-get", has=page.locator("[data-path='/v1/me']"))
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    with page.expect_response(lambda r: r.url.endswith("/v1/me")) as answer:
        operation.locator("button.execute").click()
    assert answer.value.status == 200
    assert answer.value.request.headers["authorization"] == f"Bearer {service.analyst}"
    operation.locator(".live-responses-table").wait_for()
    assert '"role": "analyst"' in operation.locator(".live-responses-table").inner_text()
    screenshot(page, "docs")

    redoc = offline.page()
    redoc.goto(f"{service.url}/redoc")
    redoc.get_by_text("/v1/events", exact=True).first.wait_for()
    assert redoc.locator("h1").first.inner_text().startswith("vnmeter")
    screenshot(redoc, "redoc", full_page=False)
    # ReDoc's bundle asks its CDN for the logo of its "API docs by Redocly" link, and hides it when that fails
    assert offline.blocked == [REDOC_LOGO]
    offline.blocked.clear()
