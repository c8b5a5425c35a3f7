"""End to end in a real browser at 1440 × 900: a manager works five items with "Next item" and the row
macros without leaving the queue; another team's manager cannot see them."""

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
CHANGELIST = "/admin/exceptions/exceptionitem/"


def manager(username, first_name, last_name):
    user = UserFactory(username=username, first_name=first_name, last_name=last_name)
    roles.assign_role(user, roles.MANAGER)
    return user


def login(page, username):
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")


def item_url(item):
    return reverse("admin:exceptions_exceptionitem_change", args=[item.pk])


def test_manager_works_five_items_with_next_item_and_row_macros(browser_page, screenshot):
    na = manager("manager.na", "Nadia", "Ames")
    manager("manager.emea", "Emil", "Berg")
    director = UserFactory(username="director.na", first_name="Dora", last_name="Lind")
    queue = make_queue("NA Sales ops", manager=na, target=director)
    make_queue("EMEA Sales ops", manager=UserFactory(username="manager.emea"))
    lead = LeadFactory(first_name="Ada", last_name="Lovelace", country="US", score=80)
    automation = make_automation(name="NA inbound routing")
    run = make_run(automation, lead, key="event:1", explanation=explanation_for(country="US", score=80))
    now = timezone.now()

    def item(key, severity, due, **fields):
        fields.setdefault("title", f"Lead {key} needs a look")
        return open_item(key, queue=queue, severity=severity, due_at=now + due, **fields)

    # The most urgent: an escalated critical SLA breach (overdue), then overdue by severity, then not yet due.
    breach = item(
        "breach",
        "critical",
        -dt.timedelta(minutes=3487),
        kind="no_routing_match",
        automation=automation,
        run=run,
        object_type="lead",
        object_id=lead.pk,
        external_id=lead.external_id,
        title="No routing rule matched Ada Lovelace",
        reason="Lead from US with score 80 matched none of the NA routing rules.",
        expected_action="Pick the owner by hand, or add the company size so routing can run again.",
    )
    ExceptionItem.objects.filter(pk=breach.pk).update(status="escalated", escalation_level=1)
    overdue_high = item("overdue-high", "high", -dt.timedelta(hours=2))
    overdue_low = item("overdue-low", "low", -dt.timedelta(days=3))
    soon_critical = item("soon-critical", "critical", dt.timedelta(hours=1))
    later_high = item("later-high", "high", dt.timedelta(hours=20))
    fillers = [item(f"filler-{n}", "medium", dt.timedelta(days=2, hours=n)) for n in range(12)]
    page = browser_page
    page.set_viewport_size({"width": 1440, "height": 900})

    login(page, "manager.na")
    page.wait_for_url(re.compile(r".*/admin/exceptions/exceptionitem/$"))  # lands on the triage view
    counts = page.locator("#rv-queue-counts").inner_text()
    assert "NA Sales ops" in counts and "EMEA" not in counts
    rows = page.locator("#result_list tbody tr")
    visible = [
        box for box in (rows.nth(i).bounding_box() for i in range(rows.count())) if box["y"] + box["height"] <= 900
    ]
    assert len(visible) >= 12, f"only {len(visible)} rows fit on a 1440 × 900 screen"
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    table = page.locator("#result_list").inner_text()
    assert "No routing match" in table and "no_routing_match" not in table  # labels, not codes
    assert "2 days overdue" in table and "minutes overdue" not in table  # human units
    assert "Nadia Ames" in table  # people by name
    assert "matched none of the NA routing rules" in table and "Pick the owner by hand" in table
    assert "No routing rule matched Ada Lovelace" in rows.first.inner_text()  # the most urgent first
    screenshot(page, "triage-changelist-1440x900")

    # 1. Next item serves the escalated overdue critical breach first; resolving it opens the next one.
    page.click("#rv-next-item")
    page.wait_for_url(f"**{item_url(breach)}?triage=next")
    assert "matched none of the NA routing rules" in page.locator("#rv-item-reason").inner_text()
    assert "Pick the owner by hand" in page.locator("#rv-item-expected").inner_text()
    page.click("[data-action=resolve]")
    page.select_option("#id_reason_code", "data_corrected")
    page.fill("#id_note", "Added the employee count; routed to the NA MM pool.")
    page.click("input[name=_confirm]")

    # 2. The next most urgent (overdue, high) opened by itself; dismiss it.
    page.wait_for_url(f"**{item_url(overdue_high)}?triage=next")
    assert "resolved" in page.locator(".messagelist").inner_text()
    page.click("[data-action=dismiss]")
    page.fill("#id_reason", "Duplicate of the breach, already handled.")
    page.click("input[name=_confirm]")

    # 3. Overdue low comes before anything not yet due; escalating asks for a reason and skips me.
    page.wait_for_url(f"**{item_url(overdue_low)}?triage=next")
    page.click("[data-action=escalate]")
    assert page.locator("#id_reason").get_attribute("required") is not None
    page.fill("#id_reason", "Needs the director's call on the territory.")
    page.click("input[name=_confirm]")

    # 4. Not yet due: critical first; snooze it for a day.
    page.wait_for_url(f"**{item_url(soon_critical)}?triage=next")
    page.click("[data-action=snooze]")
    page.fill("#id_until", (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    page.click("input[name=_confirm]")
    page.wait_for_url(f"**{item_url(later_high)}?triage=next")
    screenshot(page, "triage-next-item")

    # 5. Back in the list, one-click row macros: resolve one as fixed in the CRM, snooze another.
    page.click("text=Back to the queue")
    page.wait_for_url(re.compile(r".*/admin/exceptions/exceptionitem/$"))
    target_row = page.locator("#result_list tbody tr", has_text=fillers[0].title)
    target_row.locator("[data-macro=fixed_in_crm]").click()
    page.wait_for_url(re.compile(r".*/admin/exceptions/exceptionitem/$"))
    assert "Resolve: fixed in the CRM" in page.locator(".messagelist").inner_text()
    assert fillers[0].title not in page.locator("#result_list").inner_text()
    page.locator("#result_list tbody tr", has_text=fillers[1].title).locator("[data-macro=snooze_day]").click()
    page.wait_for_url(re.compile(r".*/admin/exceptions/exceptionitem/$"))
    assert fillers[1].title not in page.locator("#result_list").inner_text()  # snoozed: out of the open view
    page.goto(f"{CHANGELIST}?state=snoozed")
    snoozed = page.locator("#result_list").inner_text()
    assert fillers[1].title in snoozed and soon_critical.title in snoozed
    screenshot(page, "triage-snoozed-view")

    states = {i.pk: (i.status, i.resolution_code) for i in ExceptionItem.objects.all()}
    assert states[breach.pk] == ("resolved", "data_corrected")
    assert states[overdue_high.pk][0] == "dismissed"
    assert states[soon_critical.pk][0] == "snoozed" and states[fillers[1].pk][0] == "snoozed"
    assert states[fillers[0].pk] == ("resolved", "fixed_in_crm")
    escalated = ExceptionItem.objects.get(pk=overdue_low.pk)
    assert escalated.status == "escalated" and escalated.owner == director  # never back to the manager

    # A manager of another team neither sees the items in the list nor opens one.
    page.context.clear_cookies()
    login(page, "manager.emea")
    page.wait_for_url(re.compile(r".*/admin/exceptions/exceptionitem/$"))
    page.goto(f"{CHANGELIST}?state=all")
    assert "Ada Lovelace" not in page.content()
    assert page.goto(item_url(breach)).status == 404
