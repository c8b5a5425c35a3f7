"""The engine's dashboard metrics on known runs, reverts, approvals and items (UTC, one day)."""

import datetime as dt

import pytest

from exceptions.models import ExceptionItem
from revops.metrics.rollup import metrics_rollup
from revops.metrics.selectors import metrics_read
from revops.models import AppliedAction, ChangeEntry
from tests.exceptions.support import make_queue, open_item
from tests.factories import LeadFactory, RepFactory, TeamFactory, UserFactory
from tests.revops.automation_support import make_automation, make_run

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 2)
NOON = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)


@pytest.fixture
def world(settings):
    settings.TIME_ZONE = "UTC"
    east, west = TeamFactory(name="East"), TeamFactory(name="West")
    east_lead = LeadFactory(owner=RepFactory(team=east))
    west_lead = LeadFactory(owner=RepFactory(team=west))
    return east, west, east_lead, west_lead, make_automation()


def read(key, team_ids=None):
    data = metrics_read(start=DAY, end=DAY, team_ids=team_ids, keys=[key])
    return {s["name"]: s["total"] for s in data[0]["series"]}


def test_success_and_error_rates_of_live_runs(world):
    east, west, east_lead, west_lead, automation = world
    for n, outcome in enumerate(["fired", "fired", "not_fired", "error"]):
        make_run(automation, east_lead, key=f"e{n}", outcome=outcome, when=NOON)
    make_run(automation, west_lead, key="w1", outcome="error", when=NOON)
    make_run(automation, west_lead, key="w2", outcome="error", mode="shadow", when=NOON)  # shadow: not counted
    make_run(automation, west_lead, key="w3", outcome="pending", when=NOON)  # not finished
    metrics_rollup(now=NOON + dt.timedelta(hours=1), full=True)
    assert read("automation_success", {east.pk}) == {"Automation success rate": 75.0}
    assert read("automation_errors", {east.pk}) == {"Error rate": 25.0}
    assert read("automation_errors", {west.pk}) == {"Error rate": 100.0}
    assert read("automation_success") == {"Automation success rate": 60.0}


def test_unintended_side_effects_and_the_share_of_work(world):
    east, west, east_lead, west_lead, automation = world
    q_east, q_west = make_queue("East", team=east), make_queue("West", team=west)
    applied = [("update_field", "applied", {}, {}), ("create_task", "applied", {}, {}), ("notify", "shadow", {}, {})]
    run = make_run(automation, east_lead, key="r1", when=NOON, actions=applied)
    AppliedAction.objects.filter(run=run).update(created_at=NOON)
    ChangeEntry.objects.create(
        kind=ChangeEntry.Kind.values[0],
        object_type="lead",
        external_id=east_lead.external_id,
        dedupe_key=f"revert:run:{run.pk}:1",
    )
    ChangeEntry.objects.filter(dedupe_key__startswith="revert:").update(created_at=NOON)
    person = UserFactory(username="closer")
    closed = [
        ("rej", q_east, "approval_required", {"decision": "rejected", "status": "resolved"}),
        ("noise", q_west, "missing_data", {"status": "dismissed", "resolution_code": "noise"}),
        ("plain", q_west, "missing_data", {"status": "dismissed", "resolution_code": "duplicate"}),
    ]
    for key, queue, kind, values in closed:
        it = open_item(key, kind=kind, queue=queue)
        ExceptionItem.objects.filter(pk=it.pk).update(resolved_at=NOON, resolved_by=person, **values)
    metrics_rollup(now=NOON + dt.timedelta(hours=1), full=True)
    assert read("side_effects") == {"Reverted runs": 1, "Rejected approvals": 1, "Items dismissed as wrong": 1}
    assert read("side_effects", {west.pk}) == {"Items dismissed as wrong": 1}
    assert read("work_share") == {"Done by automation": 2, "Done by hand": 3}
    assert read("work_share", {east.pk}) == {"Done by automation": 2, "Done by hand": 1}
