"""The outbox: events enqueued after commit, consumed by a real worker once, swept when left pending."""

import datetime as dt

import django_rq
import pytest
from django.utils import timezone

from revops import jobs
from revops.audit import remember_system_user
from revops.models import ApiToken, OutboxEvent
from revops.outbox import outbox_sweep
from revops.sync import sync_batch_apply
from revops.tokens import api_token_create

pytestmark = pytest.mark.django_db


def apply(*records):
    token = ApiToken.objects.filter(name="crm").first() or api_token_create(name="crm", scopes=["sync:write"])[0]
    return sync_batch_apply(object_name="leads", records=list(records), actor=token.user, token=token)


def rec(ext, **values):
    return {"external_id": ext, "source_updated_at": "2026-03-01T10:00:00Z", **values}


def test_job_is_enqueued_on_commit_and_a_real_worker_processes_the_batch(
    redis_conn, run_worker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        outcome = apply(rec("L1"), rec("L2"))
    # One enqueue (the other callback remembers the integration's system login for the next batch).
    assert len([c for c in callbacks if getattr(c, "func", None) is not remember_system_user]) == 1
    queue = django_rq.get_queue("hot")
    assert queue.count == 1
    assert queue.jobs[0].func_name == "revops.jobs.process_outbox_batch"
    assert queue.jobs[0].args == (outcome.batch.pk,)
    assert OutboxEvent.objects.filter(status="pending").count() == 2

    assert run_worker("hot") == 0
    events = list(OutboxEvent.objects.all())
    assert {e.status for e in events} == {"processed"} and all(e.processed_at for e in events)
    assert {e.attempts for e in events} == {1}

    # Running the job again changes nothing.
    snapshot = list(OutboxEvent.objects.values())
    assert jobs.process_outbox_batch(outcome.batch.pk) == 0
    assert list(OutboxEvent.objects.values()) == snapshot


def test_no_job_when_nothing_changed(redis_conn, django_capture_on_commit_callbacks):
    apply(rec("L1"))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        outcome = apply(rec("L1"))
    assert outcome.counts["unchanged"] == 1 and callbacks == []


def test_enqueue_failure_does_not_fail_the_sync(django_capture_on_commit_callbacks, monkeypatch):
    def broken(name, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(django_rq, "get_queue", broken)
    with django_capture_on_commit_callbacks(execute=True):
        outcome = apply(rec("L1"))
    assert outcome.counts["created"] == 1
    assert OutboxEvent.objects.get().status == "pending"


def test_sweeper_re_enqueues_pending_batches_after_the_grace_period(redis_conn, run_worker):
    outcome = apply(rec("L1"))  # no on_commit in this transaction-wrapped test: the job is "lost"
    fresh = apply(rec("L2"))
    OutboxEvent.objects.filter(batch=outcome.batch).update(created_at=timezone.now() - dt.timedelta(minutes=5))

    assert outbox_sweep(grace=60) == [outcome.batch.pk]
    assert outbox_sweep(grace=60) == []  # its job is still queued: not enqueued twice
    run_worker("hot")
    assert OutboxEvent.objects.get(batch=outcome.batch).status == "processed"
    assert OutboxEvent.objects.get(batch=fresh.batch).status == "pending"
    assert outbox_sweep(grace=60) == []


def test_two_sweepers_never_collide(redis_conn):
    outcome = apply(rec("L1"))
    OutboxEvent.objects.update(created_at=timezone.now() - dt.timedelta(minutes=5))
    lock = redis_conn.lock("revops:outbox-sweep", timeout=30)
    assert lock.acquire(blocking=False)
    try:
        assert jobs.sweep_outbox() == []
    finally:
        lock.release()
    assert jobs.sweep_outbox() == [outcome.batch.pk]


def test_cron_registers_the_sweeper_and_the_purge(redis_conn):
    from rq.cron import CronScheduler

    scheduler = CronScheduler(connection=redis_conn)
    scheduler.load_config_from_file("revops.cron")
    schedule = {job.name: (job.func, job.interval) for job in scheduler.get_jobs()}
    assert schedule["sweep_outbox"] == (jobs.sweep_outbox, 60)
    assert schedule["purge_idempotency_keys"] == (jobs.purge_idempotency_keys, 3600)


def test_a_bulk_batch_goes_to_the_low_lane_in_parts(
    redis_conn, run_worker, django_capture_on_commit_callbacks, settings
):
    settings.OUTBOX_HOT_MAX_EVENTS = 3
    settings.OUTBOX_BULK_EVENTS_PER_JOB = 2
    with django_capture_on_commit_callbacks(execute=True):
        small = apply(rec("S1"), rec("S2"), rec("S3"))  # a person waits for these: hot
    with django_capture_on_commit_callbacks(execute=True):
        bulk = apply(*(rec(f"B{i}") for i in range(5)))  # more than 3 events: bulk work
    hot, low = django_rq.get_queue("hot"), django_rq.get_queue("low")
    assert [job.args for job in hot.jobs] == [(small.batch.pk,)]
    assert [(job.func_name, job.args) for job in low.jobs] == [
        ("revops.jobs.process_outbox_batch_part", (bulk.batch.pk, part)) for part in range(3)
    ]
    assert low.job_ids == [f"outbox-batch-{bulk.batch.pk}-part-{part}" for part in range(3)]

    assert run_worker("hot") == 0  # the hot lane never touches the bulk batch
    assert OutboxEvent.objects.filter(batch=bulk.batch, status="pending").count() == 5
    assert run_worker("low") == 0
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {"processed"}


def test_the_sweeper_re_enqueues_only_the_bulk_parts_left_pending(redis_conn, run_worker, settings):
    settings.OUTBOX_HOT_MAX_EVENTS = 3
    settings.OUTBOX_BULK_EVENTS_PER_JOB = 2
    bulk = apply(*(rec(f"B{i}") for i in range(5)))  # no on_commit here: its jobs are "lost"
    events = list(OutboxEvent.objects.filter(batch=bulk.batch).order_by("pk"))
    OutboxEvent.objects.filter(batch=bulk.batch).update(created_at=timezone.now() - dt.timedelta(minutes=5))
    jobs.process_outbox_batch_part(bulk.batch.pk, 0)  # the first part ran before its worker died
    assert [e.status for e in OutboxEvent.objects.filter(pk__in=[e.pk for e in events]).order_by("pk")][:2] == [
        "processed",
        "processed",
    ]

    assert outbox_sweep(grace=60) == [bulk.batch.pk]
    low = django_rq.get_queue("low")
    assert sorted(low.job_ids) == [f"outbox-batch-{bulk.batch.pk}-part-{part}" for part in (1, 2)]
    assert outbox_sweep(grace=60) == []  # its parts are still queued: not enqueued twice
    assert run_worker("low") == 0
    assert set(OutboxEvent.objects.values_list("status", flat=True)) == {"processed"}
