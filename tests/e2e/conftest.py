"""Playwright fixtures for the end-to-end tests: Debian's Chromium, headless.

One browser for the whole e2e package and a fresh context and page per test.
Playwright's sync API keeps an asyncio loop running in the test thread while it
is started, so Django's ORM would refuse to run there (SynchronousOnlyOperation);
DJANGO_ALLOW_ASYNC_UNSAFE is set while the browser is up. The browser is
package-scoped (not session-scoped) so that the running loop and that setting
end with the last e2e test instead of leaking into the tests that run after.

On a failure the page is saved as a full-page screenshot; the report names the
file (under pytest's tmp dir, or E2E_SCREENSHOTS when set).
"""

import os
import re
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
TIMEOUT_MS = 10_000  # per action / expectation: the pages are local and small


@pytest.fixture(scope="package")
def browser():
    from playwright.sync_api import expect, sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    expect.set_options(timeout=TIMEOUT_MS)
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser, live_server, screenshot_dir):
    """A fresh browser context (no cookies) and page, with the live server as base URL."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="package")
def screenshot_dir(tmp_path_factory) -> Path:
    if custom := os.environ.get("E2E_SCREENSHOTS"):
        path = Path(custom)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("e2e-screenshots")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    page = getattr(item, "funcargs", {}).get("page")
    if report.when == "call" and report.failed and page is not None:
        path = item.funcargs["screenshot_dir"] / (re.sub(r"[^\w.-]+", "_", item.name) + ".png")
        try:
            page.screenshot(path=str(path), full_page=True)
            report.sections.append(("e2e screenshot", f"{path}\n(page URL: {page.url})"))
        except Exception as exc:  # the page may be gone: the report must still come out
            report.sections.append(("e2e screenshot", f"could not save a screenshot: {exc}"))
    return report
