"""Handoffs evaluated after the sync, on the bulk lane: a sync batch with many deals to evaluate records
them (``PendingEvaluation``) in its transaction and a job on the ``low`` lane, enqueued on commit,
evaluates them a moment later.

A small batch (at most ``HANDOFFS_INLINE_MAX`` deals to evaluate, default 100: the CRM's everyday
trickle) is still evaluated in the sync's own transaction, so its handoff is there when the sync
answers; a bulk batch of Won deals costs the sync one insert, about what any other batch costs.

Exactly once: the job locks its row, evaluates, and deletes the row in one transaction, so a job run
twice (RQ's retry, the sweeper's second job) finds nothing the second time; the evaluation locks its
deals in id order like the sync does, so it never runs beside a sync or another evaluation of the same
deal. A row left behind by a lost job (Redis down at the commit, a worker killed) is enqueued again by
``handoffs_pending_sweep`` (every minute) once ``HANDOFFS_PENDING_RETRY_SECONDS`` (default 300) have
passed since it was last enqueued.
"""

from __future__ import annotations

import datetime as dt
import logging

import django_rq
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rq import Retry

from .models import PendingEvaluation
from .services import handoffs_evaluate

logger = logging.getLogger(__name__)

LANE = "low"
JOB = "handoffs.jobs.handoffs_evaluate_pending"


def inline_max() -> int:
    """How many deals a sync batch may evaluate in its own transaction; more go to the bulk lane."""
    return int(getattr(settings, "HANDOFFS_INLINE_MAX", 100))


def retry_seconds() -> int:
    return int(getattr(settings, "HANDOFFS_PENDING_RETRY_SECONDS", 300))


def _enqueue(pending_id: int) -> bool:
    """Put the evaluation of ``pending_id`` on the bulk lane; False (logged) when Redis fails: the row
    stays and the sweeper enqueues it later."""
    try:
        # commit_mode="auto": we already run after commit (or outside any transaction).
        django_rq.get_queue(LANE, commit_mode="auto").enqueue(
            JOB, pending_id, retry=Retry(max=3, interval=[5, 30, 120]), description=f"handoffs of {pending_id}"
        )
    except Exception:
        logger.exception("could not enqueue the handoff evaluation %s; the sweeper will retry", pending_id)
        return False
    return True


def handoffs_evaluate_later(*, opportunity_ids, actor=None, cause: str, batch=None) -> PendingEvaluation:
    """Record the deals whose handoffs to evaluate on the bulk lane; the job is enqueued on commit."""
    pending = PendingEvaluation.objects.create(
        opportunity_ids=list(opportunity_ids), actor=actor, cause=cause[:100], batch=batch
    )
    transaction.on_commit(lambda: _enqueue(pending.pk))
    return pending


def handoffs_evaluate_pending(*, pending_id: int) -> dict:
    """Evaluate a recorded batch's handoffs (refreshing their waiting items, as a re-sync does) and drop
    the record, in one transaction; ``{"evaluated": 0}`` when an earlier run already did it."""
    with transaction.atomic():
        pending = (
            PendingEvaluation.objects.select_for_update(of=("self",))
            .select_related("actor")
            .filter(pk=pending_id)
            .first()
        )
        if pending is None:
            return {"evaluated": 0}
        counts = handoffs_evaluate(
            opportunity_ids=pending.opportunity_ids, actor=pending.actor, cause=pending.cause, refresh=True
        )
        pending.delete()
    counts["covered"] = len(counts["covered"])
    return {"evaluated": len(pending.opportunity_ids), **counts}


def handoffs_pending_sweep(*, now: dt.datetime | None = None) -> list[int]:
    """Enqueue again the recorded evaluations whose job was enqueued more than
    ``HANDOFFS_PENDING_RETRY_SECONDS`` ago and has not consumed them; return their ids."""
    now = now or timezone.now()
    stale = list(
        PendingEvaluation.objects.filter(enqueued_at__lte=now - dt.timedelta(seconds=retry_seconds())).values_list(
            "pk", flat=True
        )
    )
    for pending_id in stale:
        PendingEvaluation.objects.filter(pk=pending_id).update(enqueued_at=now)
        _enqueue(pending_id)
    if stale:
        logger.warning("handoff evaluations re-enqueued: %s", stale[:20])
    return stale
