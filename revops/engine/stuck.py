"""Runs a dead worker left behind: found by the outbox sweeper through the engine's consumer."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from revops.models import AutomationRun

from .pipeline import MAX_ATTEMPTS, automation_failure_open

logger = logging.getLogger(__name__)


def engine_flag_stuck_runs(*, minutes: float) -> list[int]:
    """Mark runs pending for ``minutes`` that no worker is processing as errors; return their pending events.

    A worker holds its run's row lock for the whole evaluation, so ``SKIP LOCKED`` passes over
    runs in progress: what this finds was left behind by a worker that died (or lost Redis).
    """
    cutoff = timezone.now() - timedelta(minutes=minutes)
    events = []
    with transaction.atomic():
        runs = list(
            AutomationRun.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(outcome=AutomationRun.Outcome.PENDING, created_at__lte=cutoff)
            .select_related("automation", "version")
            .order_by("pk")[:1000]
        )
        for run in runs:
            run.outcome = AutomationRun.Outcome.ERROR
            run.attempts += 1
            run.error = "stuck: worker died? The run was left pending; its event was re-enqueued."
            run.finished_at = timezone.now()
            run.save(update_fields=["outcome", "attempts", "error", "finished_at"])
            if run.attempts >= MAX_ATTEMPTS:
                automation_failure_open(run=run, automation=run.automation, error=run.error)
            elif run.event_id:
                events.append(run.event_id)
    if runs:
        logger.warning("flagged %d stuck automation run(s)", len(runs))
    return events
