"""End to end in a real browser: RevOps reads an automation in plain language and a lead's why view."""

import pytest
from django.urls import reverse

from revops.dictionary_defaults import load_default_dictionary
from revops.models import FieldDefinition
from tests.factories import LeadFactory
from tests.revops.automation_support import explanation_for, make_automation, make_run

pytest_plugins = ["tests.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_automation_plain_language_and_lead_why_view(admin_page, screenshot):
    load_default_dictionary(FieldDefinition)  # emptied by the flush after an earlier transactional test
    automation = make_automation()
    lead = LeadFactory(first_name="Ada", last_name="Lovelace", country="US", score=80)
    make_run(
        automation,
        lead,
        key="event:1",
        explanation=explanation_for(country="US", score=80),
        actions=[("update_field", "applied", {"key": "status", "value": "new"}, {"key": "status", "value": "working"})],
    )
    page = admin_page

    page.goto(reverse("admin:revops_automation_changelist"))
    page.click("text=Hot lead follow-up")
    page.wait_for_url(f"**{reverse('admin:revops_automation_change', args=[automation.pk])}")
    assert "Country is one of US, CA and Lead score ≥ 50" in page.locator(".rv-plain").inner_text()
    assert "it has no failure owner" in page.content()
    screenshot(page, "automation-change")

    page.goto(reverse("admin:revops_lead_change", args=[lead.pk]))
    page.click("text=Why? Automation runs (1)")
    page.wait_for_url(f"**{reverse('admin:revops_lead_why', args=[lead.pk])}")
    card = page.locator("article.rv-run").first
    text = card.inner_text()
    assert "Hot lead follow-up" in text
    assert "Country is one of US, CA (actual: US)" in text
    assert "Lead score ≥ 50 (actual: 80)" in text
    assert "The owner calls the lead within 1 hour." in text
    screenshot(page, "lead-why-view")
