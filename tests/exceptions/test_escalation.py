"""Escalation along the queue's path with a controllable clock, and snooze wake-up."""

import datetime as dt

import django_rq
import pytest
from django.utils import timezone

from exceptions.errors import ItemStateError
from exceptions.models import ExceptionItem
from exceptions.services import (
    exception_escalate_overdue,
    exception_item_claim,
    exception_item_escalate,
    exception_item_snooze,
    exception_wake_snoozed,
    person_name,
)
from tests.factories import UserFactory

from .support import history_reasons, make_queue, open_item

pytestmark = pytest.mark.django_db


def test_overdue_items_escalate_owner_then_manager_then_target(django_capture_on_commit_callbacks, redis_conn):
    queue = make_queue("RevOps", due_hours_medium=10)
    rep = UserFactory(username="rep")
    item = open_item("a", queue_name="RevOps", owner=rep)
    exception_item_claim(item=item, actor=rep)
    t0 = item.due_at

    assert exception_escalate_overdue(now=t0 - dt.timedelta(minutes=1)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert exception_escalate_overdue(now=t0 + dt.timedelta(minutes=1)) == 1
    item.refresh_from_db()
    assert item.escalation_level == 1 and item.owner == queue.manager and item.status == "escalated"
    assert item.escalated_at == t0 + dt.timedelta(minutes=1) and item.claimed_at is None
    assert item.due_at == t0  # still overdue: escalation changes who, not when it was due
    assert item.next_escalation_at == t0 + dt.timedelta(minutes=1, hours=10)
    assert history_reasons(item)[-1][1].startswith(
        f"escalated to {person_name(queue.manager)} (queue manager): overdue since"
    )

    assert exception_escalate_overdue(now=t0 + dt.timedelta(hours=5)) == 0  # not due again yet
    with django_capture_on_commit_callbacks(execute=True):
        assert exception_escalate_overdue(now=t0 + dt.timedelta(hours=11)) == 1
    item.refresh_from_db()
    assert item.escalation_level == 2 and item.owner == queue.escalation_target
    assert exception_escalate_overdue(now=t0 + dt.timedelta(days=30)) == 0  # top of the path
    with pytest.raises(ItemStateError):
        exception_item_escalate(item=item, actor=rep, reason="still waiting")

    jobs = django_rq.get_queue("default").jobs
    assert [job.args for job in jobs] == [(item.pk, "escalated_1"), (item.pk, "escalated_2")]


def test_snoozed_and_closed_items_do_not_escalate():
    make_queue("RevOps")
    actor = UserFactory(username="ana")
    item = open_item("a", queue_name="RevOps")
    exception_item_snooze(item=item, until=timezone.now() + dt.timedelta(days=30), actor=actor)
    assert exception_escalate_overdue(now=timezone.now() + dt.timedelta(days=10)) == 0


def test_snoozed_items_wake_up_when_their_time_comes(django_capture_on_commit_callbacks, redis_conn):
    make_queue("RevOps")
    ana = UserFactory(username="ana")
    unclaimed = open_item("a", queue_name="RevOps")
    claimed = open_item("b", queue_name="RevOps")
    exception_item_claim(item=claimed, actor=ana)
    until = timezone.now() + dt.timedelta(hours=2)
    for item in (unclaimed, claimed):
        exception_item_snooze(item=item, until=until, actor=ana)

    assert exception_wake_snoozed(now=until - dt.timedelta(minutes=1)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert exception_wake_snoozed(now=until) == 2
    unclaimed.refresh_from_db()
    claimed.refresh_from_db()
    assert unclaimed.status == "open" and unclaimed.snoozed_until is None
    assert claimed.status == "in_progress" and claimed.owner == ana
    assert history_reasons(claimed)[-1] == (None, "snooze ended")
    assert len(django_rq.get_queue("default").jobs) == 2
    assert ExceptionItem.objects.filter(status="snoozed").count() == 0


def test_escalation_job_runs_through_a_real_worker(run_worker, django_capture_on_commit_callbacks):
    from exceptions import jobs

    make_queue("RevOps")
    item = open_item("a", queue_name="RevOps", due_at=timezone.now() - dt.timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):  # the queues enqueue on commit
        django_rq.get_queue("default").enqueue(jobs.escalate_overdue)
        django_rq.get_queue("default").enqueue(jobs.wake_snoozed)
    assert run_worker("default") == 0
    item.refresh_from_db()
    # the scheduled escalation takes the next step as it is: the manager (who owned it already)
    assert item.escalation_level == 1 and item.owner.username == "revops.manager"
