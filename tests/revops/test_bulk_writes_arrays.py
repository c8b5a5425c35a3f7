"""``InArray`` (one array parameter on PostgreSQL, ``IN`` elsewhere) and the one-statement bulk
update with history that the re-evaluation of handoffs relies on."""

import datetime as dt
import decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from revops import bulk_writes
from revops.bulk_writes import InArray
from revops.models import Opportunity, Rep, Team

pytestmark = pytest.mark.django_db


def test_in_array_filters_like_in_with_one_parameter_on_postgresql():
    team = Team.objects.create(external_id="T-1", name="Sales")
    reps = [Rep.objects.create(external_id=f"R-{i}", name=f"Rep {i}", team=team) for i in range(5)]
    wanted = [reps[0].pk, reps[3].pk, 10**9]
    with CaptureQueriesContext(connection) as queries:
        found = set(Rep.objects.filter(InArray("pk", wanted)).values_list("pk", flat=True))
        by_key = set(
            Rep.objects.filter(InArray("external_id", ["R-1", "R-4"]), is_active=True).values_list("name", flat=True)
        )
    assert found == {reps[0].pk, reps[3].pk}
    assert by_key == {"Rep 1", "Rep 4"}
    if connection.vendor == "postgresql":
        assert all("= ANY(" in q["sql"] and " IN (" not in q["sql"] for q in queries.captured_queries)
    assert list(Rep.objects.filter(InArray("pk", []))) == []


def test_bulk_update_writes_rows_and_history_in_one_statement_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    owner = Rep.objects.create(external_id="R-1", name="Rep 1")
    deals = [
        Opportunity.objects.create(external_id=f"D-{i}", name=f"Deal {i}", stage="closed_won", owner=owner)
        for i in range(3)
    ]
    when = dt.datetime(2026, 3, 1, 10, 30, tzinfo=dt.UTC)
    for i, deal in enumerate(deals):
        deal.amount, deal.close_date, deal.attributes = (
            decimal.Decimal(f"{i}1000.50"),
            dt.date(2026, 4, i + 1),
            {
                "use_case": f"Case “{i}”",
                "nested": [1, None, {"a": "b"}],
            },
        )
        deal.next_step = "" if i == 0 else f"Kick-off 'call' \\ {i}"
    with CaptureQueriesContext(connection) as queries:
        bulk_writes.bulk_update_audited(
            model=Opportunity,
            objs=deals,
            fields=["amount", "close_date", "attributes", "next_step"],
            actor=None,
            reason="re-evaluation",
            date=when,
        )
    assert len(queries.captured_queries) == 1
    for i, deal in enumerate(deals):
        stored = Opportunity.objects.get(pk=deal.pk)
        assert (stored.amount, stored.close_date, stored.attributes, stored.next_step) == (
            decimal.Decimal(f"{i}1000.50"),
            dt.date(2026, 4, i + 1),
            {"use_case": f"Case “{i}”", "nested": [1, None, {"a": "b"}]},
            "" if i == 0 else f"Kick-off 'call' \\ {i}",
        )
        latest = stored.history.order_by("-history_id").first()
        assert (latest.history_type, latest.history_change_reason, latest.history_date) == ("~", "re-evaluation", when)
        assert (latest.amount, latest.attributes, latest.name) == (stored.amount, stored.attributes, f"Deal {i}")
