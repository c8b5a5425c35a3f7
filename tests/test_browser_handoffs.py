"""End to end in a real browser: the onboarding lead opens a sent handoff, reads the context package and
sends it back with a reason; the deal owner's manager sees the reason on the deal's Why page; the CRM
brings better context, the deal side sends it again and the onboarding lead accepts it."""

import pytest

from exceptions import roles
from exceptions.models import Queue
from handoffs.models import Checklist, Handoff
from handoffs.services import checklist_save
from revops.dictionary_defaults import load_default_dictionary
from revops.models import FieldDefinition
from revops.sync import sync_batch_apply
from tests.factories import RepFactory, TeamFactory, UserFactory

pytest_plugins = ["tests.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"  # UserFactory's

DEAL = {
    "external_id": "O-77",
    "name": "Acme - Platform",
    "stage": "closed_won",
    "owner": "R-SAM",
    "amount": "80000",
    "contract_start_date": "2026-04-01",
    "use_case": "Route inbound leads",
    "success_criteria": "Faster",
    "source_updated_at": "2026-03-01T10:00:00Z",
}


def login(page, username):
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/**")


def logout(page):
    page.context.clear_cookies()


def test_reject_with_a_reason_then_accept_after_the_crm_fixes_it(browser_page, screenshot):
    load_default_dictionary(FieldDefinition)
    roles.ensure_roles()
    mia = UserFactory(username="mia")
    roles.assign_role(mia, roles.MANAGER)
    east = TeamFactory(name="East", manager=RepFactory(name="Mia Manager", user=mia))
    Queue.objects.create(name="East triage", team=east)
    RepFactory(name="Sam Seller", team=east, external_id="R-SAM")
    cora = UserFactory(username="cora", first_name="Cora", last_name="Lead")
    roles.assign_role(cora, roles.REP)
    onboarding = TeamFactory(name="Onboarding")
    csm = RepFactory(name="Cora Lead", team=onboarding, external_id="R-CORA", user=cora)
    checklist_save(
        checklist=Checklist(
            name="Sales → Onboarding",
            required_fields=[{"field": "contract_start_date"}, {"field": "use_case"}, {"field": "success_criteria"}],
            tasks=[{"title": "Onboarding kickoff", "due_in_days": 3}],
            receiving_team=onboarding,
            owner_rule=Checklist.OwnerRule.REP,
            owner_rep=csm,
        ),
        actor=mia,
    )
    sync_batch_apply(object_name="opportunities", records=[DEAL], actor=mia)
    handoff = Handoff.objects.get()
    assert handoff.status == Handoff.Status.SENT
    page = browser_page

    # The onboarding lead opens the handoff from their list and reads the context package.
    login(page, "cora")
    page.goto("/admin/handoffs/handoff/")
    page.click("text=Acme - Platform")
    package = page.locator("#rv-handoff-package")
    assert "Route inbound leads" in package.inner_text() and "Faster" in package.inner_text()
    screenshot(page, "handoff-context-package")
    page.select_option("#rv-reason", "context_vague")
    page.fill("#rv-note", "Success criteria say only 'faster': faster than what?")
    page.click("button[data-action=reject]")
    page.wait_for_selector("text=Sent back with your reason")
    handoff.refresh_from_db()
    assert handoff.status == Handoff.Status.REJECTED

    # The deal owner's manager sees why on the deal.
    logout(page)
    login(page, "mia")
    page.goto(f"/admin/revops/opportunity/{handoff.opportunity_id}/why/")
    panel = page.locator(".rv-panel-handoffs")
    assert "Rejected" in panel.inner_text() and "faster than what?" in panel.inner_text()
    screenshot(page, "handoff-rejected-on-the-deal")

    # The CRM brings measurable success criteria; the deal side sends it again.
    sync_batch_apply(
        object_name="opportunities",
        records=[
            {
                **DEAL,
                "success_criteria": "Median speed-to-lead under 5 minutes by day 30.",
                "source_updated_at": "2026-03-02T10:00:00Z",
            }
        ],
        actor=mia,
    )
    page.goto(f"/admin/handoffs/handoff/{handoff.pk}/change/")
    page.click("button[data-action=resend]")
    page.wait_for_selector("text=Sent again")

    # The onboarding lead accepts it.
    logout(page)
    login(page, "cora")
    page.goto(f"/admin/handoffs/handoff/{handoff.pk}/change/")
    assert "under 5 minutes" in page.locator("#rv-handoff-package").inner_text()
    page.click("button[data-action=accept]")
    page.wait_for_selector("text=Accepted")
    handoff.refresh_from_db()
    assert handoff.status == Handoff.Status.ACCEPTED
    screenshot(page, "handoff-accepted")
