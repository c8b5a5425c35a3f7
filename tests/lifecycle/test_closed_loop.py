"""The closed loop on known data: funnel counts and rates per source, campaign, rep and routing rule, won
revenue through the converted opportunity, time in stage, speed to lead vs conversion, manager scoping,
the report page and its CSV, and the dashboard's lifecycle metrics."""

import datetime as dt
from decimal import Decimal

import pytest
from django.test import Client

from exceptions import roles
from lifecycle.closed_loop import closed_loop, dimensions
from lifecycle.metrics import acceptance_day, stage_entries_day
from lifecycle.models import StageTransition
from lifecycle.stage_services import lead_accept, lead_reject, lead_stages_evaluate
from revops.models import Activity, Lead
from routing.models import RoutingDecision
from tests.factories import LeadFactory, OpportunityFactory, RepFactory, TeamFactory, UserFactory

from .stage_support import MONDAY_9, funnel, rep_login

pytestmark = pytest.mark.django_db
HOUR = dt.timedelta(hours=1)
SINCE, UNTIL = MONDAY_9 - dt.timedelta(days=1), MONDAY_9 + dt.timedelta(days=30)


@pytest.fixture
def world():
    """Five web leads and three event leads of one rep, created Monday 09:00, moved by the real services.

    web: 1 won (€50,000, touched in 2 minutes), 1 SQL (touched in 3 hours), 1 accepted, 1 rejected,
    1 never an MQL (no touch). event: 1 won (€20,000), 2 new."""
    admin = UserFactory(username="ops", is_staff=True, is_superuser=True)
    funnel(actor=admin)
    team = TeamFactory(name="East")
    rep = RepFactory(name="Ann Able", team=team)
    leads = {}

    def lead(name, source, campaign, score):
        item = LeadFactory(
            owner=rep, source=source, score=score, attributes={"utm_campaign": campaign}, external_id=f"L-{name}"
        )
        Lead.objects.filter(pk=item.pk).update(created_at=MONDAY_9)
        leads[name] = item
        return item

    for name in ("won", "sql", "accepted", "rejected"):
        lead(name, "web", "Spring launch", 80)
    lead("cold", "web", "Spring launch", 10)
    lead("event_won", "event", "", 80)
    lead("event_a", "event", "", 10)
    lead("event_b", "event", "", 10)
    lead_stages_evaluate(lead_ids=[x.pk for x in leads.values()], now=MONDAY_9)  # MQL by score, New otherwise
    for name in ("won", "sql", "accepted", "event_won"):
        lead_accept(lead=leads[name], actor=admin, now=MONDAY_9 + 2 * HOUR)
    lead_reject(lead=leads["rejected"], reason_code="not_icp", note="Students", actor=admin, now=MONDAY_9 + HOUR)
    for name in ("won", "sql", "event_won"):
        Lead.objects.filter(pk=leads[name].pk).update(status="qualified")
    lead_stages_evaluate(lead_ids=[leads[n].pk for n in ("won", "sql", "event_won")], now=MONDAY_9 + 26 * HOUR)
    for name, amount in (("won", "50000"), ("event_won", "20000")):
        deal = OpportunityFactory(owner=rep, stage="closed_won", amount=Decimal(amount))
        Lead.objects.filter(pk=leads[name].pk).update(status="converted", converted_opportunity=deal)
    lead_stages_evaluate(lead_ids=[leads["won"].pk, leads["event_won"].pk], now=MONDAY_9 + 74 * HOUR)
    for name, after in (("won", dt.timedelta(minutes=2)), ("sql", 3 * HOUR)):
        Activity.objects.create(
            external_id=f"A-{name}",
            kind="call",
            occurred_at=MONDAY_9 + after,
            lead=leads[name],
            source_updated_at=MONDAY_9,
        )
    RoutingDecision.objects.create(
        lead=leads["won"], outcome="assigned", rule_name="West inbound", decided_at=MONDAY_9, owner=rep
    )
    return {"admin": admin, "team": team, "rep": rep, "leads": leads}


def test_the_funnel_per_source_counts_every_stage_reached_and_the_won_revenue(world):
    report = closed_loop(user=world["admin"], dimension="source", since=SINCE, until=UNTIL, now=MONDAY_9 + 80 * HOUR)
    assert [s.key for s in report.steps] == ["mql", "sal", "sql", "opportunity"]
    web, event = report.rows
    assert (web.label, web.leads, web.reached, web.won, web.won_amount) == (
        "web",
        5,
        {"mql": 4, "sal": 3, "sql": 2, "opportunity": 1},
        1,
        Decimal("50000"),
    )
    assert (event.label, event.leads, event.reached, event.won) == (
        "event",
        3,
        {"mql": 1, "sal": 1, "sql": 1, "opportunity": 1},
        1,
    )
    total = report.total
    assert total.leads == 8 and total.won == 2 and total.won_amount == Decimal("70000")
    cells = web.cells(report.steps)
    assert [c["of_leads"] for c in cells] == [80.0, 60.0, 40.0, 20.0]
    assert [c["of_previous"] for c in cells] == [80.0, 75.0, 66.7, 50.0]
    assert web.won_rate == 20.0


def test_speed_to_lead_and_time_in_stage(world):
    report = closed_loop(user=world["admin"], since=SINCE, until=UNTIL, now=MONDAY_9 + 80 * HOUR)
    speed = {b["label"]: b for b in report.speed}
    assert (speed["within 5 minutes"]["leads"], speed["within 5 minutes"]["sql"], speed["within 5 minutes"]["won"]) == (
        1,
        1,
        1,
    )
    assert (speed["1 to 24 hours"]["leads"], speed["1 to 24 hours"]["sql_rate"]) == (1, 100.0)
    assert speed["no touch yet"]["leads"] == 6
    stays = {s["stage"]: s for s in report.time_in_stage}
    # Every MQL was answered: four after 2 hours, one after 1 hour.
    assert stays["MQL"]["stays"] == 5 and stays["MQL"]["median_seconds"] == 2 * 3600
    # Accepted leads waited 24 hours for SQL (three of them), one is still there (78 hours at "now").
    assert stays["Sales accepted"]["median_seconds"] == 24 * 3600


def test_campaign_rep_and_routing_rule_groupings(world):
    assert {"source", "campaign", "owner", "routing_rule"} <= set(dimensions())
    by_campaign = closed_loop(user=world["admin"], dimension="campaign", since=SINCE, until=UNTIL)
    assert [(r.label, r.leads) for r in by_campaign.rows] == [("Spring launch", 5), ("(none)", 3)]
    by_rep = closed_loop(user=world["admin"], dimension="owner", since=SINCE, until=UNTIL)
    assert [(r.label, r.leads, r.won) for r in by_rep.rows] == [("Ann Able", 8, 2)]
    by_rule = closed_loop(user=world["admin"], dimension="routing_rule", since=SINCE, until=UNTIL)
    assert [(r.label, r.leads, r.won) for r in by_rule.rows] == [("West inbound", 1, 1), ("(none)", 7, 1)]  # none last
    with pytest.raises(ValueError, match="Unknown grouping"):
        closed_loop(user=world["admin"], dimension="shoe_size", since=SINCE, until=UNTIL)


def test_a_manager_sees_only_their_teams_leads_and_the_page_and_csv_agree(world):
    other = RepFactory(team=TeamFactory(name="West"))
    stranger = LeadFactory(owner=other, source="web")
    Lead.objects.filter(pk=stranger.pk).update(created_at=MONDAY_9)
    manager, _ = rep_login("manager.east", roles.MANAGER, rep=RepFactory(team=world["team"]))
    world["team"].manager = manager.rep
    world["team"].save(update_fields=["manager"])
    assert closed_loop(user=manager, since=SINCE, until=UNTIL).total.leads == 8
    assert closed_loop(user=world["admin"], since=SINCE, until=UNTIL).total.leads == 9

    client = Client()
    client.force_login(manager)
    query = f"?group=source&since={SINCE.date()}&until={(UNTIL - dt.timedelta(days=1)).date()}"
    page = client.get("/admin/lifecycle/closedloopreport/" + query)
    assert page.status_code == 200
    text = page.content.decode()
    assert "Closed loop: from lead source to revenue" in text and "Speed to lead vs conversion" in text
    csv = client.get("/admin/lifecycle/closedloopreport/" + query + "&format=csv").content.decode().splitlines()
    assert csv[0] == "Lead source,Leads,MQL,Sales accepted,SQL,Opportunity,Won,Won revenue"
    assert csv[1:] == ["web,5,4,3,2,1,1,50000.00", "event,3,1,1,1,1,1,20000.00", "All leads,8,5,4,3,2,2,70000.00"]
    rep_user, _ = rep_login("rep.only")
    rep_client = Client()
    rep_client.force_login(rep_user)
    assert rep_client.get("/admin/lifecycle/closedloopreport/").status_code == 403


def test_the_dashboard_metrics_count_stage_entries_and_answers(world):
    points = stage_entries_day(MONDAY_9.date(), MONDAY_9 - dt.timedelta(hours=9), MONDAY_9 + 15 * HOUR)
    entries = {p.dimension: p.numerator for p in points}
    assert (entries["MQL"], entries["Sales accepted"]) == (5, 4) and "Recycled" not in entries  # funnel stages only
    answers = acceptance_day(MONDAY_9.date(), MONDAY_9 - dt.timedelta(hours=9), MONDAY_9 + 15 * HOUR)
    (point,) = answers
    assert (point.numerator, point.denominator) == (4, 5)
    assert StageTransition.objects.filter(cause="rejected").count() == 1


def test_the_crm_links_a_converted_lead_to_its_opportunity_through_the_sync():
    from revops.sync import sync_batch_apply
    from revops.tokens import api_token_create

    token, _raw = api_token_create(name="crm", scopes=["sync:write"])
    deal = OpportunityFactory(external_id="O-77")
    now = MONDAY_9.isoformat()
    outcome = sync_batch_apply(
        object_name="leads",
        records=[
            {"external_id": "L-77", "source_updated_at": now, "email": "a@b.test", "converted_opportunity": "O-77"},
            {"external_id": "L-78", "source_updated_at": now, "email": "c@d.test", "converted_opportunity": "O-404"},
        ],
        actor=token.user,
        token=token,
    )
    assert Lead.objects.get(external_id="L-77").converted_opportunity == deal
    (rejected,) = [r for r in outcome.results if r["status"] == "rejected"]
    assert "O-404" in str(rejected["errors"]["converted_opportunity"])
