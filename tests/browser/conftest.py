"""Browser tests: Debian's Chromium driven by Playwright, against the live server.

No browser is ever downloaded: Playwright launches the system's ``/usr/bin/chromium``.
Without it the tests are skipped locally, with the reason; under ``CI=true`` a missing
browser fails them, as a missing service fails the run (see ``tests/conftest.py``).

Playwright's sync API keeps an asyncio loop marked as running in the test's thread for as
long as it is open, and Django then refuses ORM calls there ("cannot call this from an
async context"). Nothing in that thread runs concurrently with the loop, so the browser
fixture lets the ORM through (``DJANGO_ALLOW_ASYNC_UNSAFE``) for its lifetime only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.conftest import IN_CI

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def browser() -> Browser:
    if not CHROMIUM.exists():
        reason = f"needs Chromium at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"{reason}; CI=true: a missing browser fails the run")
        pytest.skip(reason)
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        expect.set_options(timeout=TIMEOUT_MS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Page:
    """A fresh browser context per test (no cookies or storage carried over); a script
    error on the page fails the test rather than passing unnoticed."""
    context = browser.new_context(viewport={"width": 1200, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    context.on("weberror", lambda error: errors.append(str(error.error)))
    page = context.new_page()
    yield page
    context.close()
    assert not errors, f"script errors on the page: {errors}"
