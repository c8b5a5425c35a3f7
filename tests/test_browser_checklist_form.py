"""In a real browser, a RevOps admin edits a handoff checklist with rows, not JSON: adds a required field
and a task with the page's script, saves, and the page raises no Content-Security-Policy violation."""

import pytest

from exceptions import roles
from handoffs.models import Checklist
from handoffs.services import checklist_save
from revops.dictionary_defaults import load_default_dictionary
from revops.models import FieldDefinition
from tests.factories import UserFactory
from tests.test_browser_csp import RECORD_VIOLATIONS

pytest_plugins = ["tests.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"  # UserFactory's


def test_a_revops_admin_adds_a_required_field_and_a_task(browser_page, admin_login, screenshot):
    load_default_dictionary(FieldDefinition)  # emptied by the flush after an earlier transactional test
    roles.ensure_roles()
    ops = UserFactory(username="ops")
    roles.assign_role(ops, roles.ADMIN)
    checklist = checklist_save(
        checklist=Checklist(name="Sales → Onboarding", required_fields=[{"field": "use_case"}]), actor=ops
    )
    page = browser_page
    problems = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text) if msg.type == "error" and "Content Security Policy" in msg.text else None
        ),
    )
    page.context.add_init_script(RECORD_VIOLATIONS)
    admin_login(page, "ops", PASSWORD)
    page.set_viewport_size({"width": 1440, "height": 1000})
    page.goto(f"/admin/handoffs/checklist/{checklist.pk}/change/")

    required = page.locator("#rv-rows-required_fields")
    required.get_by_role("button", name="Add a required field").click()  # the script shows and runs it
    row = required.locator("tbody.rv-row").nth(2)  # the stored row, the blank one, the new one
    # Only deal fields are offered for a deal checklist: the account's own fields are hidden.
    account_option = row.locator("select[name='required_fields-2-field'] option[data-object='account']").first
    assert account_option.evaluate("option => option.hidden")
    row.locator("select[name='required_fields-2-field']").select_option("billing_contact")
    row.locator("select[name='required_fields-2-when_field']").select_option("opportunity.amount")
    row.locator("select[name='required_fields-2-when_op']").select_option("gte")
    row.locator("input[name='required_fields-2-when_value']").fill("50000")

    tasks = page.locator("#rv-rows-tasks")
    tasks.get_by_role("button", name="Add a task").click()
    tasks.locator("input[name='tasks-1-title']").fill("Onboarding kickoff")
    tasks.locator("input[name='tasks-1-due_in_days']").fill("3")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1440, f"the page is {width} px wide"
    for editor in ("#rv-rows-required_fields", "#rv-rows-tasks"):  # no row scrolls sideways either
        assert page.eval_on_selector(editor, "div => div.scrollWidth <= div.clientWidth"), editor
    screenshot(page, "checklist-rows")
    violations = page.evaluate("window.__csp || []")
    assert not violations and not problems, violations + problems
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/handoffs/checklist/")

    checklist.refresh_from_db()
    assert checklist.required_fields == [
        {"field": "use_case"},
        {"field": "billing_contact", "when": {"all": [{"field": "opportunity.amount", "op": "gte", "value": "50000"}]}},
    ]
    assert checklist.tasks == [{"title": "Onboarding kickoff", "due_in_days": 3}]
    violations = page.evaluate("window.__csp || []")
    assert not violations and not problems, violations + problems
