"""The browser fixtures of the dashboard tests (tests/browser.py)."""

from tests.browser import browser, offline  # noqa: F401 - fixtures, used by name
