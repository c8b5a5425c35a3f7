"""End to end in a real browser: a RevOps admin opens a routing rule's versions, compares two, restores the previous one."""

import pytest
from django.urls import reverse

from exceptions.roles import ADMIN, assign_role
from revops.versions import versions_of
from routing.models import RoutingRule
from routing.services import routing_rule_save
from tests.factories import RepFactory, UserFactory

pytest_plugins = ["tests.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "versions-Browser-Pa55!"
US = {"all": [{"field": "lead.country", "op": "in", "value": ["US", "CA"]}]}
DE = {"all": [{"field": "lead.country", "op": "eq", "value": "DE"}]}


def test_revops_admin_compares_two_versions_and_restores_the_previous_one(
    browser_page, admin_login, screenshot, settings
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = UserFactory(username="rita.revops", first_name="Rita", last_name="Reyes")
    user.set_password(PASSWORD)
    user.save()
    assign_role(user, ADMIN)
    lena, max_ = RepFactory(name="Lena Vogel"), RepFactory(name="Max Fern")
    rule = routing_rule_save(
        rule=RoutingRule(name="North America", conditions=US, target_type="rep", target_rep=lena, status="live"),
        actor=user,
        reason="North America to Lena",
    )
    rule.conditions, rule.target_rep = DE, max_
    routing_rule_save(rule=rule, actor=user, reason="Germany to Max (by mistake)")
    assert rule.version == 2

    page = browser_page
    admin_login(page, "rita.revops", PASSWORD)
    page.goto(reverse("admin:routing_routingrule_change", args=[rule.pk]))
    page.click("a.rv-versions-link")
    page.wait_for_url(f"**{reverse('admin:routing_routingrule_versions', args=[rule.pk])}")
    assert "Current version: 2" in page.inner_text("#content")

    # Compare version 1 with version 2, in words.
    page.select_option("#rv-compare-a", "1")
    page.select_option("#rv-compare-b", "2")
    page.click(".rv-compare button")
    diff = page.inner_text("table.rv-diff")
    assert "Country is one of US, CA" in diff and "Country is DE" in diff
    assert "Lena Vogel" in diff and "Max Fern" in diff
    assert "Changed: Conditions, Target rep." in page.inner_text(".rv-diff-summary")
    screenshot(page, "versions-compare")

    # Restore version 1: a new version 3, with the reason.
    row = page.locator("#version-1")
    row.locator("input[name=reason]").fill("Germany went to the wrong rule")
    row.locator("button", has_text="Restore this version").click()
    page.wait_for_selector(".messagelist")
    assert "Version 1 restored as version 3" in page.inner_text(".messagelist")
    assert "restores version 1" in page.inner_text("#version-3")
    screenshot(page, "versions-restored")

    rule.refresh_from_db()
    assert rule.version == 3 and rule.conditions == US and rule.target_rep == lena
    latest = versions_of(rule).first()
    assert latest.created_by == user and latest.restored_from == 1
    assert "Germany went to the wrong rule" in latest.reason
