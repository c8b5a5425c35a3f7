"""RQ entry points of the core app. Jobs take ids, validate nothing themselves and call services."""

import logging

from django.utils import timezone

logger = logging.getLogger(__name__)


def heartbeat() -> str:
    """Proves the scheduler and a worker are alive; visible in the RQ admin and the logs."""
    stamp = timezone.now().isoformat()
    logger.info("scheduler heartbeat %s", stamp)
    return stamp


def process_outbox_batch(batch_id: int) -> int:
    """Run the automations for the pending events of sync batch ``batch_id``; a second run changes nothing."""
    from .outbox import outbox_process_batch

    return outbox_process_batch(batch_id=batch_id)


def process_outbox_events(event_ids: list[int]) -> int:
    """Run the automations for pending events without a batch (hand edits); a second run changes nothing."""
    from .outbox import outbox_process_events

    return outbox_process_events(event_ids=list(event_ids))


def sweep_outbox() -> list:
    """Re-enqueue events still pending after the grace period and flag stuck automation runs."""
    from .outbox import outbox_sweep

    return outbox_sweep()


def run_scheduled_automations() -> dict:
    """Evaluate the scheduled automations whose period has a slot not yet done."""
    from .engine.schedule import run_scheduled_automations as run

    return run()


def open_review_overdue() -> int:
    """Open a review_overdue exception item for automations past their review date."""
    from .engine.schedule import automation_review_overdue_open

    return automation_review_overdue_open()


def purge_idempotency_keys() -> int:
    """Delete stored Idempotency-Key responses older than ``IDEMPOTENCY_KEY_TTL_HOURS``."""
    from .idempotency import idempotency_purge

    return idempotency_purge()
