"""The renewal scan reads in chunks: a rescan that finds nothing new costs the same number of queries
for 4 accounts as for 40, whatever each account's history."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from monitors.models import AccountChange
from monitors.renewal_scan import renewal_scan
from tests.factories import AccountFactory

from .renewal_support import account_fields, renewal_policy, team

pytestmark = pytest.mark.django_db


def red_customers(rep, n: int, start: int):
    renews = (timezone.localdate() + dt.timedelta(days=20)).isoformat()
    for i in range(start, start + n):
        account = AccountFactory(
            owner=rep,
            customer_status="customer",
            attributes={"health_score": 20, "renewal_date": renews, "arr": 200000, "executive_sponsor": "Sam"},
        )
        for days in (40, 20, 10):
            AccountChange.objects.create(
                account=account,
                field="weekly_active_users",
                old_value="300",
                new_value="100",
                changed_at=timezone.now() - dt.timedelta(days=days),
                outbox_event_id=i * 100 + days,
            )


def rescan_queries() -> int:
    with CaptureQueriesContext(connection) as queries:
        counts = renewal_scan()
    assert not counts.get("items_created") and not counts.get("tasks_created")
    return len(queries)


def test_a_rescan_costs_the_same_for_ten_times_the_accounts():
    account_fields()
    _, _, rep = team("MM")
    for policy in ("renewal_task", "save_plan", "health_red", "usage_drop", "sponsor_loss"):
        renewal_policy(policy)
    renewal_policy("finance_notice", recipient="finance@example.com")
    red_customers(rep, 4, 1)
    first = renewal_scan()
    assert first["items_created"] == 4 and first["tasks_created"] == 8
    few = rescan_queries()

    red_customers(rep, 36, 100)
    assert renewal_scan()["items_created"] == 36
    assert rescan_queries() == few
