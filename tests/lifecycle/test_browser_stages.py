"""In a real browser: a rep logs in, opens the MQLs waiting for them, accepts one and rejects another
with a reason and a note; the lead's Why page tells the stage history in words, and marketing's
rejection report lists the rejection with its reason, filtered by team."""

import pytest
from django.urls import reverse

from exceptions import roles
from lifecycle.models import LeadStage
from lifecycle.stage_services import lead_stages_evaluate
from revops.dictionary_defaults import load_default_dictionary
from revops.models import FieldDefinition
from tests.factories import LeadFactory, RepFactory, TeamFactory, UserFactory

from .stage_support import funnel

pytest_plugins = ["tests.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "correct horse battery staple"  # UserFactory's


def test_a_rep_accepts_one_mql_and_rejects_another_and_the_report_shows_it(browser_page, admin_login, screenshot):
    load_default_dictionary(FieldDefinition)  # emptied by the flush after an earlier transactional test
    roles.ensure_roles()
    funnel()
    team = TeamFactory(name="NA Mid-Market")
    ria_user = UserFactory(username="ria", first_name="Ria", last_name="Rep", is_staff=True)
    roles.assign_role(ria_user, roles.REP)
    ria = RepFactory(name="Ria Rep", team=team, user=ria_user)
    other = RepFactory(name="Olaf Other", team=TeamFactory(name="EMEA"))
    keep = LeadFactory(score=80, owner=ria, company="Keepco", first_name="Kim", last_name="Keep")
    drop = LeadFactory(score=75, owner=ria, company="Dropco", first_name="Dan", last_name="Drop")
    theirs = LeadFactory(score=90, owner=other, company="Otherco")
    lead_stages_evaluate(lead_ids=[keep.pk, drop.pk, theirs.pk])
    page = browser_page

    admin_login(page, "ria", PASSWORD)
    page.goto(reverse("admin:lifecycle_waitinglead_changelist"))
    table = page.locator("#rv-waiting")
    assert "Keepco" in table.inner_text() and "Dropco" in table.inner_text()
    assert "Otherco" not in table.inner_text()  # another rep's MQL is not shown
    screenshot(page, "lifecycle-waiting-mqls")

    page.locator(f"tr[data-lead='{keep.external_id}'] button[data-action=accept]").click()
    page.wait_for_selector("text=Accepted:")
    row = page.locator(f"tr[data-lead='{drop.external_id}']")
    row.locator("select[name=reason_code]").select_option("existing_opportunity")
    row.locator("input[name=note]").fill("Their account has an open deal with us.")
    row.locator("button[data-action=reject]").click()
    page.wait_for_selector("text=Rejected:")
    assert "No MQL waits for your answer." in page.inner_text("#content-main")
    assert [LeadStage.objects.get(lead=lead).stage.key for lead in (keep, drop, theirs)] == ["sal", "recycled", "mql"]

    page.context.clear_cookies()
    marketing = UserFactory(username="marketing", is_staff=True)
    roles.assign_role(marketing, roles.ADMIN)
    admin_login(page, "marketing", PASSWORD)
    page.goto(reverse("admin:lifecycle_rejection_changelist"))
    page.click("#changelist-filter >> text=NA Mid-Market")
    report = page.inner_text("#result_list")
    assert "Dropco" in report and "Existing opportunity" in report
    assert "Their account has an open deal with us." in report and "Ria Rep" in report
    screenshot(page, "lifecycle-rejection-report")

    page.click("#result_list >> text=Dropco")  # the lead's Why page: its stage history in words
    history = page.inner_text("#rv-lifecycle-stage")
    assert "Recycled" in history and "Rejected by Ria Rep in the portal: Existing opportunity" in history
