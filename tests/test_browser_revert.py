"""End to end in a real browser: a RevOps admin reverts an hour of one routing rule's decisions after
reading the plan, and sees the lead's owner restored with the revert on its Why page."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from exceptions.models import Queue
from exceptions.roles import ADMIN, assign_role
from revops.engine.pipeline import engine_process_events
from revops.engine.services import automation_create
from revops.models import ApiToken, Lead, OutboxEvent, RunRevertBatch
from revops.sync import sync_batch_apply
from revops.tokens import api_token_create
from routing.matching import reset_account_index
from routing.models import Pool, PoolMember, RoutingRule
from tests.factories import RepFactory, UserFactory

pytest_plugins = ["tests.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "revert-Browser-Pa55!"
US = {"all": [{"field": "lead.country", "op": "eq", "value": "US"}]}
DE = {"all": [{"field": "lead.country", "op": "eq", "value": "DE"}]}


@pytest.fixture(autouse=True)
def _fresh_index():
    reset_account_index()
    yield
    reset_account_index()


def sync_and_route(*records):
    crm = ApiToken.objects.filter(name="crm").first() or api_token_create(name="crm", scopes=["sync:write"])[0]
    sync_batch_apply(object_name="leads", records=list(records), actor=crm.user, token=crm)
    engine_process_events(event_ids=list(OutboxEvent.objects.filter(status="pending").values_list("pk", flat=True)))


def test_revops_admin_reverts_an_hour_of_one_rules_decisions(
    browser_page, admin_login, run_worker, screenshot, settings
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    rita = UserFactory(username="rita.revops", first_name="Rita", last_name="Ops")
    rita.set_password(PASSWORD)
    rita.save()
    assign_role(rita, ADMIN)
    Queue.objects.get_or_create(name="RevOps")
    router = automation_create(
        actor=rita,
        name="Lead routing",
        purpose="Route every new lead to the right owner.",
        kind="lead_routing",
        object_type="lead",
        trigger="created",
        conditions={"all": []},
        config={"fallback": {"type": "none"}, "route_owned_leads": True},
        rule_owner=rita,
        failure_owner=rita,
        exception_queue="RevOps",
        mode="live",
    )
    carla = RepFactory(external_id="R-CARLA", name="Carla Moss")
    ana, ben = RepFactory(external_id="R-ANA", name="Ana Ruiz"), RepFactory(external_id="R-BEN", name="Ben Stone")
    pool = Pool.objects.create(name="US inbound")
    PoolMember.objects.create(pool=pool, rep=ana, position=0)
    RoutingRule.objects.create(
        name="US territory", conditions=US, target_type="pool", target_pool=pool, priority=10, status="live"
    )
    RoutingRule.objects.create(
        name="Germany to Ben", conditions=DE, target_type="rep", target_rep=ben, priority=20, status="live"
    )
    at = timezone.now().isoformat()
    sync_and_route(
        {
            "external_id": "L-US1",
            "source_updated_at": at,
            "email": "dana@initech.io",
            "company": "Initech",
            "country": "US",
            "owner": "R-CARLA",
        },
        {
            "external_id": "L-DE1",
            "source_updated_at": at,
            "email": "jonas@siemens.de",
            "company": "Siemens",
            "country": "DE",
        },
    )
    us_lead, de_lead = Lead.objects.get(external_id="L-US1"), Lead.objects.get(external_id="L-DE1")
    assert us_lead.owner == ana and de_lead.owner == ben  # the US rule took Carla's lead: the mistake

    page = browser_page
    admin_login(page, "rita.revops", PASSWORD)
    page.goto(reverse("admin:revops_automation_change", args=[router.pk]))
    page.click("text=Revert runs between…")
    local = timezone.localtime()
    page.fill("#id_started_from", (local - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_until", (local + dt.timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M"))
    page.select_option("#id_narrow", label="US territory (live)")
    page.click("button.rv-show-plan")

    # The plan: one run, its owner change will be reverted (Carla again); the German lead is not in it.
    summary = page.locator(".rv-revert-summary").inner_text()
    assert "1 run in this window" in summary
    counts = page.locator(".rv-plan-counts").inner_text()
    assert "Assign owner" in counts and "Will be reverted: 1" in counts
    sample = page.locator(".rv-revert-lines").inner_text()
    assert "owner: Carla Moss" in sample and "owner: Ana Ruiz" in sample and "Goes back to Carla Moss" in sample
    assert "Siemens" not in sample
    screenshot(page, "revert-hour-plan")

    page.click("button.rv-apply-revert")  # the reason is required: the browser asks for it first
    assert not RunRevertBatch.objects.exists()
    page.fill("#id_reason", "The US rule took leads the CRM had already assigned.")
    page.click("button.rv-apply-revert")
    page.wait_for_url("**/runrevertbatch/*/change/")
    assert "0 of 1 run done" in page.content() or "1 of 1 run done" in page.content()

    assert run_worker("low") == 0  # the batch's background job
    page.reload()
    assert "1 of 1 run done" in page.locator(".field-progress").inner_text()
    assert "Reverted: 1" in page.locator(".field-report_display").inner_text()
    screenshot(page, "revert-hour-batch")

    us_lead.refresh_from_db()
    de_lead.refresh_from_db()
    assert us_lead.owner == carla and de_lead.owner == ben

    page.goto(reverse("admin:revops_lead_why", args=[us_lead.pk]))
    panel = page.locator(".rv-panel-reverts").inner_text()
    assert "Rita Ops reverted" in panel and "The US rule took leads the CRM had already assigned." in panel
    assert "Assign owner — Reverted: Goes back to Carla Moss" in panel
    screenshot(page, "revert-hour-why")
    page.click(".rv-panel-reverts >> text=revert batch")
    page.wait_for_url("**/runrevertbatch/*/change/")


def test_revops_admin_reverts_one_run_from_its_page(browser_page, admin_login, screenshot, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from revops.engine.types import Action
    from tests.factories import LeadFactory
    from tests.revops.revert_support import automation, run_actions

    rita = UserFactory(username="rita.revops", first_name="Rita", last_name="Ops")
    rita.set_password(PASSWORD)
    rita.save()
    assign_role(rita, ADMIN)
    lead = LeadFactory(status="new", external_id="L-7")
    run = run_actions(automation(), lead, [Action("update_field", {"key": "status", "value": "working"})])

    page = browser_page
    admin_login(page, "rita.revops", PASSWORD)
    page.goto(reverse("admin:revops_automationrun_change", args=[run.pk]))
    page.click("text=Revert this run…")
    table = page.locator(".rv-revert-lines").inner_text()
    assert "status: New" in table and "status: Working" in table and "Will be reverted" in table
    screenshot(page, "revert-run-plan")
    page.fill("#id_reason", "Marked working by a test rule.")
    page.click("button.rv-confirm-revert")
    page.wait_for_url(f"**{reverse('admin:revops_automationrun_change', args=[run.pk])}#reverts")
    assert "1 of 1 action reverted." in page.locator(".messagelist").inner_text()
    assert "Marked working by a test rule." in page.locator(".field-reverts_display").inner_text()
    lead.refresh_from_db()
    assert lead.status == "new"


def test_a_bad_rule_edit_is_rolled_back_its_hour_reverted_and_its_previous_version_restored(
    browser_page, admin_login, run_worker, screenshot, settings
):
    """Issue 14's story: a rule edited by mistake routed leads wrongly for an hour; a RevOps admin reverts
    that hour after reading the plan, then restores the rule's previous version."""
    from routing.services import routing_rule_save

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    rita = UserFactory(username="rita.revops", first_name="Rita", last_name="Ops")
    rita.set_password(PASSWORD)
    rita.save()
    assign_role(rita, ADMIN)
    Queue.objects.get_or_create(name="RevOps")
    router = automation_create(
        actor=rita,
        name="Lead routing",
        purpose="Route every new lead to the right owner.",
        kind="lead_routing",
        object_type="lead",
        trigger="created",
        conditions={"all": []},
        config={"fallback": {"type": "none"}},
        rule_owner=rita,
        failure_owner=rita,
        exception_queue="RevOps",
        mode="live",
    )
    carla, ana = RepFactory(external_id="R-CARLA", name="Carla Moss"), RepFactory(external_id="R-ANA", name="Ana Ruiz")
    rule = routing_rule_save(
        rule=RoutingRule(name="US territory", conditions=US, target_type="rep", target_rep=carla, status="live"),
        actor=rita,
        reason="US leads to Carla",
    )
    rule.target_rep = ana
    routing_rule_save(rule=rule, actor=rita, reason="covering for Carla (wrong week)")
    at = timezone.now().isoformat()
    sync_and_route(
        *(
            {"external_id": f"L-US{i}", "source_updated_at": at, "email": f"p{i}@initech.io", "country": "US"}
            for i in (1, 2)
        )
    )
    leads = list(Lead.objects.filter(external_id__in=["L-US1", "L-US2"]).order_by("external_id"))
    assert [lead.owner for lead in leads] == [ana, ana]  # the wrong hour

    page = browser_page
    admin_login(page, "rita.revops", PASSWORD)
    page.goto(reverse("admin:revops_automation_change", args=[router.pk]))
    page.click("text=Revert runs between…")
    local = timezone.localtime()
    page.fill("#id_started_from", (local - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#id_until", (local + dt.timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M"))
    page.select_option("#id_narrow", label="US territory (live)")
    page.click("button.rv-show-plan")
    assert "2 runs in this window" in page.locator(".rv-revert-summary").inner_text()
    assert "Will be reverted: 2" in page.locator(".rv-plan-counts").inner_text()
    page.fill("#id_reason", "US territory sent Carla's leads to Ana for an hour.")
    page.click("button.rv-apply-revert")
    page.wait_for_url("**/runrevertbatch/*/change/")
    assert run_worker("low") == 0
    page.reload()
    assert "2 of 2 runs done" in page.locator(".field-progress").inner_text()
    for lead in leads:
        lead.refresh_from_db()
    assert [lead.owner for lead in leads] == [None, None]  # back as they were before routing

    # The rule itself: its previous version (to Carla) comes back as a new version.
    page.goto(reverse("admin:routing_routingrule_versions", args=[rule.pk]))
    row = page.locator("#version-1")
    row.locator("input[name=reason]").fill("Carla is back; the edit was a mistake")
    row.locator("button", has_text="Restore this version").click()
    page.wait_for_selector(".messagelist")
    assert "Version 1 restored as version 3" in page.inner_text(".messagelist")
    screenshot(page, "bad-rule-edit-rolled-back")
    rule.refresh_from_db()
    assert rule.version == 3 and rule.target_rep == carla

    page.goto(reverse("admin:revops_lead_why", args=[leads[0].pk]))
    assert "US territory sent Carla's leads to Ana for an hour." in page.locator(".rv-panel-reverts").inner_text()
