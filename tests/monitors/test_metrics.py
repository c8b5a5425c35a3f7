"""The monitors' dashboard metrics: hygiene issues per team, renewal task completion (UTC)."""

import datetime as dt

import pytest

from exceptions.models import ExceptionItem
from monitors.hygiene import ITEM_KIND
from revops.metrics.rollup import metrics_rollup
from revops.metrics.selectors import metrics_read
from revops.models import Automation, Task
from tests.exceptions.support import open_item
from tests.factories import AccountFactory, OpportunityFactory, RepFactory, TaskFactory, TeamFactory

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 2)
NOON = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)


def read(key, team_ids=None):
    data = metrics_read(start=DAY, end=DAY, team_ids=team_ids, keys=[key])
    return [s["total"] for s in data[0]["series"]]


def test_hygiene_issues_and_renewal_tasks_per_team(settings):
    settings.TIME_ZONE = "UTC"
    east, west = TeamFactory(name="East"), TeamFactory(name="West")
    ann, bob = RepFactory(team=east), RepFactory(team=west)
    for n, owner in enumerate([ann, ann, bob]):
        deal = OpportunityFactory(owner=owner)
        it = open_item(f"h{n}", kind=ITEM_KIND, object_type="opportunity", object_id=deal.pk)
        ExceptionItem.objects.filter(pk=it.pk).update(first_seen_at=NOON)
    open_item("other", object_type="opportunity", object_id=OpportunityFactory(owner=bob).pk)

    Automation.objects.create(
        name="Renewal risk 90 days", purpose="Renewals", kind="renewal_monitor", object_type="account"
    )
    for status, owner in [("done", ann), ("open", ann), ("cancelled", ann), ("done", bob)]:
        task = TaskFactory(
            owner=owner, account=AccountFactory(), created_by_automation="Renewal risk 90 days", status=status
        )
        Task.objects.filter(pk=task.pk).update(created_at=NOON)
    TaskFactory(owner=bob, created_by_automation="Hot lead follow-up", status="open")  # not a renewal task
    metrics_rollup(now=NOON + dt.timedelta(hours=1), full=True)

    assert read("hygiene_issues", {east.pk}) == [2]
    assert read("hygiene_issues", {west.pk}) == [1]
    assert read("renewal_task_completion", {east.pk}) == [50.0]
    assert read("renewal_task_completion") == [66.7]
