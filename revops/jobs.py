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
    """Consume the outbox events of sync batch ``batch_id``; a second run changes nothing."""
    from .outbox import outbox_process_batch

    return outbox_process_batch(batch_id=batch_id)


def sweep_outbox() -> list[int]:
    """Re-enqueue sync batches whose events are still pending after the grace period."""
    from .outbox import outbox_sweep

    return outbox_sweep()


def purge_idempotency_keys() -> int:
    """Delete stored Idempotency-Key responses older than ``IDEMPOTENCY_KEY_TTL_HOURS``."""
    from .idempotency import idempotency_purge

    return idempotency_purge()
