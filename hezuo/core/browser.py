"""The browser-test kit shared by every app's test_browser.py: Playwright driving Debian's chromium.

Chromium: $HEZUO_CHROMIUM, else /usr/bin/chromium, else `chromium` on the PATH. Without it the browser
tests are skipped, unless HEZUO_REQUIRE_BROWSER=1 (CI), where they fail. Pages are opened in Chinese
(zh-CN, Asia/Shanghai) like the platform's users; full-page screenshots go to test-artifacts/screenshots/
(or $HEZUO_SCREENSHOT_DIR). The `browser` fixture is registered in hezuo/conftest.py.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # without these, chromium keeps calling home and floods the closed network
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE_WIDTH = 360
TIMEOUT_MS = 15_000

# elements sticking out of the viewport on the right, outside the containers that may scroll sideways
OVERFLOWING_JS = """
(limit) => [...document.querySelectorAll("body *")]
  .filter(e => !e.closest(".table-responsive, .nav-tabs") && e.getBoundingClientRect().right > limit)
  .slice(0, 8)
  .map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
            + (typeof e.className === "string" && e.className
               ? "." + e.className.trim().replace(/ +/g, ".") : "")
            + " right=" + Math.round(e.getBoundingClientRect().right))
"""


def chromium_path() -> str | None:
    for candidate in (os.environ.get("HEZUO_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def screenshot_dir() -> Path:
    default = settings.PROJECT_DIR / "test-artifacts" / "screenshots"
    path = Path(os.environ.get("HEZUO_SCREENSHOT_DIR") or default)
    path.mkdir(parents=True, exist_ok=True)
    return path


def ensure_divisions(django_db_blocker: Any) -> None:
    """Divisions are loaded once per test database, but a live-server test ends by flushing every table."""
    from hezuo.core.context import change_context
    from hezuo.geo.loader import load_divisions
    from hezuo.geo.models import Division

    with django_db_blocker.unblock():
        if not Division.objects.exists():
            with change_context(source="cli"):
                load_divisions()


@pytest.fixture(scope="module")
def browser(django_db_blocker: Any) -> Iterator[Any]:
    """One headless chromium per test module."""
    path = chromium_path()
    if path is None:
        message = "chromium not found (install Debian's chromium package or set HEZUO_CHROMIUM)"
        if os.environ.get("HEZUO_REQUIRE_BROWSER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django would refuse the ORM calls of the test.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
            yield launched
            launched.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous
        # leave the reference data in place for the test files that run after this one in the same process
        ensure_divisions(django_db_blocker)


def new_page(browser: Any, **options: Any) -> Any:
    """A page in Chinese like the platform's users; no animations, so that collapsed panels open at once."""
    context = browser.new_context(
        locale="zh-CN", timezone_id="Asia/Shanghai", reduced_motion="reduce", **options
    )
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def log_in(page: Any, base_url: str, username: str, next_url: str, password: str | None = None) -> None:
    """Sign in through the real login form and land on `next_url`."""
    from hezuo.conftest import PASSWORD

    page.goto(f"{base_url}{reverse('login')}?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", password or PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.url == f"{base_url}{next_url}", "login failed"


def assert_fits(page: Any, what: str, width: int = PHONE_WIDTH) -> None:
    """No horizontal page overflow: tables may scroll inside .table-responsive, the page itself must not."""
    scroll_width = int(page.evaluate("document.documentElement.scrollWidth"))
    if scroll_width > width + 1:
        culprits = page.evaluate(OVERFLOWING_JS, width + 1)
        pytest.fail(f"{what} is {scroll_width}px wide on a {width}px screen: {culprits}")


@pytest.fixture
def shoot() -> Any:
    """`shoot(page, name)`: a full-page screenshot into screenshot_dir()."""
    folder = screenshot_dir()

    def take(page: Any, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def live_city(
    browser: Any,
    live_server: Any,
    transactional_db: Any,
    django_db_blocker: Any,
    request: pytest.FixtureRequest,
) -> dict[str, Any]:
    """The small city of hezuo/conftest.py (`city_data`), committed so that the live server sees it, with
    the server's address as `url`. A test module may define its own `live_city` on top of it."""
    ensure_divisions(django_db_blocker)
    data: dict[str, Any] = request.getfixturevalue("city_data")
    data["url"] = live_server.url
    return data
