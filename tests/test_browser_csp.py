"""In a real browser, every kind of portal page works under the Content-Security-Policy.

Chromium reports each blocked script, style or image as a ``securitypolicyviolation`` event and a
console error; one of either on the admin index, a change list, a change form with a condition
editor, the triage view, an item, the Why page, the RQ dashboard, the API docs or the login page
fails the test.
"""

import re

import django_rq
import pytest
from django.urls import reverse

from revops.dictionary_defaults import load_default_dictionary
from revops.models import FieldDefinition
from tests.exceptions.support import make_queue, open_item
from tests.factories import LeadFactory
from tests.revops.automation_support import explanation_for, make_automation, make_run

pytest_plugins = ["tests.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Runs in every page before its own scripts (Playwright injects it outside the page's CSP).
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


def csp_directives(header: str) -> dict[str, list[str]]:
    parts = (part.strip().split() for part in header.split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


@pytest.fixture
def watched(admin_page):
    """The admin page with CSP violations and console errors collected in ``page.problems``."""
    page = admin_page
    problems = []
    page.on(
        "console",
        lambda msg: (
            problems.append(f"console: {msg.text}")
            if msg.type == "error" and "Content Security Policy" in msg.text
            else None
        ),
    )
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.context.add_init_script(RECORD_VIOLATIONS)
    page.problems = problems
    return page


def visit(page, url, ready=None):
    response = page.goto(url)
    assert response.status == 200, f"{url}: {response.status}"
    header = response.headers.get("content-security-policy", "")
    directives = csp_directives(header)
    assert "'unsafe-inline'" not in directives.get("script-src", []), header
    assert "'self'" in directives.get("script-src", []), f"{url} has no CSP: {header!r}"
    if ready:
        page.wait_for_selector(ready)
    page.wait_for_load_state("networkidle")
    violations = page.evaluate("window.__csp || []")
    assert not violations and not page.problems, f"{url}: {violations + page.problems}"


def test_portal_pages_work_under_the_content_security_policy(watched, screenshot):
    load_default_dictionary(FieldDefinition)  # emptied by the flush after an earlier transactional test
    page = watched
    automation = make_automation()
    lead = LeadFactory(first_name="Ada", last_name="Lovelace", country="US", score=80)
    run = make_run(automation, lead, key="event:1", explanation=explanation_for(country="US", score=80))
    queue = make_queue("NA Sales ops")
    item = open_item("csp-1", queue=queue, automation=automation, run=run, object_type="lead", object_id=lead.pk)

    visit(page, "/admin/", "#content-main")
    visit(page, reverse("admin:revops_lead_changelist"), "#result_list")
    # The condition builder's script runs and draws the builder over the conditions' JSON.
    visit(page, reverse("admin:revops_automation_change", args=[automation.pk]), ".rv-cb-root")
    # The admin's own scripts still run: the "Save" buttons and the collapsible fieldsets are there.
    assert page.locator("input[name=_save]").count() == 1
    screenshot(page, "csp-automation-change")
    visit(page, reverse("admin:exceptions_exceptionitem_changelist"), "#result_list")
    visit(page, reverse("admin:exceptions_exceptionitem_change", args=[item.pk]), "#rv-item-reason")
    visit(page, reverse("admin:revops_lead_why", args=[lead.pk]), "article.rv-run")
    # The condition rows keep their indentation (a class now, no style attribute).
    assert page.locator("article.rv-run .rv-explain li").count() >= 2

    # The RQ dashboard (RevOps admins only): its list pages lost their inline start-up script, and a
    # queue with a job in it draws its list without a script error (django-rq has no selection counter).
    job = django_rq.get_queue("default").enqueue("revops.jobs.noop_for_tests_that_never_runs")  # queue 0
    visit(page, "/admin/rq/", "#content-main")
    visit(page, "/admin/rq/queues/0/", "#content-main")
    assert page.locator("tr input.action-select").count() >= 1
    visit(page, "/admin/rq/queues/0/finished/", "#content-main")
    visit(page, "/admin/rq/queues/0/empty/", "#content-main")  # a confirmation page (GET only shows it)
    job.delete()

    # Swagger UI renders the schema: its start-up script is a file, not an inline script.
    visit(page, "/api/v1/docs/", ".swagger-ui .information-container")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    assert re.search(r"RevOps portal API", page.locator(".swagger-ui .info").inner_text())
    screenshot(page, "csp-api-docs")

    page.context.clear_cookies()
    visit(page, "/admin/login/", "#id_username")
