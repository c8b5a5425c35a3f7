"""The routing admin: rules (plain language, order, validation), preview, backtest, decisions, pools, SLAs, why view."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from exceptions.models import ExceptionItem, Queue
from revops.engine.services import automation_create
from revops.models import AutomationRun, Lead
from routing.matching import reset_account_index
from routing.models import (
    BusinessCalendar,
    Pool,
    PoolCounter,
    PoolMember,
    RoutingDecision,
    RoutingRule,
    SlaClock,
    SlaPolicy,
)
from routing.services import lead_reroute
from tests.factories import LeadFactory, RepFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db

DE = {"all": [{"field": "lead.country", "op": "eq", "value": "DE"}]}
US = {"all": [{"field": "lead.country", "op": "eq", "value": "US"}]}
RULES_URL = "admin:routing_routingrule_changelist"


@pytest.fixture(autouse=True)
def _fresh_index():
    reset_account_index()
    yield
    reset_account_index()


@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    return client


def router(mode="live", **config):
    owner = UserFactory(username="revops.lead")
    Queue.objects.get_or_create(name="RevOps")  # the exception path must name a queue
    return automation_create(
        actor=owner,
        name="Lead routing",
        purpose="Route every new lead to the right owner.",
        kind="lead_routing",
        object_type="lead",
        trigger="created",
        conditions={"all": []},
        config={"fallback": {"type": "none"}, **config},
        rule_owner=owner,
        failure_owner=owner,
        exception_queue="RevOps",
        mode=mode,
    )


def rule(name, conditions, target_type, priority, **fields):
    fields.setdefault("status", "live")
    return RoutingRule.objects.create(
        name=name, conditions=conditions, target_type=target_type, priority=priority, **fields
    )


def make_pool(name, reps, **fields):
    pool = Pool.objects.create(name=name, **fields)
    for position, rep in enumerate(reps):
        PoolMember.objects.create(pool=pool, rep=rep, weight=1, position=position)
    return pool


@pytest.fixture
def dach():
    """A DACH pool of two reps (one out of office), a DE rule to it, a US rule to a named rep, an SLA policy."""
    ana = RepFactory(external_id="R-104", name="Ana Ruiz")
    otto = RepFactory(external_id="R-105", name="Otto Weg", out_of_office_until=timezone.now() + dt.timedelta(days=3))
    pool = make_pool("DACH inbound", [otto, ana])
    de = rule("DACH by country", DE, "pool", 10, target_pool=pool)
    us = rule("US to Sam", US, "rep", 20, target_rep=RepFactory(external_id="R-200", name="Sam Lee"))
    SlaPolicy.objects.create(name="Inbound 1 hour", conditions={"all": []}, target_minutes=60)
    return {"ana": ana, "otto": otto, "pool": pool, "de": de, "us": us}


def counts():
    return {
        model.__name__: model.objects.count()
        for model in (RoutingDecision, AutomationRun, Lead, ExceptionItem, SlaClock, PoolCounter)
    }


def page(response):
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# --- Rules list, order, form ---------------------------------------------------------------------


def test_rules_list_shows_plain_language_targets_counts_and_reassignment_rate(staff_client, dach):
    rule("Strategic review", {"all": []}, "queue", 30, target_queue="Strategic review", status="shadow")
    rule("Named accounts", {"all": []}, "account_owner", 5, use_parent_account=True, status="draft")
    now = timezone.now()
    for index in range(4):
        RoutingDecision.objects.create(
            lead=LeadFactory(),
            outcome="assigned",
            rule=dach["de"],
            rule_name=dach["de"].name,
            owner=dach["ana"],
            decided_at=now - dt.timedelta(days=index),
            reassigned_at=now if index == 0 else None,
        )
    RoutingDecision.objects.create(
        lead=LeadFactory(), outcome="assigned", rule=dach["de"], decided_at=now - dt.timedelta(days=40)
    )
    text = page(staff_client.get(reverse(RULES_URL)))
    assert "Country is DE" in text
    assert "Pool: DACH inbound" in text and "Rep: Sam Lee (R-200)" in text
    assert "Queue: Strategic review" in text and "Account owner (via parent)" in text
    assert "25%" in text and "1 of 4" in text  # reassigned by hand, last 30 days only
    assert f'?rule__id__exact={dach["de"].pk}">4</a>' in text
    assert reverse("admin:routing_routingrule_move", args=[dach["de"].pk, "up"]) in text
    assert 'id="rv-move-form"' in text
    assert (
        reverse("admin:routing_routingrule_preview") in text and reverse("admin:routing_routingrule_backtest") in text
    )
    # listed in priority order
    assert text.index("Named accounts") < text.index("DACH by country") < text.index("US to Sam")


def test_move_buttons_reorder_rules(staff_client, dach):
    third = rule("Catch-all", {"all": []}, "rep", 30, target_rep=dach["ana"])
    url = reverse("admin:routing_routingrule_move", args=[third.pk, "up"])
    assert staff_client.get(url).status_code == 405
    response = staff_client.post(url, {"next": reverse(RULES_URL) + "?status__exact=live"})
    assert response.status_code == 302 and response["Location"].endswith("?status__exact=live")
    order = list(RoutingRule.objects.order_by("priority").values_list("name", flat=True))
    assert order == ["DACH by country", "Catch-all", "US to Sam"]
    staff_client.post(reverse("admin:routing_routingrule_move", args=[dach["de"].pk, "down"]))
    order = list(RoutingRule.objects.order_by("priority").values_list("name", "priority"))
    assert order == [("Catch-all", 10), ("DACH by country", 20), ("US to Sam", 30)]
    # an off-site "next" is ignored
    response = staff_client.post(url, {"next": "https://evil.example/"})
    assert response["Location"] == reverse(RULES_URL)


def rule_form(**values):
    data = {
        "name": "Germany",
        "description": "",
        "priority": "40",
        "status": "live",
        "conditions": '{"all": [{"field": "lead.country", "op": "eq", "value": "DE"}]}',
        "target_type": "rep",
        "target_rep": "",
        "target_pool": "",
        "target_queue": "",
        "approval_owner": "",
        "use_parent_account": "on",
        "when_unavailable": "next_rule",
        "confirm_live": "on",  # going live is confirmed (tests/routing/test_rule_warnings.py)
    }
    data.update(values)
    return data


def test_invalid_conditions_and_targets_show_errors_and_save_nothing(staff_client, dach):
    url = reverse("admin:routing_routingrule_add")
    before = RoutingRule.objects.count()
    bad_field = rule_form(
        conditions='{"all": [{"field": "lead.no_such_field", "op": "eq", "value": 1}]}',
        target_rep=str(dach["ana"].pk),
    )
    response = staff_client.post(url, bad_field)
    text = page(response)
    assert "no_such_field" in " ".join(response.context["adminform"].form.errors.get("conditions", []))
    assert "errornote" in text
    response = staff_client.post(url, rule_form(conditions="{not json"))
    assert "conditions" in response.context["adminform"].form.errors
    response = staff_client.post(url, rule_form())  # a rep target without a rep
    assert "target_rep" in response.context["adminform"].form.errors
    assert RoutingRule.objects.count() == before


def test_saving_a_rule_goes_through_the_service_with_history(staff_client, admin_user, dach):
    response = staff_client.post(
        reverse("admin:routing_routingrule_add"),
        rule_form(
            conditions='{"all": [{"field": "lead.score", "op": "gte", "value": "70"}]}', target_rep=dach["ana"].pk
        ),
    )
    assert response.status_code == 302
    saved = RoutingRule.objects.get(name="Germany")
    assert saved.conditions == {"all": [{"field": "lead.score", "op": "gte", "value": 70}]}  # canonical
    assert saved.fields_used == ["lead.score"]
    latest = saved.history.latest()
    assert latest.history_user == admin_user and latest.history_change_reason.startswith("admin: created")
    text = page(staff_client.get(reverse("admin:routing_routingrule_change", args=[saved.pk])))
    assert "Lead score ≥ 70" in text or "Lead score" in text
    assert page(staff_client.get(reverse("admin:routing_routingrule_history", args=[saved.pk])))


# --- Preview and backtest ------------------------------------------------------------------------


def test_preview_shows_owner_rule_evidence_candidates_and_sla_and_writes_nothing(staff_client, dach):
    router()
    LeadFactory(country="DE")  # something to count
    before = counts()
    url = reverse("admin:routing_routingrule_preview")
    assert "Who would get this lead?" in page(staff_client.get(url))
    response = staff_client.post(
        url,
        {
            "email": "jonas@example-gmbh.de",
            "first_name": "Jonas",
            "last_name": "Becker",
            "company": "Example GmbH",
            "country": "de",
            "score": "80",
            "status": "new",
            "source": "web_form",
        },
    )
    text = page(response)
    assert "Owner: <a" in text and "Ana Ruiz (R-104)" in text
    assert "DACH by country" in text and "Country is DE (actual: DE)" in text
    assert "Otto Weg" in text and "out of office" in text  # the skipped candidate and why
    assert "Inbound 1 hour" in text and "Due " in text
    assert "No match" in text  # the account match section
    assert counts() == before


def test_preview_includes_draft_rules_only_when_asked(staff_client, dach):
    router()
    rule("Everyone to Ana", {"all": []}, "rep", 1, target_rep=dach["ana"], status="draft")
    url = reverse("admin:routing_routingrule_preview")
    text = page(staff_client.post(url, {"country": "FR", "status": "new"}))
    assert "Everyone to Ana" not in text and "Left unassigned" in text
    text = page(staff_client.post(url, {"country": "FR", "status": "new", "include_drafts": "on"}))
    assert "Everyone to Ana" in text and "Owner: <a" in text


def test_backtest_page_reports_numbers(staff_client, dach):
    router()
    sam = RepFactory(external_id="R-300", name="Sam Old")
    LeadFactory.create_batch(3, country="DE", owner=sam)
    LeadFactory(country="US", owner=None)
    rule("Draft: DE to Sam Old", DE, "rep", 5, target_rep=sam, status="draft")
    url = reverse("admin:routing_routingrule_backtest")
    text = page(staff_client.get(url))
    assert "Run the backtest" in text and "rv-backtest-report" not in text
    response = staff_client.get(url, {"days": "30", "statuses": ["live", "draft"]})
    text = page(response)
    report = response.context["report"]
    # compared with the live rules (not with the owners the leads have now): the 3 DE leads change
    assert report["leads"] == 4 and report["changes"] == 3
    assert "4 leads from the last 30 days" in text
    assert "Draft: DE to Sam Old" in text and "DACH by country" in text
    # out of office is not known for the past: Otto takes DACH leads in the live replay
    by_rep = {row["name"]: row["delta_text"] for row in report["by_rep"]}
    assert by_rep == {"Sam Old": "+3", "Otto Weg": "-2", "Ana Ruiz": "-1", "Sam Lee": "+0"}
    assert "R-300" not in text and ">+3<" in text and ">-2<" in text
    bad = staff_client.get(url, {"days": "400", "statuses": ["live"]})
    assert "days" in bad.context["form"].errors and bad.context["report"] is None


# --- Decisions ---------------------------------------------------------------------------------


def test_decision_list_detail_and_reroute(staff_client, dach):
    router()
    lead = LeadFactory(country="DE", first_name="Jonas", last_name="Becker")
    decision = lead_reroute(lead_id=lead.pk)
    assert decision is not None and decision.owner == dach["ana"]
    listing = page(staff_client.get(reverse("admin:routing_routingdecision_changelist")))
    assert "Jonas Becker" in listing and "DACH by country" in listing and "Assigned" in listing
    filtered = page(staff_client.get(reverse("admin:routing_routingdecision_changelist"), {"reassigned": "yes"}))
    assert "Jonas Becker" not in filtered
    detail_url = reverse("admin:routing_routingdecision_change", args=[decision.pk])
    text = page(staff_client.get(detail_url))
    assert "Ana Ruiz (R-104)" in text and "Country is DE (actual: DE)" in text
    assert "Otto Weg" in text and "out of office" in text
    assert "Inbound 1 hour" in text and "Re-route this lead" in text
    reroute = reverse("admin:routing_routingdecision_reroute", args=[decision.pk])
    assert staff_client.get(reroute).status_code == 405
    response = staff_client.post(reroute, {"exclude_owner": "1"})
    assert response.status_code == 302
    newest = RoutingDecision.objects.filter(lead=lead).latest("pk")
    assert newest.pk != decision.pk and response["Location"].endswith(f"/{newest.pk}/change/")
    assert newest.owner_id != dach["ana"].pk  # Ana excluded, Otto out of office: nobody in the pool
    lead.refresh_from_db()


# --- Pools, SLA policies, calendars, clocks ------------------------------------------------------


def test_pool_admin_lists_and_saves_members_audited(staff_client, admin_user, dach):
    text = page(staff_client.get(reverse("admin:routing_pool_changelist")))
    assert "DACH inbound" in text and "Weighted" in text
    team = TeamFactory(name="SDR team")
    data = {
        "name": "EMEA overflow",
        "description": "",
        "strategy": "round_robin",
        "is_active": "on",
        "max_open_leads": "20",
        "max_per_day": "",
        "working_hours_start": "09:00",
        "working_hours_end": "17:00",
        "working_days": "[0, 1, 2, 3, 4]",
        "members-TOTAL_FORMS": "2",
        "members-INITIAL_FORMS": "0",
        "members-MIN_NUM_FORMS": "0",
        "members-MAX_NUM_FORMS": "1000",
        "members-0-position": "0",
        "members-0-rep": str(dach["ana"].pk),
        "members-0-weight": "2",
        "members-0-is_active": "on",
        "members-1-position": "1",
        "members-1-team": str(team.pk),
        "members-1-role": "SDR",
        "members-1-weight": "1",
        "members-1-is_active": "on",
    }
    bad = dict(data, **{"members-1-rep": str(dach["otto"].pk)})  # a rep and a team
    response = staff_client.post(reverse("admin:routing_pool_add"), bad)
    assert response.status_code == 200 and not Pool.objects.filter(name="EMEA overflow").exists()
    assert "not both" in response.content.decode()
    response = staff_client.post(reverse("admin:routing_pool_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    pool = Pool.objects.get(name="EMEA overflow")
    assert pool.members.count() == 2
    member = pool.members.get(rep=dach["ana"])
    assert member.history.latest().history_user == admin_user
    text = page(staff_client.get(reverse("admin:routing_pool_change", args=[pool.pk])))
    assert "Ana Ruiz (R-104)" in text


def test_sla_policy_admin_validates_conditions(staff_client, dach):
    text = page(staff_client.get(reverse("admin:routing_slapolicy_changelist")))
    assert "Inbound 1 hour" in text and "1 h" in text and "always" in text
    data = {
        "name": "Hot leads",
        "priority": "10",
        "is_active": "on",
        "conditions": '{"all": [{"field": "lead.score", "op": "gte", "value": "bad"}]}',
        "target_minutes": "5",
        "reminder_share": "0.5",
    }
    response = staff_client.post(reverse("admin:routing_slapolicy_add"), data)
    assert "conditions" in response.context["adminform"].form.errors
    assert not SlaPolicy.objects.filter(name="Hot leads").exists()
    data["conditions"] = '{"all": [{"field": "lead.score", "op": "gte", "value": 80}]}'
    assert staff_client.post(reverse("admin:routing_slapolicy_add"), data).status_code == 302
    assert SlaPolicy.objects.get(name="Hot leads").fields_used == ["lead.score"]


def test_business_calendar_admin(staff_client):
    team = TeamFactory(name="DACH")
    url = reverse("admin:routing_businesscalendar_add")
    data = {
        "name": "Berlin office",
        "time_zone": "Europe/Berln",
        "working_days": "[0, 1, 2, 3, 4]",
        "day_start": "09:00",
        "day_end": "17:00",
        "holidays": '["2026-12-25"]',
        "teams": [str(team.pk)],
    }
    response = staff_client.post(url, data)
    assert "time_zone" in response.context["adminform"].form.errors
    data["time_zone"] = "Europe/Berlin"
    assert staff_client.post(url, data).status_code == 302
    calendar = BusinessCalendar.objects.get(name="Berlin office")
    assert list(calendar.teams.all()) == [team] and calendar.holidays == ["2026-12-25"]
    text = page(staff_client.get(reverse("admin:routing_businesscalendar_changelist")))
    assert "Mon–Fri" in text and "DACH" in text


def test_sla_clocks_list_and_report(staff_client, dach):
    now = timezone.now()
    lead = LeadFactory()
    SlaClock.objects.create(
        lead=lead,
        owner=dach["ana"],
        policy="Inbound 1 hour",
        target_minutes=60,
        started_at=now - dt.timedelta(hours=2),
        due_at=now - dt.timedelta(hours=1),
        first_touch_at=now - dt.timedelta(minutes=90),
        status="met",
    )
    SlaClock.objects.create(
        lead=LeadFactory(),
        owner=dach["ana"],
        policy="Inbound 1 hour",
        target_minutes=60,
        started_at=now - dt.timedelta(hours=3),
        due_at=now - dt.timedelta(hours=2),
        status="breached",
    )
    text = page(staff_client.get(reverse("admin:routing_slaclock_changelist")))
    assert "Inbound 1 hour" in text and "Met" in text and "Breached" in text
    assert "(after 30 min)" in text and reverse("admin:routing_slaclock_report") in text
    response = staff_client.get(reverse("admin:routing_slaclock_report"), {"days": "7"})
    text = page(response)
    assert "50%" in text and "30.0 min" in text and "Ana Ruiz" in text
    assert [s["key"] for s in response.context["sections"]] == ["team", "rule", "rep"]


# --- Why view, automation reports, access --------------------------------------------------------


def test_why_view_shows_the_routing_decision(staff_client, dach):
    router()
    lead = LeadFactory(country="DE")
    decision = lead_reroute(lead_id=lead.pk)
    assert SlaClock.objects.filter(lead=lead, decision=decision).exists()
    text = page(staff_client.get(reverse("admin:revops_lead_why", args=[lead.pk])))
    panel = text[text.index("rv-panel-routing") :]
    assert "Routing decision" in text
    assert "DACH by country" in panel and "Ana Ruiz (R-104)" in panel
    assert "Otto Weg" in panel and "out of office" in panel
    assert "Inbound 1 hour" in panel and "Due " in panel
    assert "<details" in panel  # rules tried, collapsed


def test_automation_reports_show_the_reassignment_rate(staff_client, dach):
    automation = router()
    now = timezone.now()
    for index in range(4):
        RoutingDecision.objects.create(
            lead=LeadFactory(),
            outcome="assigned",
            rule=dach["de"],
            decided_at=now,
            reassigned_at=now if index < 1 else None,
        )
    text = page(staff_client.get(reverse("admin:revops_automation_change", args=[automation.pk])))
    assert "Reassignment rate (30 d): 25% of 4 routed leads" in text
    assert reverse(RULES_URL) in text


def test_pages_need_staff(client, dach):
    user = UserFactory(username="not-staff")
    client.force_login(user)
    decision = RoutingDecision.objects.create(lead=LeadFactory(), outcome="unassigned", decided_at=timezone.now())
    for url in (
        reverse(RULES_URL),
        reverse("admin:routing_routingrule_preview"),
        reverse("admin:routing_routingrule_backtest"),
        reverse("admin:routing_routingdecision_change", args=[decision.pk]),
        reverse("admin:routing_slaclock_report"),
        reverse("admin:routing_pool_changelist"),
    ):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"], url
    before = list(RoutingRule.objects.order_by("priority").values_list("pk", flat=True))
    response = client.post(reverse("admin:routing_routingrule_move", args=[dach["us"].pk, "up"]))
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert list(RoutingRule.objects.order_by("priority").values_list("pk", flat=True)) == before
    response = client.post(reverse("admin:routing_routingdecision_reroute", args=[decision.pk]))
    assert response.status_code == 302 and RoutingDecision.objects.count() == 1


def test_staff_without_rule_permissions_cannot_move_or_preview(client, dach):
    from exceptions.roles import MANAGER, assign_role

    manager = UserFactory(username="manager")
    assign_role(manager, MANAGER)
    client.force_login(manager)
    assert client.get(reverse("admin:routing_routingrule_preview")).status_code == 403
    before = list(RoutingRule.objects.order_by("priority").values_list("pk", flat=True))
    response = client.post(reverse("admin:routing_routingrule_move", args=[dach["us"].pk, "up"]))
    assert response.status_code in (403, 404)  # 404: a rule that does not affect their teams is hidden
    assert list(RoutingRule.objects.order_by("priority").values_list("pk", flat=True)) == before
