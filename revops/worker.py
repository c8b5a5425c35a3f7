"""RQ worker classes that ride out Redis and PostgreSQL restarts (``--worker-class`` in the Procfile).

rq's own loop survives a Redis outage only while it waits for a job: a connection error while it
prepares a job, records a finished job, sends a heartbeat or checks for suspension ends
``Worker.work`` ("unhandled exception, quitting"), so a Redis restart used to kill busy workers.
These classes retry each of those Redis round trips with backoff (0.5 s doubling to 30 s) until
Redis answers again; a finished job is recorded once Redis is back, never run again because of it.
After a restart that lost Redis's data the worker registers itself again.

Before and after each job they drop the database connections Django can no longer use
(``close_old_connections``, as Django does around each request): a PostgreSQL restart fails the
jobs that were running at that moment (RQ retries them; runs are exactly-once), never the worker.

Heartbeats come every ``HEARTBEAT_SECONDS`` whether idle (the dequeue timeout), busy in the
non-forking ``HotWorker`` (a thread) or busy in the forking ``Worker`` (the horse monitor), so
``/healthz`` and the outbox sweeper tell a live worker from a dead one within a minute
(``revops.heartbeats``). A worker started with ``--with-scheduler`` restarts rq's scheduler
process within seconds when a Redis error killed it (rq itself would wait ten minutes).
"""

from __future__ import annotations

import gc
import threading
import time

import redis.exceptions
from django.db import close_old_connections, connections
from rq import worker_registration
from rq.exceptions import StopRequested
from rq.worker import SimpleWorker
from rq.worker import Worker as ForkingWorker

from .heartbeats import HEARTBEAT_SECONDS
from .outbox import hot_running_clear, hot_running_mark

REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)
MAX_BACKOFF = 30.0
SCHEDULER_CHECK_SECONDS = 5
HORSE_MAX_WAIT = 300


def _drop_dead_connections(*, check: bool) -> None:
    """Close connections that failed or outlived ``CONN_MAX_AGE`` and, with ``check``, those that died.

    Django does this around each request; nothing does it around an RQ job. ``check`` pings each
    connection (one ``SELECT 1``) whatever ``CONN_HEALTH_CHECKS`` says, so a PostgreSQL restart
    costs no job that starts afterwards. The next query opens a new connection. Not inside a
    transaction: only a test runs jobs inside its own, and closing its connection would throw
    the test's data away.
    """
    opened = [conn for conn in connections.all(initialized_only=True) if conn.connection is not None]
    if any(conn.in_atomic_block for conn in opened):
        return
    for conn in opened if check else ():
        if not conn.is_usable():
            conn.close()
    close_old_connections()


def _warm_up(log) -> None:
    from revops.plugins import worker_warmups

    if any(conn.in_atomic_block for conn in connections.all(initialized_only=True)):
        return  # a test running jobs inside its own transaction: its connection is not ours to close
    for warmup in worker_warmups():
        try:
            warmup()
        except Exception as exc:  # a cold cache only costs the job time; never the job itself
            log.warning("worker warm-up %s failed: %s", getattr(warmup, "__name__", warmup), exc)
    connections.close_all()
    _freeze_for_fork()


FULL_COLLECT_EVERY = 100  # jobs
HOT_FULL_COLLECT_EVERY = 1000  # jobs of the hot worker, which collects in a lead's path
HOT_FULL_COLLECT_LATEST = 5000  # jobs: collected then even if jobs keep waiting
_jobs_since_full = 0


def _freeze_for_fork() -> None:
    """Move what the parent holds (the warmed caches, Django, every module) out of the garbage
    collector's sight before the fork: a work horse's collections then never walk it, so they neither
    cost the job time (8 % of a backfill in one process) nor touch, and so copy, the parent's pages.

    The parent's new garbage is collected first (cheap: frozen objects are skipped); every
    ``FULL_COLLECT_EVERY`` jobs everything is unfrozen and collected (≈ 70 ms with 20,000 accounts
    warmed), so garbage that was frozen (an old cache a warm-up replaced) is freed within that many jobs.
    """
    global _jobs_since_full
    if _jobs_since_full >= FULL_COLLECT_EVERY:
        gc.unfreeze()
        _jobs_since_full = 0
    gc.collect()
    gc.freeze()
    _jobs_since_full += 1


def _retrying(name: str, what: str):
    """An override of rq's method ``name`` that retries it while Redis cannot be reached."""

    def method(self, *args, **kwargs):
        return self._redis_retry(what, getattr(super(ResilientMixin, self), name), *args, **kwargs)

    method.__name__ = name
    return method


class ResilientMixin:
    """Retry the work loop's Redis calls, reset dead database connections around each job."""

    register_birth = _retrying("register_birth", "registering")
    _start_scheduler = _retrying("_start_scheduler", "starting the scheduler")
    check_for_suspension = _retrying("check_for_suspension", "checking for suspension")
    prepare_execution = _retrying("prepare_execution", "preparing a job")
    prepare_job_execution = _retrying("prepare_job_execution", "preparing a job")
    handle_execution_ended = _retrying("handle_execution_ended", "ending a job")
    handle_job_success = _retrying("handle_job_success", "recording a finished job")
    handle_job_retry = _retrying("handle_job_retry", "scheduling a job's retry")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.job_monitoring_interval = HEARTBEAT_SECONDS
        self._scheduler_checked_at = 0.0

    @property
    def dequeue_timeout(self) -> int:
        # rq waits worker_ttl - 15 s (405 s by default) between idle heartbeats.
        return min(HEARTBEAT_SECONDS, max(1, self.worker_ttl - 15))

    # --- Redis: retry with backoff -------------------------------------------------------------

    def _redis_retry(self, what: str, func, *args, **kwargs):
        """``func(*args, **kwargs)``, retried while Redis cannot be reached.

        Until asked to stop: a worker told to shut down while Redis is away exits (what it could
        not record, the outbox sweeper recovers). A work horse, which hears no signal, gives up
        after ``HORSE_MAX_WAIT`` seconds.
        """
        wait, waited = 0.5, 0.0
        while True:
            try:
                return func(*args, **kwargs)
            except REDIS_ERRORS as exc:
                if self._stop_requested:
                    raise StopRequested() from exc
                if self.is_horse and waited >= HORSE_MAX_WAIT:
                    raise
                self.log.warning(
                    "Worker %s: Redis unavailable while %s (%s); retrying in %.1f s", self.name, what, exc, wait
                )
                time.sleep(wait)
                waited += wait
                wait = min(wait * 2, MAX_BACKOFF)

    def run_maintenance_tasks(self):
        try:
            super().run_maintenance_tasks()
        except REDIS_ERRORS as exc:
            self.log.warning("Worker %s: maintenance skipped, Redis unavailable (%s)", self.name, exc)

    def set_state(self, state, pipeline=None):
        if pipeline is not None:
            return super().set_state(state, pipeline=pipeline)
        return self._redis_retry("setting its state", super().set_state, state)

    def heartbeat(self, timeout=None, pipeline=None):
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline=pipeline)
        self._redis_retry("sending a heartbeat", self._beat, timeout)
        self._revive_scheduler()

    def _beat(self, timeout=None):
        """Heartbeat, and register again if Redis lost the worker's registration (a restart without data)."""
        super().heartbeat(timeout)
        if not self.connection.sismember(self.redis_workers_keys, self.key):
            self.log.warning("Worker %s: registration lost (Redis restarted?); registering again", self.name)
            with self.connection.pipeline() as pipeline:
                pipeline.hset(self.key, mapping=self.serialize())
                worker_registration.register(self, pipeline)
                pipeline.expire(self.key, max(timeout or 0, self.worker_ttl + 60))
                pipeline.execute()

    def _revive_scheduler(self):
        scheduler = getattr(self, "scheduler", None)
        if scheduler is None or time.monotonic() - self._scheduler_checked_at < SCHEDULER_CHECK_SECONDS:
            return
        self._scheduler_checked_at = time.monotonic()
        process = getattr(scheduler, "_process", None)
        if process is not None and process.is_alive():
            return
        try:
            scheduler.acquire_locks(auto_start=True)
        except REDIS_ERRORS as exc:
            self.log.warning("Worker %s: could not restart the scheduler (%s)", self.name, exc)

    def maintain_heartbeats(self, job, execution):
        try:
            super().maintain_heartbeats(job, execution)
        except REDIS_ERRORS as exc:
            self.log.warning("Worker %s: heartbeat skipped, Redis unavailable (%s)", self.name, exc)

    def handle_job_failure(self, *args, **kwargs):
        # rq logs (and drops) a failure it cannot write; wait for Redis first so that it can.
        self._redis_retry("reaching Redis to record a failed job", self.connection.ping)
        return self._redis_retry("recording a failed job", super().handle_job_failure, *args, **kwargs)

    def execute_job(self, job, queue):
        try:
            super().execute_job(job, queue)
        except REDIS_ERRORS as exc:
            # Whatever rq could not record, the outbox sweeper recovers: never let it end the loop.
            self.log.error("Worker %s: job %s bookkeeping lost to a Redis error: %s", self.name, job.id, exc)
            self._redis_retry("reaching Redis after a job", self.connection.ping)

    def set_shutdown_requested_date(self):
        # rq calls this from its SIGTERM handler, in whatever frame the signal interrupted (the
        # job's own code in HotWorker, the horse monitor in Worker): a Redis error raised there
        # would abort the job or abandon the horse. The date is informational only; the warm
        # shutdown goes on (``_stop_requested`` is set) and the next Redis retry stops the worker.
        try:
            super().set_shutdown_requested_date()
        except REDIS_ERRORS as exc:
            self.log.warning("Worker %s: could not record the shutdown request, Redis unavailable (%s)", self.name, exc)

    def teardown(self):
        try:
            super().teardown()
        except REDIS_ERRORS as exc:
            self.log.warning("Worker %s: could not register its death, Redis unavailable (%s)", self.name, exc)

    # --- PostgreSQL: drop dead connections around each job ---------------------------------------

    def perform_job(self, job, queue, execution) -> bool:
        _drop_dead_connections(check=True)
        try:
            return super().perform_job(job, queue, execution)
        finally:
            _drop_dead_connections(check=False)


class HotWorker(ResilientMixin, SimpleWorker):
    """The hot queue's worker: no fork per job (low latency), a heartbeat thread while a job runs.

    It runs the warm-ups once before its first job (so the first lead does not build routing's account
    index; the worker registers itself after them, about a second later at 20,000 accounts) and
    freezes what it then holds for the garbage collector, as the forking worker does before each fork:
    otherwise a full collection walks Django and those caches in the middle of a lead's routing (140
    to 280 ms measured during `bench/routing.py`). Every ``HOT_FULL_COLLECT_EVERY`` jobs, at a moment
    its queues are empty (at the latest after ``HOT_FULL_COLLECT_LATEST`` jobs), it unfreezes, collects
    (70 to 100 ms measured) and freezes again, so a cache a job replaced is freed.
    """

    _jobs_since_full = 0

    def work(self, *args, **kwargs):
        _warm_up(self.log)
        return super().work(*args, **kwargs)

    def _collect_when_idle(self) -> None:
        self._jobs_since_full += 1
        if self._jobs_since_full < HOT_FULL_COLLECT_EVERY:
            return
        if self._jobs_since_full < HOT_FULL_COLLECT_LATEST:
            try:
                if any(queue.count for queue in self.queues):
                    return  # a lead is waiting: after the next job
            except Exception as exc:  # never end the worker for its housekeeping
                self.log.warning("Worker %s: could not count its queues (%s); collecting later", self.name, exc)
                return
        self._jobs_since_full = 0
        gc.unfreeze()
        gc.collect()
        gc.freeze()

    def execute_job(self, job, queue):
        stop = threading.Event()
        ttl = self.get_heartbeat_ttl(job)

        def beat():
            while not stop.wait(HEARTBEAT_SECONDS):
                try:
                    self._beat(ttl)
                    hot_running_mark(self.connection, self.name)
                except REDIS_ERRORS:
                    pass  # the main thread waits for Redis when the job ends

        thread = threading.Thread(target=beat, name=f"heartbeat-{self.name}", daemon=True)
        thread.start()
        self._mark_running(True)  # a bulk chunk holding the pools this job may need gives way
        try:
            super().execute_job(job, queue)
        finally:
            stop.set()
            thread.join(timeout=5)
            self._mark_running(False)
        self._collect_when_idle()

    def _mark_running(self, running: bool) -> None:
        try:
            (hot_running_mark if running else hot_running_clear)(self.connection, self.name)
        except REDIS_ERRORS:
            pass  # the mark is a courtesy to bulk work; it lapses by itself


class Worker(ResilientMixin, ForkingWorker):
    """The default and low queues' worker: one forked work horse per job, as rq's ``Worker``.

    Before each fork the worker runs the registered warm-ups (``revops.plugins.register_worker_warmup``:
    routing's account index, rules and dictionary), closes its database connections and freezes its
    objects for the garbage collector (``_freeze_for_fork``), so every work horse starts with caches a
    job would otherwise rebuild (about a second for the account index of 20,000 accounts), never
    shares a connection with its parent, and never walks the parent's objects.
    """

    def execute_job(self, job, queue):
        _warm_up(self.log)
        return super().execute_job(job, queue)
