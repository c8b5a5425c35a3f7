"""Triage order over generated queues: "next item" never serves an item while a more urgent one is
claimable; snoozed items wait until they wake; escalation needs a reason and never targets the
person escalating."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exceptions.errors import ItemStateError
from exceptions.models import ExceptionItem
from exceptions.services import (
    SEVERITY_RANK,
    exception_item_escalate,
    exception_item_snooze,
    exception_next_item,
    exception_wake_snoozed,
)
from exceptions.timing import due_phrase, human_duration
from tests.factories import UserFactory

from .support import history_reasons, make_queue, open_item

pytestmark = pytest.mark.django_db

SEVERITIES = list(SEVERITY_RANK)
STATUSES = ["open", "open", "escalated", "in_progress", "snoozed"]


def urgency(item: ExceptionItem, now: dt.datetime) -> tuple:
    """The reference order, written independently of the service: overdue, severity, due time, id."""
    overdue = item.due_at is not None and item.due_at < now
    due = item.due_at.timestamp() if item.due_at is not None else float("inf")
    return (0 if overdue else 1, SEVERITY_RANK[item.severity], due, item.pk)


def claimable(item: ExceptionItem, queue_ids: set[int], worker) -> bool:
    """Open and unclaimed, or escalated to the worker (or to nobody) and unclaimed, in the worker's queues."""
    if item.claimed_at is not None or item.queue_id not in queue_ids:
        return False
    return item.status == "open" or (item.status == "escalated" and item.owner_id in (None, worker.pk))


item_specs = st.lists(
    st.fixed_dictionaries(
        {
            # whole hours away from now, so no item sits on the overdue boundary while the test runs
            "due_hours": st.one_of(st.none(), st.integers(-200, -1), st.integers(1, 200)),
            "severity": st.sampled_from(SEVERITIES),
            "status": st.sampled_from(STATUSES),
            "mine": st.booleans(),
            # an escalated item's new holder: the worker, somebody else, or nobody
            "escalated_to": st.sampled_from(["worker", "manager", "nobody"]),
        }
    ),
    min_size=1,
    max_size=14,
)


@pytest.fixture
def queues():
    return make_queue("Mine"), make_queue("Other")


@pytest.fixture
def worker():
    return UserFactory(username="worker")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=item_specs)
def test_next_item_always_serves_the_most_urgent_claimable_item(queues, worker, specs):
    mine, other = queues
    with transaction.atomic():  # each generated queue is rolled back at its end
        now = timezone.now()
        for index, spec in enumerate(specs):
            status = spec["status"]
            ExceptionItem.objects.create(
                dedupe_key=f"gen-{index}",
                kind="missing_data",
                title=f"Item {index}",
                reason="generated",
                expected_action="work it",
                severity=spec["severity"],
                status=status,
                queue=mine if spec["mine"] else other,
                owner={"worker": worker, "manager": mine.manager, "nobody": None}[spec["escalated_to"]]
                if status == "escalated"
                else None,
                escalation_level=1 if status == "escalated" else 0,
                due_at=None if spec["due_hours"] is None else now + dt.timedelta(hours=spec["due_hours"]),
                claimed_at=now if status == "in_progress" else None,
                snoozed_until=now + dt.timedelta(days=1) if status == "snoozed" else None,
            )
        served = []
        while True:
            waiting = [item for item in ExceptionItem.objects.all() if claimable(item, {mine.pk}, worker)]
            item = exception_next_item(actor=worker, queues=[mine])
            if item is None:
                assert waiting == []
                break
            now = timezone.now()
            # never an item while a more urgent one was claimable
            assert urgency(item, now) == min(urgency(candidate, now) for candidate in waiting)
            assert item.owner == worker and item.status == "in_progress"
            served.append(item.pk)
        assert len(served) == len(set(served))
        expected = sum(
            1
            for s in specs
            if s["mine"] and (s["status"] == "open" or (s["status"] == "escalated" and s["escalated_to"] != "manager"))
        )
        assert len(served) == expected  # snoozed, claimed, others' escalations and other queues' items never

        transaction.set_rollback(True)


def test_overdue_escalated_critical_comes_before_anything_not_yet_due():
    mine = make_queue("Mine")
    worker = UserFactory(username="worker")
    now = timezone.now()
    not_due = open_item("not-due", queue=mine, severity="critical", due_at=now + dt.timedelta(minutes=30))
    overdue_low = open_item("overdue-low", queue=mine, severity="low", due_at=now - dt.timedelta(hours=1))
    breach = open_item("breach", queue=mine, severity="critical", due_at=now - dt.timedelta(minutes=5))
    ExceptionItem.objects.filter(pk=breach.pk).update(status="escalated", escalation_level=1, owner=worker)
    # escalated to someone else: it waits for them
    elsewhere = open_item("elsewhere", queue=mine, severity="critical", due_at=now - dt.timedelta(hours=9))
    ExceptionItem.objects.filter(pk=elsewhere.pk).update(status="escalated", escalation_level=2)
    order = [exception_next_item(actor=worker, queues=[mine]).pk for _ in range(3)]
    assert order == [breach.pk, overdue_low.pk, not_due.pk]
    assert exception_next_item(actor=worker, queues=[mine]) is None
    assert exception_next_item(actor=mine.manager, queues=[mine]).pk == elsewhere.pk


def test_snoozed_items_wait_until_they_wake():
    mine = make_queue("Mine")
    worker = UserFactory(username="worker")
    now = timezone.now()
    urgent = open_item("urgent", queue=mine, severity="critical", due_at=now - dt.timedelta(hours=3))
    calm = open_item("calm", queue=mine, severity="low", due_at=now + dt.timedelta(days=3))
    exception_item_snooze(item=urgent, until=now + dt.timedelta(hours=2), actor=worker)
    assert exception_next_item(actor=worker, queues=[mine]).pk == calm.pk
    assert exception_next_item(actor=worker, queues=[mine]) is None
    assert exception_wake_snoozed(now=now + dt.timedelta(hours=2, minutes=1)) == 1
    assert exception_next_item(actor=worker, queues=[mine]).pk == urgent.pk


def test_escalation_needs_a_reason():
    mine = make_queue("Mine")
    rep = UserFactory(username="rep")
    item = open_item("a", queue=mine, owner=rep)
    with pytest.raises(ValidationError) as refused:
        exception_item_escalate(item=item, actor=rep, reason="  ")
    assert "Say why" in " ".join(refused.value.messages)
    item.refresh_from_db()
    assert item.escalation_level == 0 and item.status == "open"


def test_escalation_never_targets_the_person_escalating():
    mine = make_queue("Mine")
    rep = UserFactory(username="rep")
    by_rep = open_item("rep-owns", queue=mine, owner=rep)
    exception_item_escalate(item=by_rep, actor=rep, reason="Customer waiting")
    assert by_rep.owner == mine.manager and by_rep.escalation_level == 1

    # the manager escalating their own item: the step naming them is skipped
    by_manager = open_item("manager-owns", queue=mine)
    exception_item_escalate(item=by_manager, actor=mine.manager, reason="Needs a director's call")
    assert by_manager.owner == mine.escalation_target and by_manager.escalation_level == 2
    assert history_reasons(by_manager)[-1][1].endswith("(escalation target): Needs a director's call")

    # nobody above the person escalating: refused, nothing changes
    alone = make_queue("Alone", target=None)
    alone.escalation_target = None
    alone.save()
    item = open_item("alone", queue=alone)
    with pytest.raises(ItemStateError, match="nobody above you"):
        exception_item_escalate(item=item, actor=alone.manager, reason="Help")
    item.refresh_from_db()
    assert item.escalation_level == 0 and item.owner == alone.manager


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (dt.timedelta(seconds=20), "1 minute"),
        (dt.timedelta(minutes=45), "45 minutes"),
        (dt.timedelta(minutes=61), "1 hour"),
        (dt.timedelta(hours=30), "1 day 6 hours"),
        (dt.timedelta(minutes=3487), "2 days"),
        (dt.timedelta(days=9, hours=5), "9 days"),
    ],
)
def test_durations_read_in_human_units(delta, text):
    assert human_duration(delta) == text


def test_due_phrase():
    now = timezone.now()
    item = ExceptionItem(status="open", due_at=now - dt.timedelta(days=2, hours=1))
    assert due_phrase(item, now=now) == "2 days overdue"
    item.due_at = now + dt.timedelta(hours=3)
    assert due_phrase(item, now=now) == "due in 3 hours"
    item.status, item.snoozed_until = "snoozed", now + dt.timedelta(days=1)
    assert due_phrase(item, now=now) == "snoozed for 1 day"
    item.status = "resolved"
    assert due_phrase(item, now=now) == "closed"
