"""A bulk sync batch's handoffs are evaluated on the bulk lane after the commit, by a real RQ worker: the
same handoffs, items, tasks and feed entries as in the sync's own transaction, exactly once, also when
the job runs twice or was lost and the sweeper enqueues it again."""

import datetime as dt

import pytest
from django.utils import timezone

from exceptions.models import ExceptionItem
from handoffs.deferred import _enqueue, handoffs_evaluate_pending, handoffs_pending_sweep
from handoffs.models import Handoff, PendingEvaluation
from handoffs.services import checklist_save
from revops.models import ChangeEntry, Opportunity, Task
from tests.handoffs.test_readiness import deal, sync, world  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

COMPLETE = {"contract_start_date": "2026-04-01", "use_case": "Routing", "billing_contact": "ap@acme.test"}


@pytest.fixture
def bulk(settings):
    """Every sync batch goes to the bulk lane (a real CRM sends hundreds of deals per batch)."""
    settings.HANDOFFS_INLINE_MAX = 0


def handoff_items():
    return ExceptionItem.objects.filter(kind="handoff_incomplete")


def signals():
    return [e.payload["signal"] for e in ChangeEntry.objects.filter(kind="handoff_signal").order_by("id")]


def test_a_bulk_batch_is_evaluated_on_the_bulk_lane_once(sync, world, bulk, run_worker):  # noqa: F811
    sync(deal())
    pending = PendingEvaluation.objects.get()
    assert not Handoff.objects.exists()  # not in the sync's transaction
    assert pending.cause.startswith("sync batch #") and pending.batch_id is not None

    assert run_worker() == 0
    handoff = Handoff.objects.get()
    assert handoff.status == Handoff.Status.WAITING
    assert [m["key"] for m in handoff.missing] == ["contract_start_date", "use_case", "billing_contact"]
    assert handoff.history.get().history_change_reason == pending.cause  # which sync caused it
    item = handoff_items().get()
    assert item.owner == world["manager"] and "waiting for 3 items" in item.title
    assert not ExceptionItem.objects.filter(kind="missing_fields").exists()  # the handoff holds the gap
    assert not PendingEvaluation.objects.exists()

    sync(deal())  # the nightly re-sync, unchanged: the item is refreshed, not doubled
    assert run_worker() == 0
    assert handoff_items().count() == 1 and handoff_items().get().occurrences == 2

    last = deal(at="2026-03-03T10:00:00Z", **COMPLETE)
    sync(last)
    sync(last)  # replayed before the worker ran
    sync({**last, "source_updated_at": "2026-03-01T09:00:00Z"})  # arriving late, out of order
    assert run_worker() == 0
    handoff.refresh_from_db()
    assert handoff.status == Handoff.Status.SENT and handoff.receiver == world["csm"]
    assert Task.objects.filter(opportunity__external_id="O-1").count() == 2
    assert handoff_items().get().status == ExceptionItem.Status.RESOLVED
    assert signals() == ["started", "sent"]
    assert ChangeEntry.objects.filter(kind="task_created").count() == 2

    sync(deal(at="2026-03-04T10:00:00Z", stage="negotiation", **COMPLETE))  # reopened: cancelled, from the lane
    assert run_worker() == 0
    handoff.refresh_from_db()
    assert handoff.status == Handoff.Status.CANCELLED
    assert signals() == ["started", "sent", "cancelled"]
    assert not PendingEvaluation.objects.exists()


def test_a_job_run_twice_evaluates_once(sync, world, bulk, run_worker, django_capture_on_commit_callbacks):  # noqa: F811
    sync(deal())
    pending = PendingEvaluation.objects.get()
    assert _enqueue(pending.pk)  # a second job for the same batch (RQ's retry, a sweeper racing the first)
    assert run_worker() == 0
    assert Handoff.objects.count() == 1 and handoff_items().count() == 1
    assert handoff_items().get().occurrences == 1
    assert signals() == ["started"]
    assert handoffs_evaluate_pending(pending_id=pending.pk) == {"evaluated": 0}


def test_the_sweeper_enqueues_a_batch_whose_job_was_lost(sync, world, bulk, run_worker, redis_conn):  # noqa: F811
    sync(deal(**COMPLETE))
    redis_conn.flushdb()  # the job is lost (Redis restarted empty, say)
    assert run_worker() == 0
    assert not Handoff.objects.exists()
    pending = PendingEvaluation.objects.get()

    assert handoffs_pending_sweep() == []  # enqueued a moment ago: its job may still be waiting
    later = timezone.now() + dt.timedelta(minutes=6)
    assert handoffs_pending_sweep(now=later) == [pending.pk]
    assert handoffs_pending_sweep(now=later) == []  # just enqueued again: not twice per round
    assert run_worker() == 0
    handoff = Handoff.objects.get()
    assert handoff.status == Handoff.Status.SENT
    assert Task.objects.count() == 2 and signals() == ["started", "sent"]
    assert not PendingEvaluation.objects.exists()
    assert handoffs_pending_sweep(now=later + dt.timedelta(minutes=6)) == []


def test_a_small_batch_is_still_evaluated_in_the_sync(sync, world, settings):  # noqa: F811
    settings.HANDOFFS_INLINE_MAX = 1
    sync(deal())
    assert Handoff.objects.get().status == Handoff.Status.WAITING
    assert not PendingEvaluation.objects.exists()
    # Two deals to evaluate (the covered one and a deal whose handoff must be cancelled): the bulk lane.
    sync(deal(at="2026-03-02T10:00:00Z", stage="negotiation"), deal(external_id="O-2", name="Beta - Platform"))
    ids = sorted(Opportunity.objects.filter(external_id__in=["O-1", "O-2"]).values_list("pk", flat=True))
    assert PendingEvaluation.objects.get().opportunity_ids == ids
    assert Handoff.objects.get().status == Handoff.Status.WAITING  # not yet cancelled: that is the lane's


def test_only_the_deals_a_checklist_covers_wait_for_the_lane(sync, world, bulk, run_worker):  # noqa: F811
    """The checklist applies from 50,000: the small deal's gap is raised at once as the generic item,
    the big deal's handoff comes from the lane."""
    checklist = world["checklist"]
    checklist.conditions = {"all": [{"field": "opportunity.amount", "op": "gte", "value": 50000}]}
    checklist_save(checklist=checklist, actor=world["manager"])
    sync(deal(), deal(external_id="O-2", name="Beta - Platform", amount="20000"))
    generic = ExceptionItem.objects.get(kind="missing_fields")
    assert generic.external_id == "O-2"
    big = Opportunity.objects.get(external_id="O-1")
    assert PendingEvaluation.objects.get().opportunity_ids == [big.pk]
    assert run_worker() == 0
    assert list(Handoff.objects.values_list("opportunity__external_id", flat=True)) == ["O-1"]
    assert handoff_items().get().external_id == "O-1"
