"""Automation health on known data with a fixed clock: the per-automation counters, each signal and
its status and reasons, the monthly review's suggestions (no duplicate on a re-run, closed when
the signal clears), and the pages' scoping and query count."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from exceptions.models import ExceptionItem
from exceptions.roles import ADMIN, MANAGER, assign_role
from revops.engine.health import automation_health
from revops.engine.health_review import ITEM_KIND, automation_health_review
from revops.metrics.registry import metric, metrics
from revops.metrics.rollup import metrics_rollup
from revops.models import AppliedAction, Automation, FieldDefinition, RunRevert
from tests.exceptions.support import make_queue, open_item
from tests.factories import LeadFactory, UserFactory
from tests.revops.automation_support import make_automation, make_run

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 6, 30)
NOON = dt.datetime(2026, 6, 29, 12, tzinfo=dt.UTC)
LATER = NOON + dt.timedelta(days=1, hours=2)


@pytest.fixture
def world(settings):
    settings.TIME_ZONE = "UTC"
    owner = UserFactory(username="olga.owner")
    make_queue("RevOps triage")
    automation = make_automation(
        rule_owner=owner, failure_owner=owner, exception_queue="RevOps triage", minutes_saved_per_run=5
    )
    Automation.objects.filter(pk=automation.pk).update(
        mode="live", created_at=NOON - dt.timedelta(days=400), last_reviewed_at=TODAY
    )
    automation.refresh_from_db()
    return automation, LeadFactory(), owner


def roll():
    metrics_rollup(now=LATER, full=True)


def health(automation, days=30):
    automation.refresh_from_db()
    return automation_health(automation, days=days, today=TODAY)


def close(item, *, status="dismissed", code="dismissed", by=None, when=NOON, **values):
    ExceptionItem.objects.filter(pk=item.pk).update(
        status=status, resolution_code=code, resolved_at=when, resolved_by=by, **values
    )


def item(automation, key, **fields):
    it = open_item(key, automation=automation, queue_name="RevOps triage", **fields)
    ExceptionItem.objects.filter(pk=it.pk).update(first_seen_at=NOON)
    return it


def fire(automation, lead, n, *, outcome="fired", prefix="r", actions=()):
    runs = [
        make_run(automation, lead, key=f"{prefix}{i}", outcome=outcome, when=NOON, actions=actions) for i in range(n)
    ]
    AppliedAction.objects.filter(run__in=runs).update(created_at=NOON)
    return runs


def test_per_automation_counters_are_rolled_up_but_not_dashboard_metrics(world):
    automation, lead, owner = world
    fire(automation, lead, 3, actions=[("create_task", "applied", {}, {}), ("open_exception", "applied", {}, {})])
    fire(automation, lead, 2, outcome="not_fired", prefix="n")
    fire(automation, lead, 1, outcome="error", prefix="e")
    make_run(automation, lead, key="shadow", mode="shadow", when=NOON)  # shadow: left out
    person = UserFactory(username="pat.person")
    close(item(automation, "done"), status="resolved", code="fixed_in_crm", by=person)
    close(item(automation, "dismissed"), by=person)
    close(item(automation, "expired"), status="resolved", code="not_an_issue")  # by the system, unclaimed
    item(automation, "still-open")
    appr = item(automation, "approval", kind="approval_required")
    close(appr, status="resolved", code="", by=person, decision="overridden")
    RunRevert.objects.create(run=automation.runs.first(), actor=person, reason="wrong")
    RunRevert.objects.update(created_at=NOON)
    roll()
    h = health(automation)
    assert h.counts == {
        "health_runs": 6,
        "health_fired": 3,
        "health_not_fired": 2,
        "health_errors": 1,
        "health_actions": 3,  # opening an item is not a completed action
        "health_items_created": 4,  # the approval is left out
        "health_items_completed": 1,
        "health_items_ignored": 2,
        "health_approvals": 1,
        "health_overrides": 1,
        "health_reverts": 1,
    }
    assert h.minutes_saved == 15
    assert ("Alerts ignored", 2) in h.rows()
    assert metric("health_runs") is None
    assert all(not m.per_automation for m in metrics())


def test_a_quiet_healthy_automation(world):
    automation, lead, _ = world
    fire(automation, lead, 4)
    roll()
    h = health(automation)
    assert (h.status, h.signals) == ("healthy", [])
    assert h.reasons == ["It fired 4 times in the last 30 days; no signal tripped."]


def test_most_alerts_ignored_trips_only_above_the_share_and_the_minimum(world, settings):
    automation, lead, _ = world
    fire(automation, lead, 5, actions=[("create_task", "applied", {}, {})])
    person = UserFactory(username="pat.person")
    for n in range(2):
        close(item(automation, f"d{n}"), by=person)
    roll()
    assert health(automation).status == "healthy"  # 2 closed: under the minimum of 3
    close(item(automation, "done"), status="resolved", code="fixed_in_crm", by=person)
    roll()
    h = health(automation)
    assert [s.key for s in h.signals] == ["ignored"]
    assert h.status == "review"
    assert h.reasons[0] == (
        "Most of its alerts are ignored: of the 3 items it raised that were closed in the last 30 days, "
        "2 (67 %) were dismissed or expired without action."
    )
    settings.HEALTH_IGNORED_PERCENT = 70
    assert health(automation).status == "healthy"


def test_high_override_rate(world, settings):
    automation, lead, _ = world
    fire(automation, lead, 5)
    person = UserFactory(username="pat.person")
    for n, decision in enumerate(["overridden", "overridden", "approved", "approved", "approved"]):
        close(
            item(automation, f"a{n}", kind="approval_required"),
            status="resolved",
            code="",
            by=person,
            decision=decision,
        )
    roll()
    h = health(automation)
    assert [s.key for s in h.signals] == ["overrides"]
    assert "2 of the 5 approvals decided in the last 30 days (40 %)" in h.reasons[0]
    settings.HEALTH_OVERRIDE_MIN = 6
    assert health(automation).signals == []


def test_more_exceptions_than_completed_actions(world):
    automation, lead, _ = world
    fire(automation, lead, 2, actions=[("create_task", "applied", {}, {})])
    for n in range(3):
        item(automation, f"x{n}")
    roll()
    h = health(automation)
    assert [s.key for s in h.signals] == ["exceptions"]
    assert "3 exception items opened in the last 30 days against 2 actions completed" in h.reasons[0]


def test_no_fires_in_90_days_suggests_retiring_but_not_a_young_automation(world):
    automation, lead, _ = world
    fire(automation, lead, 3, outcome="not_fired")
    make_run(automation, lead, key="old", when=NOON - dt.timedelta(days=95))  # fired, but long ago
    roll()
    h = health(automation)
    assert [s.key for s in h.signals] == ["no_fires"]
    assert h.status == "retire"
    assert h.reasons[0] == "It has not fired in the last 90 days (it ran 3 times without firing); nothing needs it."
    Automation.objects.filter(pk=automation.pk).update(created_at=NOON - dt.timedelta(days=20))
    young = health(automation)
    assert young.status == "healthy"
    assert "younger than 90 days" in young.reasons[0]


def test_a_deprecated_dictionary_field_in_the_conditions(world):
    automation, lead, _ = world
    fire(automation, lead, 2)
    roll()
    FieldDefinition.objects.filter(object_type="lead", key="score").update(is_deprecated=True)
    h = health(automation)
    assert [s.key for s in h.signals] == ["deprecated"]
    assert h.reasons[0].startswith("Its conditions read deprecated dictionary fields: ")
    assert "(lead.score)" in h.reasons[0]


def test_watch_reasons_errors_reverts_review_and_not_live(world):
    automation, lead, _ = world
    fire(automation, lead, 9)
    fire(automation, lead, 1, outcome="error", prefix="e")
    Automation.objects.filter(pk=automation.pk).update(last_reviewed_at=TODAY - dt.timedelta(days=200))
    roll()
    h = health(automation)
    assert h.status == "watch"
    assert h.reasons[0] == "1 of its 10 runs in the last 30 days ended in an error (10 %)."
    assert h.reasons[1].startswith("Its review was due on ")
    Automation.objects.filter(pk=automation.pk).update(mode="retired")
    retired = health(automation)
    assert retired.status is None and retired.status_label == "Not live"


def test_the_review_opens_one_suggestion_per_signal_refreshes_and_closes(world, settings):
    automation, lead, owner = world
    fire(automation, lead, 3, outcome="not_fired")
    FieldDefinition.objects.filter(object_type="lead", key="score").update(is_deprecated=True)
    roll()
    first = automation_health_review(today=TODAY, rollup=False)
    assert (first.opened, first.refreshed, first.closed) == (2, 0, 0)
    items = ExceptionItem.objects.filter(kind=ITEM_KIND).order_by("dedupe_key")
    assert [i.dedupe_key for i in items] == [
        f"automation_health:{automation.pk}:deprecated",
        f"automation_health:{automation.pk}:no_fires",
    ]
    assert {i.owner for i in items} == {owner}
    assert {i.queue.name for i in items} == {"RevOps triage"}
    assert items[1].title == "Consider retiring Hot lead follow-up: no fires in 90 days"
    again = automation_health_review(today=TODAY, rollup=False)
    assert (again.opened, again.refreshed) == (0, 2)
    assert ExceptionItem.objects.filter(kind=ITEM_KIND).count() == 2
    assert ExceptionItem.objects.get(dedupe_key__endswith=":no_fires").occurrences == 2
    FieldDefinition.objects.filter(object_type="lead", key="score").update(is_deprecated=False)
    cleared = automation_health_review(today=TODAY, rollup=False)
    assert (cleared.opened, cleared.refreshed, cleared.closed) == (0, 1, 1)
    closed = ExceptionItem.objects.get(dedupe_key__endswith=":deprecated")
    assert closed.status == "resolved" and "signal cleared" in closed.resolution_note


def test_suggestions_do_not_count_as_the_automations_own_items(world):
    automation, lead, _ = world
    fire(automation, lead, 3, outcome="not_fired")
    roll()
    automation_health_review(today=TODAY, rollup=False)
    roll()
    assert "health_items_created" not in health(automation).counts


def test_the_review_page_and_health_page_are_for_revops_admins(world, client):
    automation, lead, _ = world
    fire(automation, lead, 3, outcome="not_fired")
    for n in range(3):
        other = make_automation(name=f"Other {n}")
        fire(other, lead, 2, prefix=f"o{n}-")
    roll()
    admin = UserFactory(username="rita.revops")
    assign_role(admin, ADMIN)
    manager = UserFactory(username="mo.manager")
    assign_role(manager, MANAGER)
    review = reverse("admin:revops_automation_health_review")
    page = reverse("admin:revops_automation_health", args=[automation.pk])
    client.force_login(manager)
    assert client.get(review).status_code == 403
    assert client.get(page).status_code == 403
    listing = client.get(reverse("admin:revops_automation_changelist"))
    assert listing.status_code == 200 and b"Health review" not in listing.content
    client.force_login(admin)
    response = client.get(review)
    assert response.status_code == 200
    text = response.content.decode()
    assert "Hot lead follow-up" in text and "Other 2" in text
    with CaptureQueriesContext(connection) as few:
        client.get(review)
    for n in range(3, 8):
        fire(make_automation(name=f"Other {n}"), lead, 1, prefix=f"o{n}-")
    roll()
    with CaptureQueriesContext(connection) as more:
        client.get(review)
    assert len(more) == len(few)  # no query per automation
    response = client.get(page + "?days=7")
    assert response.status_code == 200
    assert "Health: Hot lead follow-up" in response.content.decode()
    bad = client.get(page + "?days=soon")
    assert bad.status_code == 200
    assert "is not a window; give a whole number of days from 1 to 731" in bad.content.decode()
    listing = client.get(reverse("admin:revops_automation_changelist"))
    assert page.encode() in listing.content and review.encode() in listing.content
    assert client.get(reverse("admin:revops_automation_change", args=[automation.pk])).content.count(page.encode())
    assert review.encode() in client.get(reverse("revops-dashboard")).content


def test_the_run_now_button_opens_the_suggestions(world, client):
    automation, lead, _ = world
    fire(automation, lead, 3, outcome="not_fired")
    admin = UserFactory(username="rita.revops")
    assign_role(admin, ADMIN)
    client.force_login(admin)
    response = client.post(reverse("admin:revops_automation_health_review"), follow=True)
    # Today (the real clock) its only runs are far more than 90 days old: it has not fired since.
    assert "1 suggestion opened" in response.content.decode()
    suggestion = ExceptionItem.objects.get(kind=ITEM_KIND, automation=automation)
    assert suggestion.dedupe_key.endswith(":no_fires")
    assert response.request["PATH_INFO"] == reverse("admin:revops_automation_health_review")
    page = client.get(reverse("admin:exceptions_exceptionitem_change", args=[suggestion.pk])).content.decode()
    assert 'id="rv-item-health"' in page and "Health: Retire" in page
    assert reverse("admin:revops_automation_health", args=[automation.pk]) in page


def test_the_demo_review_suggests_reviewing_the_router_from_its_dismissed_alerts():
    from revops.demo import demo_load

    assert demo_load(seed=42).created
    suggestions = list(ExceptionItem.objects.filter(kind=ITEM_KIND, status="open"))
    router = next(s for s in suggestions if s.automation.name == "Lead routing")
    assert router.dedupe_key.endswith(":ignored")
    assert router.owner == router.automation.rule_owner
    ignored = ExceptionItem.objects.filter(automation=router.automation, status="dismissed").count()
    assert ignored >= 3 and f"{ignored} (100 %) were dismissed or expired without action" in router.reason
    rerun = automation_health_review()
    assert rerun.opened == 0 and rerun.refreshed == len(suggestions)
