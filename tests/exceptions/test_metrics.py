"""The queue's override rate on known approvals, counted as ``automation_override_rate`` counts."""

import datetime as dt

import pytest

from exceptions.approvals import automation_override_rate
from exceptions.models import ExceptionItem
from revops.metrics.rollup import metrics_rollup
from revops.metrics.selectors import metrics_read
from tests.exceptions.support import make_queue, open_item
from tests.factories import TeamFactory
from tests.revops.automation_support import make_automation

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 2)
NOON = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)


def test_override_rate_per_day_and_team(settings):
    settings.TIME_ZONE = "UTC"
    east, west = TeamFactory(name="East"), TeamFactory(name="West")
    q_east, q_west = make_queue("East approvals", team=east), make_queue("West approvals", team=west)
    automation = make_automation()
    decisions = [
        (q_east, "overridden"),
        (q_east, "approved"),
        (q_east, "rejected"),
        (q_west, "overridden"),
        (q_west, ""),
    ]
    for n, (queue, decision) in enumerate(decisions):
        it = open_item(f"ap{n}", kind="approval_required", queue=queue, automation=automation)
        closed = {"resolved_at": NOON, "status": "resolved"} if decision else {}
        ExceptionItem.objects.filter(pk=it.pk).update(
            first_seen_at=NOON - dt.timedelta(hours=1), decision=decision, **closed
        )
    open_item("not-an-approval", queue=q_east)
    metrics_rollup(now=NOON + dt.timedelta(hours=1), full=True)

    def rate(team_ids):
        data = metrics_read(start=DAY, end=DAY, team_ids=team_ids, keys=["override_rate"])
        return data[0]["series"][0]["total"]

    assert rate({east.pk}) == 33.3
    assert rate({west.pk}) == 100.0
    assert rate(None) == 50.0
    assert automation_override_rate(automation=automation)["override_rate"] == 0.5
