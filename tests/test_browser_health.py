"""In a real browser over the demo org: the RevOps admin opens the automation health review from
the dashboard, finds the suggestion the demo's own activity produced (most of the router's alerts
ignored), and opens that automation's health page."""

import re

import pytest

from exceptions.models import ExceptionItem
from revops.demo import demo_load
from revops.engine.health_review import ITEM_KIND

pytest_plugins = ["tests.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "health-Pa55word!"


def test_the_health_review_lists_the_demo_suggestion_and_opens_a_health_page(
    chromium_browser, live_server, settings, django_user_model, screenshot
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    assert demo_load(seed=42).created
    suggestion = ExceptionItem.objects.get(kind=ITEM_KIND, automation__name="Lead routing")
    assert suggestion.dedupe_key.endswith(":ignored")  # made by the review from the demo's dismissals
    django_user_model.objects.create_superuser("rita.revops", "rita@example.com", PASSWORD)

    context = chromium_browser.new_context(base_url=live_server.url, viewport={"width": 1440, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto("/admin/login/?next=/admin/dashboard/")
        page.fill("#id_username", "rita.revops")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(re.compile(r".*/admin/dashboard/$"))
        page.click("#rv-health-review-link")
        page.wait_for_url(re.compile(r".*/admin/revops/automation/health-review/$"))

        row = page.locator("#rv-health-review tr[data-automation='Lead routing']")
        assert row.locator(".rv-health-status").inner_text() == "Review"
        assert "Most of its alerts are ignored" in row.inner_text()
        assert suggestion.title in row.inner_text()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1440, f"the review fits 1440 px (is {width})"
        screenshot(page, "health_review")

        row.locator("a", has_text="Lead routing").first.click()
        page.wait_for_url(re.compile(r".*/admin/revops/automation/\d+/health/\?days=30$"))
        assert page.locator("h2 .rv-health-status").inner_text() == "Review"
        stats = page.locator(".rv-stat").all_inner_texts()
        assert any(text.endswith("Alerts ignored") for text in stats)
        assert suggestion.title in page.locator("#content-main").inner_text()
        page.select_option("select[name=days]", "7")
        page.click("text=Show")
        page.wait_for_url(re.compile(r".*/health/\?days=7$"))
        screenshot(page, "automation_health")
        assert errors == []
    finally:
        context.close()
