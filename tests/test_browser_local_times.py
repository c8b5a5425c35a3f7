"""In a real browser: pages show times in the browser's time zone, named, after the portal learns it."""

import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from exceptions.models import ExceptionItem

pytest_plugins = ["tests.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "local-Times-Pa55word!"


def test_an_item_is_due_in_the_readers_local_time(chromium_browser, live_server, settings, admin_login):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    get_user_model().objects.create_superuser("ny.admin", "ny@example.com", PASSWORD)
    item = ExceptionItem.objects.create(
        kind="missing_data",
        title="Fill in the country",
        reason="Routing needs a country.",
        expected_action="Fill in the country in the CRM.",
        dedupe_key="local-times",
        due_at=dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC),
    )
    for zone, expected in (("America/New_York", "1 Dec 2026, 10:00 EST"), ("Europe/Berlin", "1 Dec 2026, 16:00 CET")):
        context = chromium_browser.new_context(base_url=live_server.url, timezone_id=zone)
        page = context.new_page()
        admin_login(page, "ny.admin", PASSWORD)  # the login page tells the portal the browser's zone
        page.goto(f"/admin/exceptions/exceptionitem/{item.pk}/change/")
        assert expected in page.inner_text("#content")
        assert "15:00 UTC" not in page.inner_text("#content")
        context.close()
