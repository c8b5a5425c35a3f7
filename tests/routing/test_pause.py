"""Paused routing: a paused router or a paused live rule sends new leads to the fallback with an item."""

import pytest

from exceptions.models import ExceptionItem
from revops.engine.pause import automation_pause, automation_resume, automations_pause_all
from revops.models import HeldEvent, Lead
from routing.models import RoutingDecision
from routing.pause import routing_rule_pause, routing_rule_resume
from routing.services import lead_reroute
from tests.factories import RepFactory, UserFactory

from .test_routing import DE, US, pool, route, router, rule


def ana():
    return UserFactory(username="ana", first_name="Ana", last_name="Ortiz", is_staff=True)


@pytest.fixture
def setup(db):
    us_rep = RepFactory(external_id="R-US", name="Uma US")
    de_rep = RepFactory(external_id="R-DE", name="Dirk DE")
    spare = RepFactory(external_id="R-FB", name="Fran Fallback")
    pool("Overflow", [(spare, 1)])
    automation = router(fallback={"type": "pool", "pool": "Overflow"})
    emea = rule("EMEA enterprise", DE, "rep", 10, target_rep=de_rep)
    rule("US inbound", US, "rep", 20, target_rep=us_rep)
    rule("Everyone else", {"all": []}, "rep", 30, target_rep=us_rep)
    return automation, emea


def test_a_paused_rule_sends_its_leads_to_the_fallback_with_an_item(setup):
    automation, emea = setup
    user = ana()
    assert routing_rule_pause(rule=emea, actor=user, reason="Dirk left the company") is True
    assert routing_rule_pause(rule=emea, actor=user, reason="again") is False

    (de_lead, us_lead) = route(
        {"external_id": "L-DE", "source_updated_at": "2026-11-24T15:00:00Z", "country": "DE", "email": "a@x.de"},
        {"external_id": "L-US", "source_updated_at": "2026-11-24T15:00:00Z", "country": "US", "email": "b@y.com"},
    )
    # Not "Everyone else" (the next matching rule): the fallback, with the reason.
    assert de_lead.owner.external_id == "R-FB"
    assert us_lead.owner.external_id == "R-US"  # other rules keep routing
    decision = RoutingDecision.objects.get(lead=de_lead)
    assert decision.outcome == "fallback" and decision.rule == emea
    item = ExceptionItem.objects.get(kind="routing_paused")
    assert item.object_id == de_lead.pk
    assert item.reason.startswith("Routing rule 'EMEA enterprise' is paused by Ana Ortiz since ")
    assert "(reason: Dirk left the company); this lead went to Fran Fallback through the fallback" in item.reason
    history = emea.history.order_by("-history_id").first()
    assert history.history_user == user and history.history_change_reason == "paused: Dirk left the company"

    assert routing_rule_resume(rule=emea, actor=user, reason="Dirk's leads go to his successor") is True
    assert routing_rule_resume(rule=emea, actor=user, reason="again") is False
    (again,) = route({"external_id": "L-DE2", "source_updated_at": "2026-11-24T15:00:00Z", "country": "DE"})
    assert again.owner.external_id == "R-DE"


def test_a_paused_router_uses_the_fallback_and_holds_nothing(setup):
    automation, _emea = setup
    user = ana()
    automation_pause(automation=automation, actor=user, reason="Pools are misconfigured")
    (lead,) = route({"external_id": "L-US", "source_updated_at": "2026-11-24T15:00:00Z", "country": "US"})
    assert lead.owner.external_id == "R-FB"  # no lead waits unassigned
    assert not HeldEvent.objects.exists()
    item = ExceptionItem.objects.get(kind="routing_paused")
    assert item.reason.startswith("Automation 'Lead routing' is paused by Ana Ortiz since ")
    assert "(reason: Pools are misconfigured); this lead went to Fran Fallback" in item.reason
    assert "paused" in RoutingDecision.objects.get(lead=lead).summary

    automation_resume(automation=automation, actor=user, reason="Pools fixed", held="process")
    (other,) = route({"external_id": "L-US2", "source_updated_at": "2026-11-24T15:00:00Z", "country": "US"})
    assert other.owner.external_id == "R-US"


def test_pause_all_pauses_the_router_too(setup):
    automations_pause_all(actor=ana(), reason="Incident")
    (lead,) = route({"external_id": "L-DE", "source_updated_at": "2026-11-24T15:00:00Z", "country": "DE"})
    assert lead.owner.external_id == "R-FB"
    item = ExceptionItem.objects.get(kind="routing_paused")
    assert item.reason.startswith("All automations are paused by Ana Ortiz")


def test_a_paused_router_without_a_fallback_says_the_lead_has_no_owner(db):
    RepFactory(external_id="R-US")
    automation = router()
    automation_pause(automation=automation, actor=None, reason="stop")
    (lead,) = route({"external_id": "L-1", "source_updated_at": "2026-11-24T15:00:00Z", "country": "US"})
    assert Lead.objects.get(pk=lead.pk).owner is None
    item = ExceptionItem.objects.get(kind="routing_paused")
    assert item.severity == "high" and "this lead has NO owner" in item.reason


def test_a_reroute_while_the_router_is_paused_goes_to_the_fallback(setup):
    automation, _emea = setup
    (lead,) = route({"external_id": "L-US", "source_updated_at": "2026-11-24T15:00:00Z", "country": "US"})
    assert lead.owner.external_id == "R-US"
    automation_pause(automation=automation, actor=ana(), reason="Incident")
    decision = lead_reroute(lead_id=lead.pk, exclude_rep_ids=[lead.owner_id], reason="SLA missed")
    assert decision.outcome == "fallback" and decision.owner.external_id == "R-FB"
    assert ExceptionItem.objects.get(kind="routing_paused").object_id == lead.pk


@pytest.mark.django_db
def test_the_kill_switch_is_not_a_version_and_a_restore_leaves_it_alone():
    from revops.versions import version_restore, versions_of
    from routing.models import RoutingRule
    from routing.services import routing_rule_save

    user = UserFactory(username="rita.revops", is_staff=True, is_superuser=True)
    rule = routing_rule_save(
        rule=RoutingRule(name="US", conditions=US, target_type="rep", target_rep=RepFactory(), status="live"),
        actor=user,
        reason="US leads",
    )
    rule.target_rep = RepFactory()
    routing_rule_save(rule=rule, actor=user, reason="another rep")
    assert routing_rule_pause(rule=rule, actor=user, reason="wrong reps this morning")
    rule.refresh_from_db()
    assert rule.version == 2 and versions_of(rule).count() == 2  # pausing is not a configuration change

    version_restore(obj=rule, number=1, actor=user, reason="back to the first rep")
    rule.refresh_from_db()
    assert rule.version == 3 and rule.paused_at is not None  # still paused: resuming is its own decision
