"""Browser-test fixtures: Debian's Chromium driven by Playwright's sync API against ``live_server``.

Use them from a test module with::

    pytest_plugins = ["tests.browser"]
    pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

    def test_something(admin_page, screenshot):
        admin_page.goto("/admin/")          # URLs are relative to the live server
        ...
        screenshot(admin_page, "something")  # -> test-artifacts/something.png

Fixtures: ``chromium_browser`` (one browser per session), ``browser_page`` (a fresh context and
page per test, its base URL the live server), ``admin_page`` (the same, logged into the admin as
a new superuser), ``screenshot`` (``screenshot(page, name)``) and ``admin_login``
(``admin_login(page, username, password)``). Every ``browser_page`` leaves a screenshot of its
last state in ``test-artifacts/`` (``*-FAILED.png`` when the test failed).

The flush after each transactional test also empties what data migrations loaded (e.g. the
default data dictionary): recreate what a test needs at its start. Do not use
``serialized_rollback``: on PostgreSQL it fails (duplicate content types) after a plain
transactional test.

Take helpers from these fixtures rather than importing this module in a test module: pytest
registers it as a plugin and warns when it was imported before.

Chromium is ``$CHROMIUM_PATH`` or ``/usr/bin/chromium``; Playwright's own browser download is not
used. Without Chromium the tests skip, unless ``BROWSER_TESTS_REQUIRED=1`` (set by ``make test``).
"""

import os
import re
from pathlib import Path

import pytest

ARTIFACTS_DIR = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN_PASSWORD = "browser-test-Pa55word!"


def chromium_path() -> str:
    return os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def save_screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as ``test-artifacts/<name>.png`` and return its path."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    path = ARTIFACTS_DIR / f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_into_admin(page, username: str, password: str) -> None:
    """Log in through the admin login form and wait for the landing page (index or dashboard)."""
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r".*/admin/(dashboard/)?$"))  # a RevOps admin lands on the dashboard


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.stash[_call_failed] = report.failed
    return report


_call_failed = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def chromium_browser():
    """One headless Chromium for the session."""
    executable = chromium_path()
    if not os.access(executable, os.X_OK):
        message = f"Chromium not found at {executable} (install Debian's chromium or set CHROMIUM_PATH)"
        if os.environ.get("BROWSER_TESTS_REQUIRED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; Django would then refuse ORM calls
    # made by the test (and by pytest-django's flush) as "async unsafe".
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_page(request, chromium_browser, live_server, settings):
    """A fresh browser context and page; relative URLs go to the live server."""
    if settings.SECURE_SSL_REDIRECT:
        pytest.fail("The live server speaks plain HTTP: run browser tests with SECURE_SSL_REDIRECT=0 (make test does).")
    context = chromium_browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    failed = request.node.stash.get(_call_failed, False)
    try:
        save_screenshot(page, f"{request.node.name}{'-FAILED' if failed else ''}")
    except Exception:  # the screenshot is a diagnostic, never the failure
        pass
    context.close()


@pytest.fixture
def admin_page(browser_page, django_user_model, settings):
    """``browser_page`` logged into the admin as a fresh superuser (username ``browser-admin``)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins
    django_user_model.objects.create_superuser("browser-admin", "browser-admin@example.com", ADMIN_PASSWORD)
    log_into_admin(browser_page, "browser-admin", ADMIN_PASSWORD)
    return browser_page


@pytest.fixture
def screenshot():
    """``screenshot(page, name)`` saves ``test-artifacts/<name>.png`` and returns its path."""
    return save_screenshot


@pytest.fixture
def admin_login():
    """``admin_login(page, username, password)`` logs in through the admin login form."""
    return log_into_admin
