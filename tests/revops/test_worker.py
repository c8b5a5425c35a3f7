"""``revops.worker`` and ``revops.scheduler``: Redis errors are waited out, dead database connections replaced.

The full picture — real processes, real restarts — is ``tests/test_faults.py``; these pin each
mechanism down in-process.
"""

import gc
import signal

import django_rq
import psycopg
import pytest
import redis.exceptions
from django.db import connection
from rq.exceptions import StopRequested
from rq.worker import BaseWorker, SimpleWorker

from revops import scheduler as scheduler_module
from revops import worker as worker_module
from revops.heartbeats import scheduler_last_tick
from revops.scheduler import ResilientCronScheduler
from revops.worker import HotWorker

from .test_reliability import database_url

REDIS_DOWN = {"calls": 0}


def take_redis_down(calls: int = 3) -> str:
    """A job after which the next ``calls`` Redis round trips of the worker's bookkeeping fail."""
    REDIS_DOWN["calls"] = calls
    return "done"


def run(worker_class, *queue_names: str) -> None:
    queues = [django_rq.get_queue(name) for name in queue_names]
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker_class(queues, connection=queues[0].connection).work(burst=True)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@pytest.fixture
def flaky_redis(monkeypatch):
    """rq's bookkeeping calls fail while ``REDIS_DOWN["calls"]`` lasts; no real waiting between retries."""

    def failing(original):
        def call(self, *args, **kwargs):
            if REDIS_DOWN["calls"] > 0 and kwargs.get("pipeline") is None:
                REDIS_DOWN["calls"] -= 1
                raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
            return original(self, *args, **kwargs)

        return call

    for name in ("handle_execution_ended", "handle_job_success", "heartbeat"):
        monkeypatch.setattr(BaseWorker, name, failing(getattr(BaseWorker, name)))
    monkeypatch.setattr(worker_module.time, "sleep", lambda seconds: None)
    REDIS_DOWN["calls"] = 0
    yield
    REDIS_DOWN["calls"] = 0


@pytest.mark.django_db
def test_a_busy_worker_waits_out_redis_and_records_its_job_once(redis_conn, flaky_redis):
    queue = django_rq.get_queue("hot", commit_mode="auto")
    first = queue.enqueue(take_redis_down)
    second = queue.enqueue("revops.jobs.heartbeat")

    run(HotWorker, "hot")

    assert first.get_status(refresh=True) == "finished" and first.return_value() == "done"
    assert second.get_status(refresh=True) == "finished"  # the worker carried on


@pytest.mark.django_db
def test_rqs_own_worker_quits_on_the_same_redis_errors(redis_conn, flaky_redis):
    """The finding this fixes: rq's worker loop ends ("unhandled exception, quitting")."""
    queue = django_rq.get_queue("hot", commit_mode="auto")
    queue.enqueue(take_redis_down)
    second = queue.enqueue("revops.jobs.heartbeat")

    run(SimpleWorker, "hot")

    assert second.get_status(refresh=True) == "queued"


@pytest.fixture
def dead_connection(transactional_db):
    """What a PostgreSQL restart noticed outside a transaction leaves behind: Django holding a dead connection."""
    connection.ensure_connection()
    with psycopg.connect(database_url(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    yield
    connection.close()  # in this process too, before the test database is flushed


@pytest.mark.parametrize("worker_class", [HotWorker, worker_module.Worker])
def test_a_dead_database_connection_is_replaced_before_the_next_job(redis_conn, dead_connection, worker_class):
    queue = django_rq.get_queue("default", commit_mode="auto")
    job = queue.enqueue("revops.jobs.purge_idempotency_keys")  # a job that queries the database

    run(worker_class, "default")

    assert job.get_status(refresh=True) == "finished", job.latest_result()


def test_rqs_own_worker_keeps_the_dead_connection(redis_conn, dead_connection):
    """The finding this fixes: every job of the worker fails on the connection Django keeps."""
    job = django_rq.get_queue("default", commit_mode="auto").enqueue("revops.jobs.purge_idempotency_keys")

    run(SimpleWorker, "default")

    assert job.get_status(refresh=True) == "failed"


def test_the_cron_scheduler_rides_out_redis_errors_and_records_its_ticks(redis_conn, monkeypatch):
    scheduler = ResilientCronScheduler(connection=redis_conn)
    calls = {"n": 0}

    def enqueue_jobs():
        calls["n"] += 1
        if calls["n"] <= 2:
            raise redis.exceptions.ConnectionError("Connection refused")
        if calls["n"] == 4:
            raise StopRequested()
        return []

    monkeypatch.setattr(scheduler, "enqueue_jobs", enqueue_jobs)
    monkeypatch.setattr(scheduler_module.time, "sleep", lambda seconds: None)
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        scheduler.start()  # rq's CronScheduler.start raises the first ConnectionError
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)

    assert calls["n"] == 4
    assert scheduler_last_tick(redis_conn) < 5


def test_only_the_lease_holder_enqueues_and_a_standby_takes_over(redis_conn):
    """Two schedulers (two hosts): one enqueues; when its lease lapses or it stops, the other does."""
    from revops.jobs import purge_idempotency_keys

    queue = django_rq.get_queue("default", commit_mode="auto")
    queue.empty()
    redis_conn.delete(scheduler_module.LEADER_KEY)
    host_a = ResilientCronScheduler(connection=redis_conn, name="host-a")
    host_b = ResilientCronScheduler(connection=redis_conn, name="host-b")
    for scheduler in (host_a, host_b):
        scheduler.register(purge_idempotency_keys, "default", interval=3600)

    host_a.tick()
    host_b.tick()
    assert queue.count == 1  # the due job once, by the holder
    assert scheduler_module.scheduler_leader(redis_conn) == "host-a"
    assert (host_a.leading, host_b.leading) == (True, False)
    assert 0 < redis_conn.ttl(scheduler_module.LEADER_KEY) <= scheduler_module.LEASE_SECONDS

    host_a.tick()
    host_b.tick()
    assert queue.count == 1  # nothing new is due; the standby still enqueues nothing

    redis_conn.delete(scheduler_module.LEADER_KEY)  # host A died: its lease expired
    host_b.tick()
    assert scheduler_module.scheduler_leader(redis_conn) == "host-b"
    assert queue.count == 2  # what fell due while nobody held the lease, at once
    host_a.tick()  # back, but B holds the lease now
    assert not host_a.leading and queue.count == 2

    host_b.release_lease()  # B stops and hands the lease back
    host_a.tick()
    assert host_a.leading and scheduler_module.scheduler_leader(redis_conn) == "host-a"
    queue.empty()


@pytest.mark.django_db
def test_a_worker_asked_to_stop_while_redis_is_away_exits(redis_conn, flaky_redis, monkeypatch):
    queue = django_rq.get_queue("hot", commit_mode="auto")
    queue.enqueue(take_redis_down, 10**6)  # Redis does not come back
    worker = HotWorker([queue], connection=queue.connection)
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 3:
            worker._stop_requested = True  # what SIGTERM does to a busy worker
        assert len(sleeps) < 50, "the worker never gave up"

    monkeypatch.setattr(worker_module.time, "sleep", sleep)
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker.work(burst=True)
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    assert len(sleeps) == 3


@pytest.mark.parametrize("worker_class", [HotWorker, worker_module.Worker])
def test_sigterm_to_a_busy_worker_while_redis_is_away_is_a_warm_shutdown(redis_conn, monkeypatch, worker_class):
    queue = django_rq.get_queue("hot")
    worker = worker_class([queue], connection=queue.connection)
    worker._state = "busy"  # a job is running; the signal interrupts its frame (or the horse monitor)

    def refused(*args, **kwargs):
        raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(worker.connection, "hset", refused)
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        worker.request_stop(signal.SIGTERM, None)  # what rq's SIGTERM handler runs: must not raise
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    assert worker._stop_requested  # the job finishes, then the worker stops


@pytest.mark.django_db(transaction=True)
def test_the_hot_worker_warms_up_and_freezes_before_its_first_job(redis_conn, monkeypatch):
    from revops import plugins

    frozen_at_warm_up = []
    monkeypatch.setitem(plugins._WORKER_WARMUPS, "zz-test", lambda: frozen_at_warm_up.append(gc.get_freeze_count()))
    gc.unfreeze()
    try:
        job = django_rq.get_queue("hot", commit_mode="auto").enqueue("revops.jobs.purge_idempotency_keys")
        run(HotWorker, "hot")
        assert frozen_at_warm_up == [0]  # once, before anything was frozen
        assert gc.get_freeze_count() > 0
        assert job.get_status(refresh=True) == "finished", job.latest_result()
    finally:
        gc.unfreeze()


def test_the_hot_worker_collects_everything_only_while_no_job_waits(redis_conn, monkeypatch):
    queue = django_rq.get_queue("hot", commit_mode="auto")
    worker = HotWorker([queue], connection=queue.connection)
    collections = []
    monkeypatch.setattr(gc, "collect", lambda *args: collections.append(args))
    monkeypatch.setattr(gc, "freeze", lambda: None)
    worker._jobs_since_full = worker_module.HOT_FULL_COLLECT_EVERY - 2
    worker._collect_when_idle()
    assert collections == []  # not yet due

    queue.enqueue("revops.jobs.purge_idempotency_keys")
    worker._collect_when_idle()
    assert collections == [] and worker._jobs_since_full == worker_module.HOT_FULL_COLLECT_EVERY  # a job waits

    queue.empty()
    worker._collect_when_idle()
    assert collections == [()] and worker._jobs_since_full == 0

    # jobs that never stop waiting only postpone it so long
    queue.enqueue("revops.jobs.purge_idempotency_keys")
    worker._jobs_since_full = worker_module.HOT_FULL_COLLECT_LATEST - 1
    worker._collect_when_idle()
    assert collections == [(), ()] and worker._jobs_since_full == 0
