"""End to end in a real browser: a RevOps admin writes a routing rule, makes it live and previews a lead."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from exceptions.models import Queue
from exceptions.roles import ADMIN, assign_role
from revops.engine.services import automation_create
from routing.matching import reset_account_index
from routing.models import Pool, PoolMember, RoutingDecision, RoutingRule
from tests.factories import RepFactory, UserFactory

pytest_plugins = ["tests.browser"]
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "routing-Browser-Pa55!"
DE = '{"all": [{"field": "lead.country", "op": "eq", "value": "DE"}]}'


@pytest.fixture(autouse=True)
def _fresh_index():
    reset_account_index()
    yield
    reset_account_index()


def test_revops_admin_writes_a_rule_and_previews_a_lead(browser_page, admin_login, screenshot, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    user = UserFactory(username="rita.revops")
    user.set_password(PASSWORD)
    user.save()
    assign_role(user, ADMIN)
    Queue.objects.get_or_create(name="RevOps")  # the exception path must name a queue
    automation_create(
        actor=user,
        name="Lead routing",
        purpose="Route every new lead to the right owner.",
        kind="lead_routing",
        object_type="lead",
        trigger="created",
        conditions={"all": []},
        config={"fallback": {"type": "none"}},
        rule_owner=user,
        failure_owner=user,
        exception_queue="RevOps",
        mode="live",
    )
    RepFactory(external_id="R-DE1", name="Lena Vogel")
    away = RepFactory(external_id="R-DE2", name="Max Fern", out_of_office_until=timezone.now() + dt.timedelta(days=2))
    pool = Pool.objects.create(name="DACH inbound")
    PoolMember.objects.create(pool=pool, rep=away, position=0)
    RoutingRule.objects.create(
        name="DACH pool", conditions={"all": []}, target_type="pool", target_pool=pool, priority=50, status="live"
    )
    page = browser_page
    admin_login(page, "rita.revops", PASSWORD)

    # Write the rule as a draft: Germany → Lena.
    page.goto(reverse("admin:routing_routingrule_add"))
    page.fill("#id_name", "Germany to Lena")
    page.fill("#id_priority", "10")
    page.select_option("#id_status", "draft")
    page.click(".rv-cb-mode[data-mode=json]")  # power users type the JSON (the condition builder is above it)
    page.fill("#id_conditions", DE)
    page.select_option("#id_target_type", "rep")
    page.click("#id_target_rep + .select2 .select2-selection")  # the admin's autocomplete widget
    page.fill(".select2-search__field", "Lena")
    page.click(".select2-results__option >> text=Lena Vogel")
    page.click("input[name=_save]")
    page.wait_for_url(f"**{reverse('admin:routing_routingrule_changelist')}")
    rule = RoutingRule.objects.get(name="Germany to Lena")
    assert rule.status == "draft" and rule.fields_used == ["lead.country"]
    row = page.locator("#result_list tr", has_text="Germany to Lena")
    assert "Country is DE" in row.inner_text() and "Rep: Lena Vogel (R-DE1)" in row.inner_text()

    # Make it live.
    page.click("text=Germany to Lena")
    page.select_option("#id_status", "live")
    page.check("#id_confirm_live")  # going live is confirmed
    page.click("input[name=_save]")
    page.wait_for_url(f"**{reverse('admin:routing_routingrule_changelist')}")
    rule.refresh_from_db()
    assert rule.status == "live"
    screenshot(page, "routing-rules")

    # Who would get a lead from Germany?
    page.click("#rv-preview-link")
    page.wait_for_url(f"**{reverse('admin:routing_routingrule_preview')}")
    page.fill("#id_first_name", "Jonas")
    page.fill("#id_last_name", "Becker")
    page.fill("#id_email", "jonas@beispiel-gmbh.de")
    page.fill("#id_company", "Beispiel GmbH")
    page.fill("#id_country", "DE")
    page.fill("#id_score", "75")
    page.click("#rv-preview-submit")
    result = page.locator("#rv-routing-decision")
    result.wait_for()
    text = result.inner_text()
    assert "Owner: Lena Vogel (R-DE1)" in text
    assert "Germany to Lena" in text
    assert "Country is DE (actual: DE)" in text and "the rep named on the rule" in text
    screenshot(page, "routing-preview")

    # Without the rule, the pool decides: its only member is away, and the page says so.
    page.goto(reverse("admin:routing_routingrule_preview"))
    page.fill("#id_country", "FR")
    page.click("#rv-preview-submit")
    result = page.locator("#rv-routing-decision")
    result.wait_for()
    text = result.inner_text()
    assert "Max Fern" in text and "out of office" in text
    assert "✗ Country is DE (actual: FR)" in text
    assert RoutingDecision.objects.count() == 0  # previews store nothing
    screenshot(page, "routing-preview-skipped")


def test_decision_explained_on_the_why_page_and_rerouted(admin_page, screenshot):
    from routing.models import SlaPolicy
    from routing.services import lead_reroute
    from tests.factories import LeadFactory

    owner = UserFactory(username="revops.lead")
    Queue.objects.get_or_create(name="RevOps")  # the exception path must name a queue
    automation_create(
        actor=owner,
        name="Lead routing",
        purpose="Route every new lead to the right owner.",
        kind="lead_routing",
        object_type="lead",
        trigger="created",
        conditions={"all": []},
        config={"fallback": {"type": "none"}},
        rule_owner=owner,
        failure_owner=owner,
        exception_queue="RevOps",
        mode="live",
    )
    ana = RepFactory(external_id="R-104", name="Ana Ruiz")
    ben = RepFactory(external_id="R-105", name="Ben Stone")
    pool = Pool.objects.create(name="NA inbound", strategy="round_robin")
    for position, rep in enumerate((ana, ben)):
        PoolMember.objects.create(pool=pool, rep=rep, position=position)
    RoutingRule.objects.create(
        name="North America",
        conditions={"all": [{"field": "lead.country", "op": "in", "value": ["US", "CA"]}]},
        target_type="pool",
        target_pool=pool,
        priority=10,
        status="live",
    )
    SlaPolicy.objects.create(name="Inbound 1 hour", conditions={"all": []}, target_minutes=60)
    lead = LeadFactory(first_name="Ada", last_name="Lovelace", country="US")
    first = lead_reroute(lead_id=lead.pk)
    page = admin_page

    page.goto(reverse("admin:revops_lead_why", args=[lead.pk]))
    panel = page.locator(".rv-panel-routing")
    text = panel.inner_text()
    assert f"Owner: {first.owner.name} ({first.owner.external_id})" in text
    assert "North America" in text and "Inbound 1 hour" in text and "Due " in text
    assert "Ana Ruiz" in text and "Ben Stone" in text  # the candidates
    panel.locator("summary").click()  # rules tried, collapsed by default
    assert "Country is one of US, CA (actual: US)" in panel.inner_text()
    screenshot(page, "routing-why-panel")

    panel.locator("text=(details →)").click()
    page.wait_for_url(f"**{reverse('admin:routing_routingdecision_change', args=[first.pk])}")
    page.click(f"text=Re-route away from {first.owner.name}")
    page.wait_for_url("**/routingdecision/*/change/")
    assert "Re-routed:" in page.locator(".messagelist").inner_text()
    newest = RoutingDecision.objects.filter(lead=lead).latest("pk")
    assert newest.pk != first.pk and newest.owner not in (None, first.owner)
    assert f"Owner: {newest.owner.name}" in page.locator("#rv-routing-decision").inner_text()
    screenshot(page, "routing-decision-detail")
