"""A real browser for the tests: Debian's chromium (/usr/bin/chromium) driven by Playwright, no network but
this machine's loopback. Without chromium the browser tests skip, saying why, except in CI (`CI` set), where
they fail: .ci/run installs it."""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

CHROMIUM = os.environ.get("VNMETER_TEST_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def chromium_or_skip() -> str:
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if path:
        return path
    message = (f"no chromium at {CHROMIUM}: install it with `apt-get install -y chromium` (.ci/run does) to run the "
               "browser tests")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = chromium_or_skip()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=FLAGS)
        yield launched
        launched.close()


class Offline:
    """A browser context whose requests may reach this machine only; the others are aborted and recorded."""

    def __init__(self, browser: object, **options: object):
        self.context = browser.new_context(**options)  # type: ignore[attr-defined]
        self.blocked: list[str] = []
        self.requests: list[object] = []
        self.context.route("**/*", self._route)
        self.context.on("request", lambda request: self.requests.append(request))
        self.errors: list[str] = []

    def _route(self, route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        scheme, host = urlparse(url).scheme, urlparse(url).hostname
        if scheme in {"http", "https", "ws", "wss"} and host not in LOOPBACK:
            self.blocked.append(url)
            route.abort()  # type: ignore[attr-defined]
        else:
            route.continue_()  # type: ignore[attr-defined]

    def page(self) -> object:
        page = self.context.new_page()
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)
        return page

    def close(self) -> None:
        self.context.close()


def screenshot(page: object, name: str, full_page: bool = True) -> Path:
    """Save a screenshot as tests/screenshots/<name>.png (git-ignored) and return its path."""
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)  # type: ignore[attr-defined]
    return path


@dataclass
class DemoService:
    """A service running for the browser tests, with a key of each role."""

    url: str
    admin: str
    analyst: str
    vendor: str  # a key of vendor 'meta' (Facebook, Messenger)

    def get(self, path: str, key: str | None = None, **params: Any) -> Any:
        response = httpx.get(f"{self.url}{path}", params=params, timeout=60,
                             headers={"Authorization": f"Bearer {key or self.analyst}"})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def offline(browser: Any) -> Iterator[Offline]:
    context = Offline(browser, viewport={"width": 1360, "height": 900}, accept_downloads=True)
    yield context
    assert context.blocked == [], f"requests beyond this machine: {context.blocked}"
    assert not [e for e in context.errors if "Failed to load resource" not in e], context.errors
    context.close()


# -- page helpers -------------------------------------------------------------------------------------------------
def sign_in(offline: Offline, service: DemoService, key: str) -> Any:
    page = offline.page()
    page.goto(f"{service.url}/")
    page.fill("[data-testid=key-input]", key)
    page.click("[data-testid=sign-in-button]")
    page.wait_for_selector("[data-testid=nav]")
    return page


def open_page(page: Any, service: DemoService, route: str, ready: str) -> None:
    page.goto(f"{service.url}/#/{route}")
    page.wait_for_selector(ready)
    page.wait_for_selector("[data-testid=loading]", state="detached")


def text(page: Any, selector: str) -> str:
    return str(page.locator(selector).inner_text()).strip()


def table(page: Any, name: str) -> list[list[str]]:
    rows = page.locator(f"[data-testid=table-{name}] tbody tr")
    return [[cell.strip() for cell in rows.nth(i).locator("td").all_inner_texts()] for i in range(rows.count())]


def exported_csv(page: Any, name: str) -> list[dict[str, str]]:
    with page.expect_download() as download:
        page.click(f"[data-testid=csv-{name}]")
    content = Path(download.value.path()).read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(content)))
