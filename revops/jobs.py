"""RQ entry points of the core: jobs take ids, validate nothing themselves and call services.

The engine's jobs (scheduled automations, review reminders) are in ``revops.engine.jobs``;
every periodic job is declared with ``revops.plugins.register_schedule`` (see ``revops.apps``).
"""

import logging

from django.utils import timezone

from .idempotency import idempotency_purge
from .outbox import outbox_process_batch, outbox_process_batch_part, outbox_process_events, outbox_sweep

logger = logging.getLogger(__name__)


def heartbeat() -> str:
    """Proves the scheduler and a worker are alive; visible in the RQ admin and the logs."""
    stamp = timezone.now().isoformat()
    logger.info("scheduler heartbeat %s", stamp)
    return stamp


def process_outbox_batch(batch_id: int) -> int:
    """Run the automations for the pending events of sync batch ``batch_id``; a second run changes nothing."""
    return outbox_process_batch(batch_id=batch_id)


def process_outbox_batch_part(batch_id: int, part: int) -> int:
    """Run the automations for one part of a bulk sync batch (the bulk lane); a second run changes nothing."""
    return outbox_process_batch_part(batch_id=batch_id, part=part)


def process_outbox_events(event_ids: list[int]) -> int:
    """Run the automations for pending events without a batch (hand edits); a second run changes nothing."""
    return outbox_process_events(event_ids=list(event_ids))


def sweep_outbox() -> list:
    """Re-enqueue events still pending after the grace period and flag stuck automation runs."""
    return outbox_sweep()


def purge_idempotency_keys() -> int:
    """Delete stored Idempotency-Key responses older than ``IDEMPOTENCY_KEY_TTL_HOURS``."""
    return idempotency_purge()


def rollup_metrics() -> dict:
    """Recompute the dashboard's daily roll-ups for the days that changed since the last run."""
    from .metrics.rollup import metrics_rollup

    return metrics_rollup()


def logins_follow_reps() -> int:
    """Every minute: turn off the logins of reps the CRM marks inactive (``revops.people``)."""
    from .people import logins_follow_reps as follow

    return follow()
