"""End to end in a real browser: a manager works the exception queue; another team's manager cannot see it."""

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from exceptions import roles
from exceptions.models import ExceptionItem
from tests.exceptions.support import make_queue, open_item
from tests.factories import LeadFactory, UserFactory
from tests.revops.automation_support import explanation_for, make_automation, make_run

pytest_plugins = ["tests.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"  # UserFactory's


def manager(username):
    user = UserFactory(username=username)
    roles.assign_role(user, roles.MANAGER)
    return user


def login(page, username):
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def test_manager_takes_next_item_reads_why_and_resolves_it(browser_page, screenshot):
    na, emea = manager("manager.na"), manager("manager.emea")
    queue = make_queue("NA Sales ops", manager=na)
    make_queue("EMEA Sales ops", manager=emea)
    lead = LeadFactory(first_name="Ada", last_name="Lovelace", country="US", score=80)
    automation = make_automation(name="NA inbound routing")
    run = make_run(automation, lead, key="event:1", explanation=explanation_for(country="US", score=80))
    now = timezone.now()
    item = open_item(
        "browser-1",
        kind="no_routing_match",
        severity="high",
        queue=queue,
        due_at=now - dt.timedelta(hours=3),
        automation=automation,
        run=run,
        object_type="lead",
        object_id=lead.pk,
        external_id=lead.external_id,
        title="No routing rule matched Ada Lovelace",
        reason="Lead from US with score 80 matched none of the NA routing rules.",
        expected_action="Pick the owner by hand, or add the company size so routing can run again.",
    )
    open_item("browser-2", queue=queue, due_at=now + dt.timedelta(hours=6), title="Lead missing its phone")
    page = browser_page

    login(page, "manager.na")
    page.wait_for_url(re.compile(r".*/admin/exceptions/exceptionitem/$"))  # lands on the triage view
    counts = page.locator("#rv-queue-counts").inner_text()
    assert "NA Sales ops" in counts and "EMEA" not in counts
    assert "No routing rule matched Ada Lovelace" in page.locator("#result_list").inner_text()
    screenshot(page, "triage-changelist")

    page.click("#rv-next-item")
    page.wait_for_url(f"**{reverse('admin:exceptions_exceptionitem_change', args=[item.pk])}")
    assert "Claimed" in page.locator(".messagelist").inner_text()
    assert "matched none of the NA routing rules" in page.locator("#rv-item-reason").inner_text()
    assert "Pick the owner by hand" in page.locator("#rv-item-expected").inner_text()
    why = page.locator("#rv-item-explanation").inner_text()
    assert "NA inbound routing" in why and "Country is one of US, CA (actual: US)" in why
    screenshot(page, "triage-item")

    page.click("[data-action=resolve]")
    page.select_option("#id_reason_code", "data_corrected")
    page.fill("#id_note", "Added the employee count; routed to the NA MM pool.")
    screenshot(page, "triage-resolve-form")
    page.click("input[name=_confirm]")
    page.wait_for_url(f"**{reverse('admin:exceptions_exceptionitem_change', args=[item.pk])}")
    assert "resolved" in page.locator(".messagelist").inner_text()
    assert "Resolved" in page.locator("#rv-item-status").inner_text()
    item.refresh_from_db()
    assert item.status == ExceptionItem.Status.RESOLVED and item.resolution_code == "data_corrected"
    assert item.resolved_by == na
    screenshot(page, "triage-item-resolved")

    # A manager of another team neither sees the item in the list nor opens it.
    page.context.clear_cookies()
    login(page, "manager.emea")
    page.wait_for_url(re.compile(r".*/admin/exceptions/exceptionitem/$"))
    page.goto("/admin/exceptions/exceptionitem/?state=all")
    assert "Ada Lovelace" not in page.content()
    response = page.goto(reverse("admin:exceptions_exceptionitem_change", args=[item.pk]))
    assert response.status == 404
    screenshot(page, "triage-other-team-404")
