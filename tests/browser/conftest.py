"""Headless Chromium (Debian's package, driven by Playwright) against pytest-django's live server.

Browser tests are marked ``browser`` and skipped with a clear reason where no Chromium is installed
(``.ci/run`` installs it; locally: ``apt-get install chromium``).
"""

import os
import shutil
from datetime import datetime

import pytest

from tests.browser import axe as axe_core

# Playwright's sync API runs an event loop in the test thread; the ORM calls made by fixtures in that
# same thread are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
PASSWORD = "correct horse battery staple"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def sign_in(page):
    """Sign in through the login form as ``username`` (password: the factories' default)."""

    def sign_in(username: str, password: str = PASSWORD, *, on=None):
        """Sign in on ``page`` (or on another page, e.g. the ``phone`` one)."""
        tab = on or page
        tab.goto("/login/")
        tab.get_by_label("Username").fill(username)
        tab.get_by_label("Password").fill(password)
        tab.get_by_role("button", name="Sign in").click()
        tab.wait_for_load_state()
        return tab

    return sign_in


@pytest.fixture(scope="session")
def axe_source():
    return axe_core.install().read_text()


@pytest.fixture
def axe(axe_source):
    """``axe(page, "what")``: fail with every axe-core violation of the page as it is now (see axe.py)."""

    def check(page, what: str = "", exclude: list[str] | None = None):
        violations = axe_core.run(page, axe_source, exclude=exclude)
        if violations:
            width = page.viewport_size["width"]
            pytest.fail(f"axe-core on {what or page.url} ({width} px):\n{axe_core.describe(violations)}", pytrace=False)

    return check


PHONE = {"width": 390, "height": 844}  # an iPhone 12-14 viewport in CSS pixels


@pytest.fixture
def phone(browser, live_server):
    """A page of a phone-sized browser (390 x 844 CSS px, touch, 3x pixels)."""
    context = browser.new_context(
        base_url=live_server.url, viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def pin_clock(monkeypatch):
    """``pin_clock(datetime(2026, 12, 1, 9, tzinfo=UTC))``: Django's ``timezone.now`` (pages, selectors, the
    live server's thread) returns that moment, so what "this period" and "today" mean is fixed."""

    def pin(moment: datetime):
        from django.utils import timezone

        monkeypatch.setattr(timezone, "now", lambda: moment)
        return moment

    return pin
