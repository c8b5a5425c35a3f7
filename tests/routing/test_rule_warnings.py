"""Editing routing rules safely: warnings (equal priorities, never-reached rules, no fallback), the list's
statement of order and fallback, confirmation before going live, moves that leave other rules alone,
and working days / holidays edited without JSON."""

import re

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from exceptions.models import Queue
from revops.engine.services import automation_create
from routing.models import BusinessCalendar, Pool, RoutingRule
from routing.rule_warnings import rule_warnings
from routing.services import routing_rule_move
from tests.factories import RepFactory, UserFactory

pytestmark = pytest.mark.django_db

DE = {"all": [{"field": "lead.country", "op": "eq", "value": "DE"}]}
US = {"all": [{"field": "lead.country", "op": "eq", "value": "US"}]}
EVERY = {"all": []}


@pytest.fixture
def staff_client(client, admin_user, settings):
    settings.SECURE_SSL_REDIRECT = False
    client.force_login(admin_user)
    return client


def router(fallback=None):
    owner = UserFactory(username="revops.lead")
    Queue.objects.get_or_create(name="RevOps")
    return automation_create(
        actor=owner,
        name="Lead routing",
        purpose="Route every new lead to the right owner.",
        kind="lead_routing",
        object_type="lead",
        trigger="created",
        conditions=EVERY,
        config={"fallback": fallback or {"type": "none"}},
        rule_owner=owner,
        failure_owner=owner,
        exception_queue="RevOps",
        mode="live",
    )


def rule(name, conditions, priority, status="live", **target):
    if not target:
        Queue.objects.get_or_create(name="Review")
        target = {"target_type": "queue", "target_queue": "Review"}
    return RoutingRule.objects.create(name=name, conditions=conditions, priority=priority, status=status, **target)


def kinds(warnings):
    return sorted((w.kind, w.rule_name) for w in warnings)


# --- warnings ---------------------------------------------------------------------------------


def test_equal_priorities_warn_on_each_rule_naming_the_other():
    router({"type": "queue", "queue": "RevOps"})
    rule("Germany", DE, 50)
    rule("United States", US, 50, status="shadow")
    rule("Old", US, 50, status="disabled")  # disabled rules are not evaluated: no warning
    warnings = rule_warnings()
    assert kinds(warnings) == [("same_priority", "Germany"), ("same_priority", "United States")]
    assert "“United States”" in warnings[0].message and "priority (50)" in warnings[0].message


def test_rules_after_a_catch_all_or_the_same_conditions_are_never_reached():
    router()
    rule("Germany", DE, 10)
    rule("Germany again", DE, 20, status="draft")
    rule("Everyone to review", EVERY, 30)
    rule("United States", US, 40, status="shadow")
    warnings = rule_warnings()
    assert kinds(warnings) == [("unreachable", "Germany again"), ("unreachable", "United States")]
    assert "“Everyone to review” (priority 30)" in warnings[1].message and "every lead" in warnings[1].message
    # A live catch-all routing to a queue is itself the fallback: no "no fallback" warning.
    assert "no_fallback" not in {w.kind for w in warnings}


def test_a_rep_target_can_pass_the_lead_on_so_later_rules_stay_reachable():
    router({"type": "queue", "queue": "RevOps"})
    rule("Everyone to Ana", EVERY, 10, target_type="rep", target_rep=RepFactory(name="Ana"))
    rule("Germany", DE, 20)
    inactive = Pool.objects.create(name="Old pool", is_active=False)
    rule("Everyone to the old pool", EVERY, 30, target_type="pool", target_pool=inactive)
    rule("United States", US, 40)
    assert rule_warnings() == []


def test_live_rules_without_a_fallback_and_rules_without_a_router():
    rule("Germany", DE, 10)
    assert kinds(rule_warnings()) == [("no_router", "")]
    automation = router()
    assert kinds(rule_warnings()) == [("no_fallback", "")]
    assert "“Lead routing”" in rule_warnings()[0].message
    automation.config = {"fallback": {"type": "queue", "queue": "RevOps"}}
    automation.save()
    assert rule_warnings() == []


# --- the list and the form --------------------------------------------------------------------


def test_the_list_states_order_and_fallback_and_shows_warnings(staff_client):
    router({"type": "queue", "queue": "RevOps"})
    rule("Germany", DE, 50)
    rule("Austria", {"all": [{"field": "lead.country", "op": "eq", "value": "AT"}]}, 50)
    text = staff_client.get(reverse("admin:routing_routingrule_changelist")).content.decode()
    assert "Rules are tried in priority order, lowest first" in text
    assert "Leads no live rule takes go to manual review in the RevOps queue" in text
    assert 'id="rv-rules-warnings"' in text and "the same priority (50)" in text


def form(**values):
    data = {
        "name": "Germany",
        "description": "",
        "priority": "40",
        "status": "live",
        "conditions": '{"all": [{"field": "lead.country", "op": "eq", "value": "DE"}]}',
        "target_type": "queue",
        "target_queue": "Review",
        "approval_owner": "",
        "use_parent_account": "on",
        "when_unavailable": "next_rule",
    }
    return {**data, **values}


def test_going_live_needs_a_confirmation_that_says_what_it_means(staff_client):
    router({"type": "queue", "queue": "RevOps"})
    Queue.objects.get_or_create(name="Review")
    rule("United States", US, 40)
    url = reverse("admin:routing_routingrule_add")
    response = staff_client.post(url, form())
    errors = " ".join(response.context["adminform"].form.errors.get("confirm_live", []))
    assert "live rule 2 of 2" in errors and "the same priority (40)" in errors
    assert not RoutingRule.objects.filter(name="Germany").exists()
    # A draft needs no confirmation; making it live later does.
    assert staff_client.post(url, form(status="draft")).status_code == 302
    germany = RoutingRule.objects.get(name="Germany")
    change = reverse("admin:routing_routingrule_change", args=[germany.pk])
    response = staff_client.post(change, form(status="live", priority="30"))
    assert "confirm_live" in response.context["adminform"].form.errors
    response = staff_client.post(change, form(status="live", priority="30", confirm_live="on"))
    assert response.status_code == 302
    germany.refresh_from_db()
    assert germany.status == "live"
    # Saving a rule that is already live needs no new confirmation.
    assert staff_client.post(change, form(status="live", priority="30", description="DACH")).status_code == 302


def test_saving_a_rule_shows_its_warnings(staff_client):
    router()
    Queue.objects.get_or_create(name="Review")
    rule("Germany first", DE, 10)
    response = staff_client.post(reverse("admin:routing_routingrule_add"), form(confirm_live="on"), follow=True)
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("“Germany” is never reached" in t for t in texts), texts
    assert any("Live rules without a fallback" in t for t in texts), texts


# --- moving rules -------------------------------------------------------------------------------


def priorities():
    return dict(RoutingRule.objects.values_list("name", "priority"))


def test_moving_a_rule_changes_only_it_and_the_rule_it_passes(admin_user):
    a, _b, c, _d = rule("A", DE, 5), rule("B", US, 17), rule("C", EVERY, 40), rule("D", DE, 100)
    changed = routing_rule_move(rule=c, direction="up", actor=admin_user)
    assert {r.name for r in changed} == {"B", "C"}
    assert priorities() == {"A": 5, "B": 40, "C": 17, "D": 100}
    assert list(RoutingRule.objects.values_list("name", flat=True)) == ["A", "C", "B", "D"]
    assert routing_rule_move(rule=a, direction="up", actor=admin_user) == []  # already first
    assert c.history.latest().history_user == admin_user


def test_moving_past_an_equal_priority_moves_only_the_rule():
    admin = UserFactory(username="mover")
    rule("A", DE, 50)
    b = rule("B", US, 100)
    rule("C", EVERY, 100)
    routing_rule_move(rule=RoutingRule.objects.get(name="C"), direction="up", actor=admin)
    assert list(RoutingRule.objects.values_list("name", flat=True)) == ["A", "C", "B"]
    assert priorities()["A"] == 50 and priorities()["B"] == 100  # untouched
    routing_rule_move(rule=b, direction="up", actor=admin)  # and back: B above C again
    assert list(RoutingRule.objects.values_list("name", flat=True)) == ["A", "B", "C"]
    assert priorities()["A"] == 50


def test_without_room_the_rules_are_renumbered():
    admin = UserFactory(username="mover")
    rule("A", DE, 0)
    rule("B", US, 0)
    c = rule("C", EVERY, 0)
    changed = routing_rule_move(rule=c, direction="up", actor=admin)
    assert list(RoutingRule.objects.values_list("name", flat=True)) == ["A", "C", "B"]
    assert priorities() == {"A": 10, "C": 20, "B": 30} and {r.name for r in changed} == {"A", "B", "C"}


def test_the_move_button_says_what_changed(staff_client):
    rule("A", DE, 10)
    b = rule("B", US, 20)
    rule("C", EVERY, 30)
    url = reverse("admin:routing_routingrule_move", args=[b.pk, "up"])
    response = staff_client.post(url, follow=True)
    texts = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("Moved 'B' up: it now has priority 10 ('A' now has 20; the other rules keep theirs)" in t for t in texts)
    assert priorities()["C"] == 30


# --- working days and holidays without JSON --------------------------------------------------------


def test_calendar_working_days_are_checkboxes_and_holidays_date_pickers(staff_client):
    url = reverse("admin:routing_businesscalendar_add")
    text = staff_client.get(url).content.decode()
    assert 'type="checkbox" name="working_days" value="0"' in text and 'type="date" name="holidays"' in text
    assert 'type="time" name="day_start"' in text
    assert re.search(r'name="working_days" value="4"[^>]*checked', text)  # Mon–Fri for a new calendar
    assert not re.search(r'name="working_days" value="5"[^>]*checked', text)
    data = {
        "name": "Berlin office",
        "time_zone": "Europe/Berlin",
        "working_days": ["0", "1", "2", "3"],
        "day_start": "08:30",
        "day_end": "16:00",
        "holidays": ["2026-12-25", "", "2026-12-24", "2026-12-25"],
    }
    response = staff_client.post(url, {**data, "holidays": ["2026-13-01"]})
    assert "is not a date" in " ".join(response.context["adminform"].form.errors["holidays"])
    response = staff_client.post(url, {**data, "working_days": []})
    assert "at least one working day" in " ".join(response.context["adminform"].form.errors["working_days"])
    assert staff_client.post(url, data).status_code == 302
    calendar = BusinessCalendar.objects.get(name="Berlin office")
    assert calendar.working_days == [0, 1, 2, 3] and calendar.holidays == ["2026-12-24", "2026-12-25"]
    change = staff_client.get(reverse("admin:routing_businesscalendar_change", args=[calendar.pk])).content.decode()
    assert 'value="2026-12-24"' in change
    assert re.search(r'name="working_days" value="3"[^>]*checked', change)
    assert not re.search(r'name="working_days" value="4"[^>]*checked', change)


def test_pool_working_days_are_checkboxes_and_json_still_works(staff_client):
    url = reverse("admin:routing_pool_add")
    base = {
        "name": "EMEA",
        "description": "",
        "strategy": "round_robin",
        "is_active": "on",
        "respect_working_hours": "on",
        "working_hours_start": "09:00",
        "working_hours_end": "17:00",
        "members-TOTAL_FORMS": "0",
        "members-INITIAL_FORMS": "0",
        "members-MIN_NUM_FORMS": "0",
        "members-MAX_NUM_FORMS": "1000",
    }
    assert staff_client.post(url, {**base, "working_days": ["4", "0", "2"]}).status_code == 302
    assert Pool.objects.get(name="EMEA").working_days == [0, 2, 4]
    response = staff_client.post(url, {**base, "name": "APAC", "working_days": "[0, 9]"})
    assert "working_days" in response.context["adminform"].form.errors
    assert staff_client.post(url, {**base, "name": "APAC", "working_days": "[1, 2]"}).status_code == 302
    assert Pool.objects.get(name="APAC").working_days == [1, 2]
