"""Outbox services: hand a sync batch's events to a worker after commit, consume them, sweep leftovers.

Events are written in the same transaction as the change they describe (see ``revops.sync``).
The job that processes them is enqueued after commit; if Redis is down at that moment, or a
worker dies mid-job, the events simply stay ``pending`` and ``outbox_sweep`` re-enqueues them
after a grace period. Consuming is a compare-and-swap (``pending`` → ``processed``), so a job
that runs twice changes nothing the second time.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import django_rq
from django.conf import settings
from django.db.models import F
from django.utils import timezone
from rq.job import Job, JobStatus

from .models import OutboxEvent

logger = logging.getLogger(__name__)

QUEUE = "hot"
SWEEP_LOCK = "revops:outbox-sweep"
_LIVE = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


def grace_seconds() -> int:
    return int(getattr(settings, "OUTBOX_GRACE_SECONDS", 60))


def _job_id(batch_id: int) -> str:
    return f"outbox-batch-{batch_id}"


def outbox_enqueue_batch(*, batch_id: int) -> bool:
    """Enqueue ``process_outbox_batch(batch_id)`` on the hot queue; False (logged) if Redis fails.

    Called from ``transaction.on_commit``: failing here must not turn a committed sync into an
    error for the CRM, and the sweeper picks the batch up later.
    """
    from . import jobs

    try:
        # commit_mode="auto": we already run after commit; django-rq must not defer again.
        django_rq.get_queue(QUEUE, commit_mode="auto").enqueue(
            jobs.process_outbox_batch, batch_id, job_id=_job_id(batch_id)
        )
    except Exception:
        logger.exception("could not enqueue outbox batch %s; the sweeper will retry", batch_id)
        return False
    return True


def outbox_process_batch(*, batch_id: int) -> int:
    """Consume the batch's pending events; return how many this call processed.

    Until the automation engine exists, consuming means marking them processed. The status
    filter makes this a compare-and-swap: a concurrent or repeated run updates nothing.
    """
    return OutboxEvent.objects.filter(batch_id=batch_id, status=OutboxEvent.Status.PENDING).update(
        status=OutboxEvent.Status.PROCESSED, processed_at=timezone.now(), attempts=F("attempts") + 1
    )


def outbox_sweep(*, grace: int | None = None) -> list[int]:
    """Re-enqueue batches whose events are still pending after ``grace`` seconds; return their ids.

    A Redis lock keeps two sweepers (two schedulers, or a slow run overlapping the next) from
    enqueuing the same batches twice; a batch whose job is still queued or running is skipped.
    """
    grace = grace_seconds() if grace is None else grace
    connection = django_rq.get_connection(QUEUE)
    lock = connection.lock(SWEEP_LOCK, timeout=300, blocking=False)
    if not lock.acquire():
        logger.info("outbox sweep skipped: another sweeper holds the lock")
        return []
    try:
        cutoff = timezone.now() - timedelta(seconds=grace)
        batch_ids = sorted(
            set(
                OutboxEvent.objects.filter(
                    status=OutboxEvent.Status.PENDING, created_at__lt=cutoff, batch__isnull=False
                ).values_list("batch_id", flat=True)
            )
        )
        enqueued = []
        for batch_id in batch_ids:
            try:
                job = Job.fetch(_job_id(batch_id), connection=connection)
            except Exception:
                job = None
            if job is not None and job.get_status(refresh=False) in _LIVE:
                continue
            if outbox_enqueue_batch(batch_id=batch_id):
                enqueued.append(batch_id)
        if enqueued:
            logger.warning("outbox sweep re-enqueued %d batch(es): %s", len(enqueued), enqueued[:20])
        return enqueued
    finally:
        try:
            lock.release()
        except Exception:  # expired meanwhile: nothing to release
            pass
