"""Outbox services: hand events to a worker after commit, hand them to the consumer, sweep leftovers.

Events are written in the same transaction as the change they describe (``revops.sync`` for CRM
batches, ``revops.services.record_save`` for hand edits). The job that processes them is enqueued
after commit on the hot queue with bounded retries; if Redis is down at that moment, or a worker
dies mid-job, the events simply stay ``pending`` and ``outbox_sweep`` re-enqueues them after a
grace period. The sweeper tells a slow job from a dead one: a job still started by a worker
that beats (``revops.heartbeats``) within the job's own timeout is left alone; re-enqueued work
goes to the front of the queue, ahead of the backlog that arrived meanwhile. A job that fails
records the attempt and its error on its events, on a fresh connection if the old one died.
Consuming goes through the consumer registered with ``outbox_consumer_register``
— the automation engine (``revops.engine.setup``), whose runs are unique per (automation
version, event) and whose effects commit with the run, so a job that runs twice changes nothing
the second time. The core never imports the engine; it calls what was registered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import django_rq
import redis.exceptions
from django.conf import settings
from django.db import DatabaseError
from django.db import connection as db_connection
from django.db.models import F
from django.utils import timezone
from rq import Retry
from rq.exceptions import NoSuchJobError
from rq.executions import WORKER_EXECUTIONS_KEY_TEMPLATE
from rq.job import Job, JobStatus
from rq.utils import as_text

from .heartbeats import HEARTBEAT_SECONDS, worker_state
from .models import OutboxEvent

logger = logging.getLogger(__name__)

QUEUE = "hot"
BULK_QUEUE = "low"  # after "default" in the worker's order: SLA ticks and sweeps go between bulk parts
SWEEP_LOCK = "revops:outbox-sweep"
EVENTS_PER_JOB = 500
# Recording a failed job on its events: at once, then on a new connection while the database restarts.
FAILURE_RECORD_WAITS = (0.0, 0.5, 1.5)
_WAITING = {JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED}
# The job functions, by name: ``revops.jobs`` calls back into this module.
BATCH_JOB = "revops.jobs.process_outbox_batch"
BATCH_PART_JOB = "revops.jobs.process_outbox_batch_part"
EVENTS_JOB = "revops.jobs.process_outbox_events"


@dataclass(frozen=True)
class OutboxConsumer:
    """Who consumes outbox events. ``process(event_ids) -> {status: count}`` runs them (raising to have
    the job retried); ``flag_stuck(minutes) -> event ids`` gives back the events of work a dead worker
    left behind, for the sweeper to re-enqueue."""

    process: Callable[[list[int]], dict]
    flag_stuck: Callable[[float], list[int]]


_CONSUMER: list[OutboxConsumer] = []


def outbox_consumer_register(consumer: OutboxConsumer) -> None:
    """Set the consumer of outbox events (one: the automation engine)."""
    _CONSUMER[:] = [consumer]


def _consumer() -> OutboxConsumer:
    if not _CONSUMER:
        raise RuntimeError("no outbox consumer is registered (revops.apps registers the engine)")
    return _CONSUMER[0]


def grace_seconds() -> int:
    return int(getattr(settings, "OUTBOX_GRACE_SECONDS", 60))


def job_timeout() -> int:
    """Seconds an outbox job may run (a 1,000-record batch routes every lead in one job)."""
    return int(getattr(settings, "OUTBOX_JOB_TIMEOUT", 1800))


def stuck_minutes() -> float:
    return float(getattr(settings, "ENGINE_STUCK_MINUTES", 5))


def retry_policy() -> Retry:
    """Three retries with backoff (seconds from ``ENGINE_RETRY_INTERVALS``, default 5, 30, 120)."""
    return Retry(max=3, interval=list(getattr(settings, "ENGINE_RETRY_INTERVALS", [5, 30, 120])))


def _job_id(batch_id: int) -> str:
    return f"outbox-batch-{batch_id}"


def _part_job_id(batch_id: int, part: int) -> str:
    return f"outbox-batch-{batch_id}-part-{part}"


def hot_objects() -> tuple[str, ...]:
    """Object types whose events a person waits for (a new lead's routing, an SLA touch)."""
    return tuple(getattr(settings, "OUTBOX_HOT_OBJECTS", ("lead", "activity")))


def hot_max_events() -> int:
    """A batch with more events than this is bulk work (an import, a backfill), whatever its object."""
    return int(getattr(settings, "OUTBOX_HOT_MAX_EVENTS", 100))


def bulk_events_per_job() -> int:
    """Events per job in the bulk lane: about a second of work, so no job holds the lane long."""
    return max(1, int(getattr(settings, "OUTBOX_BULK_EVENTS_PER_JOB", 600)))


def hot_lane_waiting() -> int:
    """How many jobs wait on the hot lane (0 when Redis cannot say): bulk work yields while any do."""
    try:
        return django_rq.get_queue(QUEUE).count
    except Exception:  # Redis unreachable: never hold bulk work back for it
        return 0


# Hot workers running a job: a sorted set of worker names, each scored by when its mark lapses. A hot
# worker marks itself when it starts a job and on each heartbeat meanwhile, and clears the mark when
# the job ends; a killed worker's mark lapses within HOT_RUNNING_LAPSE seconds.
HOT_RUNNING_KEY = "revops:hot:running"
HOT_RUNNING_LAPSE = 3 * HEARTBEAT_SECONDS
_clients: dict[str, redis.Redis] = {}


def hot_running_mark(connection, worker: str) -> None:
    """``worker`` (a hot worker's name) runs a job, until ``HOT_RUNNING_LAPSE`` from now."""
    connection.zadd(HOT_RUNNING_KEY, {worker: time.time() + HOT_RUNNING_LAPSE})


def hot_running_clear(connection, worker: str) -> None:
    """``worker``'s job ended."""
    connection.zrem(HOT_RUNNING_KEY, worker)


def _question_client() -> redis.Redis:
    """One client per process for ``hot_lane_running``, with short timeouts: a bulk chunk asks it while
    holding pools' locks, so a Redis that stops answering must not hold them long."""
    url = settings.RQ_QUEUES[QUEUE]["URL"]
    client = _clients.get(url)
    if client is None:
        client = _clients[url] = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return client


def hot_lane_running() -> bool:
    """Whether a hot worker runs a job now (False when Redis cannot say). The job may be waiting for a
    lock a bulk chunk holds (a pool), so the chunk commits what it has done when this turns true
    (``revops.engine.batch.ChunkBudget``). Jobs that only queue there wait for a hot worker, not for
    the chunk: bulk work waits for them before its next chunk (``yield_to_hot_lane``)."""
    try:
        return bool(_question_client().zcount(HOT_RUNNING_KEY, time.time(), "+inf"))
    except Exception:  # Redis unreachable or slow: never hold bulk work back for it
        return False


def batch_lane(object_type: str, events: int) -> str:
    """The queue of a sync batch's events: ``hot`` for a small batch of leads or activities (a
    person is waiting), the bulk lane for everything else (nightly opportunity syncs, account
    and contact updates, any batch of more than ``OUTBOX_HOT_MAX_EVENTS`` events)."""
    if object_type in hot_objects() and events <= hot_max_events():
        return QUEUE
    return BULK_QUEUE


def _batch_event_ids(batch_id: int) -> list[int]:
    """Every event of the batch in order (processed ones too): the parts are slices of this list."""
    return list(OutboxEvent.objects.filter(batch_id=batch_id).order_by("pk").values_list("pk", flat=True))


def _batch_lane_of(batch_id: int) -> tuple[str, list[int]]:
    from .models import SyncBatch

    object_type = SyncBatch.objects.filter(pk=batch_id).values_list("object_type", flat=True).first() or ""
    ids = _batch_event_ids(batch_id)
    return batch_lane(object_type, len(ids)), ids


def _batch_job_ids(batch_id: int) -> list[str]:
    """The ids of the jobs that may hold the batch's events: the hot job and every bulk part."""
    parts = -(-OutboxEvent.objects.filter(batch_id=batch_id).count() // bulk_events_per_job())
    return [_job_id(batch_id), *(_part_job_id(batch_id, part) for part in range(parts))]


def _events_job_id(event_ids) -> str:
    return f"outbox-events-{min(event_ids)}-{max(event_ids)}-{len(event_ids)}"


def _enqueue(func, *args, job_id: str, at_front: bool = False, queue: str = QUEUE) -> bool:
    try:
        # commit_mode="auto": we already run after commit; django-rq must not defer again.
        django_rq.get_queue(queue, commit_mode="auto").enqueue(
            func, *args, job_id=job_id, retry=retry_policy(), job_timeout=job_timeout(), at_front=at_front
        )
    except Exception:
        logger.exception("could not enqueue %s; the sweeper will retry", job_id)
        return False
    return True


def outbox_enqueue_batch(
    *, batch_id: int, at_front: bool = False, object_type: str | None = None, events: int | None = None
) -> bool:
    """Enqueue the work of sync batch ``batch_id`` in its lane (``batch_lane``); False (logged) if
    Redis fails.

    A hot batch is one job, ``process_outbox_batch(batch_id)``. A bulk batch is split into parts
    of ``OUTBOX_BULK_EVENTS_PER_JOB`` events, one ``process_outbox_batch_part(batch_id, part)``
    job each on the bulk lane. The sync passes the batch's ``object_type`` and its number of
    ``events`` (all pending: it just committed them), so enqueueing reads nothing; without them
    (the sweeper) the batch is read and only the parts with pending events are enqueued.
    Called from ``transaction.on_commit``: failing here must not turn a committed sync into an
    error for the CRM, and the sweeper picks the batch up later (``at_front``: recovered work
    keeps its place ahead of newer batches).
    """
    size = bulk_events_per_job()
    if object_type is not None and events is not None:
        lane, parts = batch_lane(object_type, events), range(-(-events // size))
    else:
        try:
            lane, ids = _batch_lane_of(batch_id)
            pending = set(
                OutboxEvent.objects.filter(batch_id=batch_id, status=OutboxEvent.Status.PENDING).values_list(
                    "pk", flat=True
                )
            )
        except DatabaseError:
            logger.exception("could not read batch %s to enqueue it; the sweeper will retry", batch_id)
            return False
        parts = [
            p for p, start in enumerate(range(0, len(ids), size)) if pending.intersection(ids[start : start + size])
        ]
    if lane == QUEUE:
        return _enqueue(BATCH_JOB, batch_id, job_id=_job_id(batch_id), at_front=at_front)
    ok = True
    for part in parts:
        ok &= _enqueue(
            BATCH_PART_JOB, batch_id, part, job_id=_part_job_id(batch_id, part), at_front=at_front, queue=lane
        )
    return ok


def outbox_enqueue_events(*, event_ids: list[int], at_front: bool = False) -> bool:
    """Enqueue ``process_outbox_events(event_ids)`` (events without a sync batch, e.g. admin edits)."""
    event_ids = sorted(event_ids)
    return _enqueue(EVENTS_JOB, event_ids, job_id=_events_job_id(event_ids), at_front=at_front)


def outbox_process_batch(*, batch_id: int) -> int:
    """Run the automations for the batch's pending events; return how many events this call consumed."""
    ids = list(
        OutboxEvent.objects.filter(batch_id=batch_id, status=OutboxEvent.Status.PENDING).values_list("pk", flat=True)
    )
    return outbox_process_events(event_ids=ids)


def outbox_process_batch_part(*, batch_id: int, part: int) -> int:
    """Run the automations for the pending events of one part of a bulk batch (its ``part``-th
    slice of ``OUTBOX_BULK_EVENTS_PER_JOB`` events in order); return how many were consumed."""
    size = bulk_events_per_job()
    ids = _batch_event_ids(batch_id)[part * size : (part + 1) * size]
    pending = OutboxEvent.objects.filter(pk__in=ids, status=OutboxEvent.Status.PENDING)
    return outbox_process_events(event_ids=list(pending.order_by("pk").values_list("pk", flat=True)))


def outbox_process_events(*, event_ids: list[int]) -> int:
    """Run the automations for these pending events; return how many this call consumed.

    The consumer raises when some run failed and should be retried (RQ retries the job). When
    the whole call fails (the database went away, say), the events still pending get the attempt
    counted and the error in ``last_error`` before the exception goes on to RQ.
    """
    if not event_ids:
        return 0
    before = None
    try:
        before = dict(
            OutboxEvent.objects.filter(pk__in=event_ids, status=OutboxEvent.Status.PENDING).values_list(
                "pk", "attempts"
            )
        )
        counts = _consumer().process(event_ids)
    except Exception as exc:
        _record_failure(event_ids, before, exc)
        raise
    return sum(count for status, count in counts.items() if status != "retry")


def _record_failure(event_ids: list[int], before: dict | None, exc: Exception) -> None:
    """Count the attempt (unless the consumer did) and store the error on the events still pending."""
    error = f"{type(exc).__name__}: {exc}".strip()[:2000]
    for attempt, wait in enumerate(FAILURE_RECORD_WAITS, start=1):
        time.sleep(wait)
        try:
            pending = OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING)
            if before is None:  # failed before reading them: the consumer cannot have counted
                pending.filter(pk__in=event_ids).update(attempts=F("attempts") + 1)
            else:
                by_attempts: dict[int, list[int]] = {}
                for pk, attempts in before.items():
                    by_attempts.setdefault(attempts, []).append(pk)
                for attempts, pks in by_attempts.items():
                    pending.filter(pk__in=pks, attempts=attempts).update(attempts=attempts + 1)
            pending.filter(pk__in=event_ids).update(last_error=error)
            return
        except DatabaseError:
            if attempt == len(FAILURE_RECORD_WAITS) or db_connection.in_atomic_block:
                logger.warning("could not record the failure of outbox events %s: %s", event_ids[:20], error)
                return
            db_connection.close()  # a connection that died with the server: reconnect


def _running(connection, job: Job) -> bool:
    """Whether a started job is still being worked on: its worker beats, still lists the job among
    its executions, and the job's own timeout has not passed.

    A worker killed with SIGKILL (or a machine that died) leaves its job "started" until RQ's
    own cleanup notices; a slow job's worker keeps beating. A live worker that lost a job's
    bookkeeping to a Redis error (revops.worker) has moved on to other work: the job is no
    longer among its executions. Running a dead job again is safe because runs are exactly-once.
    """
    if job.started_at is not None and job.timeout and job.timeout > 0:
        if (timezone.now() - job.started_at).total_seconds() > job.timeout + 60:
            return False
    if not job.worker_name:
        return False
    state = worker_state(connection, job.worker_name)
    if state is None or not state.alive:
        return False
    executions = connection.smembers(WORKER_EXECUTIONS_KEY_TEMPLATE.format(job.worker_name))
    return any(as_text(member).startswith(f"{job.id}:") for member in executions)


def _live(connection, job_id: str) -> bool:
    """Whether the job is waiting in Redis, or started by a live worker within its timeout.

    A Redis error means "unknown": the job counts as live and the next sweep looks again, so a
    job a worker is running is never enqueued (and run) a second time because of a blip.
    """
    try:
        job = Job.fetch(job_id, connection=connection)
        status = job.get_status(refresh=False)
        if status in _WAITING:
            return True
        return status == JobStatus.STARTED and _running(connection, job)
    except NoSuchJobError:
        return False
    except redis.exceptions.RedisError as exc:
        logger.warning("outbox sweep: could not check job %s (%s); skipping it this round", job_id, exc)
        return True
    except Exception:  # a job Redis holds but rq cannot read: enqueueing again replaces it
        logger.exception("outbox sweep: job %s is unreadable; enqueueing it again", job_id)
        return False


def outbox_sweep(*, grace: int | None = None, stuck_after_minutes: float | None = None) -> list:
    """Re-enqueue events still pending after ``grace`` seconds and flag stuck runs; return what was enqueued.

    Batches come back as their ids, events without a batch as lists of event ids. Runs left
    ``pending`` for ``stuck_after_minutes`` that no worker holds are marked ``error`` ("stuck:
    worker died?") and their events re-enqueued. A Redis lock keeps two sweepers (two schedulers,
    or a slow run overlapping the next) from colliding; a job still queued, or started by a live
    worker within its timeout, is skipped (for a bulk batch: while any of its parts is). Re-enqueued
    jobs go to the front of their lane.
    """
    grace = grace_seconds() if grace is None else grace
    connection = django_rq.get_connection(QUEUE)
    lock = connection.lock(SWEEP_LOCK, timeout=300, blocking=False)
    if not lock.acquire():
        logger.info("outbox sweep skipped: another sweeper holds the lock")
        return []
    try:
        stuck_events = _consumer().flag_stuck(stuck_minutes() if stuck_after_minutes is None else stuck_after_minutes)
        now = timezone.now()
        cutoff = now - timedelta(seconds=grace)
        pending = OutboxEvent.objects.filter(status=OutboxEvent.Status.PENDING, created_at__lte=cutoff)
        batch_ids = sorted(
            set(pending.filter(batch__isnull=False).values_list("batch_id", flat=True))
            | set(
                OutboxEvent.objects.filter(pk__in=stuck_events, batch__isnull=False).values_list("batch_id", flat=True)
            )
        )
        enqueued: list = []
        for batch_id in batch_ids:
            if any(_live(connection, job_id) for job_id in _batch_job_ids(batch_id)):
                continue
            if outbox_enqueue_batch(batch_id=batch_id, at_front=True):
                enqueued.append(batch_id)
        loose = sorted(
            set(pending.filter(batch__isnull=True).values_list("pk", flat=True))
            | set(
                OutboxEvent.objects.filter(
                    pk__in=stuck_events, batch__isnull=True, status=OutboxEvent.Status.PENDING
                ).values_list("pk", flat=True)
            )
        )
        for start in range(0, len(loose), EVENTS_PER_JOB):
            chunk = loose[start : start + EVENTS_PER_JOB]
            if _live(connection, _events_job_id(chunk)):
                continue
            if outbox_enqueue_events(event_ids=chunk, at_front=True):
                enqueued.append(chunk)
        if enqueued:
            logger.warning("outbox sweep re-enqueued %d job(s): %s", len(enqueued), enqueued[:20])
        return enqueued
    finally:
        try:
            lock.release()
        except Exception:  # expired meanwhile: nothing to release
            pass
