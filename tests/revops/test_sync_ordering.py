"""Replayed and out-of-order CRM updates end in the same state as in-order delivery."""

import datetime as dt
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops.models import Lead, OutboxEvent
from revops.sync import sync_batch_apply
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

BASE = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
_run = itertools.count()

version = st.fixed_dictionaries(
    {
        "score": st.sampled_from([1, 2, 3]),
        "status": st.sampled_from(["new", "working"]),
        "company": st.sampled_from(["A", "B"]),
    }
)
# Per lead: the successive versions the CRM produced (each later than the previous one).
histories = st.lists(st.lists(version, min_size=1, max_size=5), min_size=1, max_size=3)


def records_for(prefix, versions_per_lead):
    out = []
    for lead_no, versions in enumerate(versions_per_lead):
        for step, values in enumerate(versions):
            stamp = (BASE + dt.timedelta(minutes=step)).isoformat()
            out.append({"external_id": f"{prefix}-{lead_no}", "source_updated_at": stamp, **values})
    return out


def deliver(records, batch_sizes, user):
    """Deliver in batches of the given sizes; a batch also ends before an external id it already
    holds (a batch may carry each record once: later copies would be rejected)."""
    statuses = []
    sizes = itertools.cycle(batch_sizes)
    i = 0
    while i < len(records):
        size, batch = next(sizes), []
        while i < len(records) and len(batch) < size:
            if any(r["external_id"] == records[i]["external_id"] for r in batch):
                break
            batch.append(records[i])
            i += 1
        outcome = sync_batch_apply(object_name="leads", records=batch, actor=user)
        statuses += [r["status"] for r in outcome.results]
    return statuses


def final_state(prefix, count):
    return [
        Lead.objects.filter(external_id=f"{prefix}-{n}").values("score", "status", "company", "source_updated_at").get()
        for n in range(count)
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories=histories, data=st.data())
def test_shuffled_duplicated_delivery_matches_in_order_delivery(histories, data):
    user = UserFactory(username="crm-sync")
    run = next(_run)
    in_order = records_for(f"IO{run}", histories)
    deliver(in_order, [len(in_order)], user)

    shuffled = records_for(f"SH{run}", histories)
    extra = data.draw(st.lists(st.sampled_from(shuffled), max_size=6), label="replays")
    shuffled = data.draw(st.permutations(shuffled + extra), label="delivery order")
    sizes = data.draw(st.lists(st.integers(1, 4), min_size=1, max_size=4), label="batch sizes")
    statuses = deliver(shuffled, sizes, user)

    assert final_state(f"SH{run}", len(histories)) == final_state(f"IO{run}", len(histories))
    applied = statuses.count("created") + statuses.count("updated")
    history = Lead.history.filter(external_id__startswith=f"SH{run}-")
    assert history.count() == applied
    assert OutboxEvent.objects.filter(external_id__startswith=f"SH{run}-").count() == applied
    assert "rejected" not in statuses
