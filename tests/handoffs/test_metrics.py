"""Handoff completeness on known handoffs (UTC)."""

import datetime as dt

import pytest

from handoffs.models import Checklist, Handoff
from revops.metrics.rollup import metrics_rollup
from revops.metrics.selectors import metrics_read
from tests.factories import AccountFactory, OpportunityFactory, RepFactory, TeamFactory

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 2)
NOON = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)


def test_handoff_completeness_per_team(settings):
    settings.TIME_ZONE = "UTC"
    sales, renewals = TeamFactory(name="Sales"), TeamFactory(name="Account management")
    seller, manager = RepFactory(team=sales), RepFactory(team=renewals)
    checklist = Checklist.objects.create(name="Sales → Onboarding")
    renewal = Checklist.objects.create(name="Renewal prep", kind="renewal")
    for status in ("ready", "sent", "accepted", "waiting", "rejected", "cancelled"):
        Handoff.objects.create(
            checklist=checklist, opportunity=OpportunityFactory(owner=seller), status=status, created_at=NOON
        )
    Handoff.objects.create(checklist=renewal, account=AccountFactory(owner=manager), status="waiting", created_at=NOON)
    Handoff.objects.create(  # another day
        checklist=checklist,
        opportunity=OpportunityFactory(owner=seller),
        status="waiting",
        created_at=NOON - dt.timedelta(days=1),
    )
    metrics_rollup(now=NOON, full=True)

    def rate(team_ids):
        data = metrics_read(start=DAY, end=DAY, team_ids=team_ids, keys=["handoff_completeness"])
        return [s["total"] for s in data[0]["series"]]

    # Sales: ready, sent and accepted of five (cancelled left out); renewals: none of one.
    assert rate({sales.pk}) == [60.0]
    assert rate({renewals.pk}) == [0.0]
    assert rate(None) == [50.0]
