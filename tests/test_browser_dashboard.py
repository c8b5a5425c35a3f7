"""In a real browser over the demo org: the RevOps dashboard draws every chart from the portal's
own assets, with no request leaving the machine, and a chart's CSV holds the API's numbers."""

import csv
import io
import re
from urllib.parse import urlparse

import pytest

from revops.demo import demo_load
from revops.metrics.registry import metrics

pytest_plugins = ["tests.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LOCAL_HOSTS = {"localhost", "127.0.0.1"}
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""
PASSWORD = "dashboard-Pa55word!"


def test_dashboard_draws_every_chart_offline_and_its_csv_matches_the_api(
    chromium_browser, live_server, settings, django_user_model, screenshot
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    assert demo_load(seed=42).created
    django_user_model.objects.create_superuser("rita.revops", "rita@example.com", PASSWORD)

    context = chromium_browser.new_context(
        base_url=live_server.url, viewport={"width": 1440, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(20_000)
    left_machine, requested = [], []

    def only_local(route):
        url = route.request.url
        requested.append(url)
        if url.startswith(("data:", "blob:")) or urlparse(url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            left_machine.append(url)
            route.abort()

    context.route("**/*", only_local)
    context.add_init_script(RECORD_VIOLATIONS)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto("/admin/login/?next=/admin/")
        page.fill("#id_username", "rita.revops")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url(re.compile(r".*/admin/dashboard/$"))  # a RevOps admin lands on the dashboard

        cards = page.locator(".rv-dash-card")
        assert cards.count() == len(metrics()) >= 19
        empty = page.locator(".rv-dash-card .rv-dash-empty").all_inner_texts()
        assert not empty, "every chart has demo data"
        page.wait_for_function(
            "document.querySelectorAll('.rv-dash-card[data-drawn=true]').length === document.querySelectorAll('.rv-dash-card').length"
        )
        drawn = page.evaluate(
            "Array.from(document.querySelectorAll('.rv-dash-card canvas')).filter(c => Chart.getChart(c)).length"
        )
        assert drawn == cards.count()
        assert not left_machine, left_machine
        assert any("/static/revops/vendor/chartjs/chart.umd.min.js" in url for url in requested)
        assert not errors, errors
        assert page.evaluate("window.__csp") == []  # the page and Chart.js run under the portal's CSP
        width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert width[0] <= width[1], width

        card = page.locator("#metric-sla_met")
        assert not card.locator("table").is_visible()
        card.locator("summary").click()  # the numbers, one click away
        assert card.locator("table").is_visible()
        assert card.locator("tbody tr").count() >= 2
        screenshot(page, "dashboard-1440")

        with page.expect_download() as download:
            card.locator("a.rv-dash-csv").click()
        with open(download.value.path(), encoding="utf-8") as handle:
            rows = list(csv.reader(io.StringIO(handle.read())))
        href = card.locator("a.rv-dash-csv").get_attribute("href")
        api = context.request.get(f"/api/v1/metrics/?metric=sla_met&{href.split('?', 1)[1]}").json()
        expected = [
            [
                p["day"],
                s["name"],
                *("" if p[k] is None else str(float(p[k])) for k in ("value", "numerator", "denominator")),
            ]
            for s in api["metrics"][0]["series"]
            for p in s["points"]
        ]
        assert rows[0] == ["day", "series", "value", "numerator", "denominator"]
        assert rows[1:] == expected
        assert any(row[2] for row in rows[1:])  # the demo met some clocks: real numbers, not blanks
        assert not left_machine, left_machine
    finally:
        context.close()
