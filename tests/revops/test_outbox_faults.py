"""The sweeper tells a slow job from a dead one, recovered work keeps its place, a failed job leaves its error."""

import datetime as dt

import django_rq
import pytest
import redis.exceptions
from django.db import OperationalError
from django.db.models import F
from django.utils import timezone
from rq.job import Job, JobStatus
from rq.utils import utcformat

from revops import outbox
from revops.models import OutboxEvent
from revops.outbox import outbox_enqueue_batch, outbox_process_events, outbox_sweep
from revops.worker import HotWorker

from .test_outbox import apply, rec

pytestmark = pytest.mark.django_db


def age_events(minutes: float = 10) -> None:
    OutboxEvent.objects.update(created_at=timezone.now() - dt.timedelta(minutes=minutes))


@pytest.fixture
def worker(redis_conn):
    """A hot worker registered from this process: alive, heartbeat fresh."""
    worker = HotWorker([django_rq.get_queue("hot")], connection=redis_conn)
    worker.register_birth()
    yield worker
    worker.register_death()


def started_by(worker, job_id: str, *, minutes_ago: float) -> None:
    """Leave the job as a worker leaves it while running it: started, with the worker's name."""
    job = Job.fetch(job_id, connection=worker.connection)
    job.worker_name = worker.name
    job.started_at = timezone.now() - dt.timedelta(minutes=minutes_ago)
    job.save()
    job.set_status(JobStatus.STARTED)
    worker.connection.sadd(worker.executions_key, f"{job_id}:execution-1")  # what rq's prepare_execution adds


def test_a_slow_job_is_left_alone_while_its_worker_beats_and_recovered_once_it_stops(redis_conn, worker):
    outcome = apply(rec("L1"))
    age_events()
    batch = outcome.batch.pk
    assert outbox_sweep(grace=60) == [batch]  # the job was lost: enqueued again
    started_by(worker, f"outbox-batch-{batch}", minutes_ago=10)  # slow, well within its 30-minute timeout

    assert outbox_sweep(grace=60) == []  # not re-delivered behind the slow worker's back

    # The worker stops beating (killed, or its machine is gone): its job is dead.
    stale = timezone.now() - dt.timedelta(minutes=5)
    redis_conn.hset(worker.key, "last_heartbeat", utcformat(stale))
    assert outbox_sweep(grace=60) == [batch]


def test_a_job_past_its_own_timeout_is_dead_even_if_its_worker_beats(redis_conn, worker):
    outcome = apply(rec("L1"))
    age_events(60)
    outbox_sweep(grace=60)
    started_by(worker, f"outbox-batch-{outcome.batch.pk}", minutes_ago=40)  # timeout 30 min (+1)
    assert outbox_sweep(grace=60) == [outcome.batch.pk]


def test_a_job_its_live_worker_no_longer_runs_is_recovered(redis_conn, worker):
    outcome = apply(rec("L1"))
    age_events()
    batch = outcome.batch.pk
    assert outbox_sweep(grace=60) == [batch]
    started_by(worker, f"outbox-batch-{batch}", minutes_ago=2)
    assert outbox_sweep(grace=60) == []  # running
    # rq's bookkeeping of its end was lost to a Redis error: still "started", the worker moved on
    redis_conn.delete(worker.executions_key)
    assert outbox_sweep(grace=60) == [batch]


def test_a_redis_error_while_checking_a_job_skips_it_this_round(redis_conn, worker, monkeypatch):
    outcome = apply(rec("L1"))
    age_events()
    batch = outcome.batch.pk
    assert outbox_sweep(grace=60) == [batch]
    started_by(worker, f"outbox-batch-{batch}", minutes_ago=2)

    def timeout(*args, **kwargs):
        raise redis.exceptions.TimeoutError("Timeout reading from socket")

    monkeypatch.setattr(Job, "fetch", timeout)
    assert outbox_sweep(grace=60) == []  # unknown: never enqueued behind the worker's back
    monkeypatch.undo()
    assert Job.fetch(f"outbox-batch-{batch}", connection=redis_conn).get_status() == JobStatus.STARTED


def test_recovered_work_goes_to_the_front_of_the_queue(redis_conn):
    old = apply(rec("L1"))
    age_events()
    new = apply(rec("L2"))
    outbox_enqueue_batch(batch_id=new.batch.pk)  # the backlog that arrived meanwhile

    assert outbox_sweep(grace=60) == [old.batch.pk]
    assert django_rq.get_queue("hot").job_ids == [f"outbox-batch-{old.batch.pk}", f"outbox-batch-{new.batch.pk}"]


def consumer(monkeypatch, process):
    monkeypatch.setattr(outbox, "_CONSUMER", [outbox.OutboxConsumer(process=process, flag_stuck=lambda m: [])])


def test_a_failed_job_records_the_attempt_and_the_error_on_its_events(monkeypatch):
    apply(rec("L1"), rec("L2"))
    ids = list(OutboxEvent.objects.values_list("pk", flat=True))

    def dead_database(event_ids):
        raise OperationalError("terminating connection due to administrator command")

    consumer(monkeypatch, dead_database)
    with pytest.raises(OperationalError):
        outbox_process_events(event_ids=ids)
    events = list(OutboxEvent.objects.all())
    assert [e.attempts for e in events] == [1, 1] and {e.status for e in events} == {"pending"}
    assert all(e.last_error == "OperationalError: terminating connection due to administrator command" for e in events)

    def counts_then_fails(event_ids):  # the engine counts its attempt first: not counted twice
        OutboxEvent.objects.filter(pk__in=event_ids).update(attempts=F("attempts") + 1)
        raise RuntimeError("boom")

    consumer(monkeypatch, counts_then_fails)
    with pytest.raises(RuntimeError):
        outbox_process_events(event_ids=ids)
    assert set(OutboxEvent.objects.values_list("attempts", "last_error")) == {(2, "RuntimeError: boom")}
